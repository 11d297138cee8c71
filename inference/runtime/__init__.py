"""The process model: gunicorn master and workers, admission in front of the request threads, readiness across
workers, worker planning. The only layer that knows gunicorn; it never imports torch in the master."""
