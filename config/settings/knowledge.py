"""Knowledge bases: storage, ingestion limits, embeddings, search (the knowledge issue owns this module)."""
