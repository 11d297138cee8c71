"""A remote-code cross-encoder stand-in shaped like jina-reranker-v2's (its own config and sequence-classification
classes named by ``auto_map``): copied into a model folder by tests/tiny_rerankers.py."""
