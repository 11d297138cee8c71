"""Embedding inference service: Jina/OpenAI-compatible embeddings for SageMaker, Azure ML and local Docker."""

__version__ = "0.1.0"
