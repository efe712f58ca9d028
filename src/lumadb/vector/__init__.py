"""Vector indexes: FAISS per shard per vector field, kept from the change feed."""
