from __future__ import annotations

import factory
from factory.django import DjangoModelFactory

from accounts.tests.factories import TeamFactory
from knowledge.embeddings import DEFAULT_EMBEDDING_DIMENSION, DEFAULT_EMBEDDING_MODEL
from knowledge.models import Collection


class CollectionFactory(DjangoModelFactory[Collection]):
    class Meta:
        model = Collection

    team = factory.SubFactory(TeamFactory)
    name = factory.Sequence(lambda n: f"Collection {n}")
    embedding_model = DEFAULT_EMBEDDING_MODEL
    embedding_dimension = DEFAULT_EMBEDDING_DIMENSION
