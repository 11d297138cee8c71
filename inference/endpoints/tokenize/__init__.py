"""The tokenizer slice: TEI's ``/tokenize`` and ``/decode``, Jina's Segmenter (``/v1/segment``); no model work."""
