"""The sparse slice: a SPLADE model's sparse vectors (TEI's ``/embed_sparse``)."""
