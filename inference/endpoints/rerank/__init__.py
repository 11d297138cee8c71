"""The rerank slice: Jina/Cohere ``/v1/rerank``, TEI ``/rerank``, and rerank bodies on ``/invocations``."""
