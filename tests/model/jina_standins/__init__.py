"""Tiny self-written stand-ins for Jina AI's model code, with the interface Jina publishes (class names, config
fields, method names and keyword arguments) and none of its code. ``tests/tiny_models.py`` saves them as
remote-code model folders: these files are copied in and named by ``auto_map``, so loading goes through
transformers' own remote-code path. What each one mirrors, and from which published file: README "Jina model
families" and the module docstrings."""
