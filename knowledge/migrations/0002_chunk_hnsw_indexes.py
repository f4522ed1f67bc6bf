"""HNSW indexes on chunk embeddings, one per embedding dimension (decision 0012).

The column has no fixed dimension, so each index is on a cast to vector(N) and covers only
rows of that dimension; knowledge.search writes its ORDER BY with the same cast.
"""

from django.db import migrations

DIMENSIONS = (384, 768, 1024, 1536)


def _create(dimension: int) -> str:
    return (
        f"CREATE INDEX IF NOT EXISTS chunk_embedding_{dimension}_hnsw ON knowledge_chunk "
        f"USING hnsw ((embedding::vector({dimension})) vector_cosine_ops) "
        f"WITH (m = 16, ef_construction = 64) WHERE dimension = {dimension}"
    )


class Migration(migrations.Migration):
    dependencies = [("knowledge", "0001_initial")]

    operations = [
        migrations.RunSQL(
            sql=_create(dimension),
            reverse_sql=f"DROP INDEX IF EXISTS chunk_embedding_{dimension}_hnsw",
        )
        for dimension in DIMENSIONS
    ]
