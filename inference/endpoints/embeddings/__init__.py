"""The embeddings slice: OpenAI/Jina embeddings requests, Batch Transform records, and their responses."""
