"""Who may call the API, and how much: bearer API keys (keys.py) and per-key rate limits (rate_limit.py).
Framework-free; the Flask hooks that apply them are api/access_hooks.py."""
