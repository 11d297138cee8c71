"""Endpoint kinds as vertical slices: each owns its wire schema, its service call and its response encoding,
and shares only ``core`` (engine, batcher, handler protocol) and ``errors`` with the others."""
