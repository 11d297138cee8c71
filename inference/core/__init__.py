"""What every endpoint kind shares: value types, the handler protocol, the model engine and its batcher.

Framework-free: no Flask, no gunicorn, no torch.
"""
