"""The single declaration of every akhbar dataset: columns, Arrow types, nullability, descriptions."""

from schemas.datasets import (
    ALL_DATASETS,
    ARTICLES,
    DOCUMENTS,
    QUARANTINE,
    RUNS,
    SEGMENTS,
    Column,
    DatasetSchema,
    SchemaViolation,
    dataset_by_name,
)

__all__ = [
    "ALL_DATASETS",
    "ARTICLES",
    "DOCUMENTS",
    "QUARANTINE",
    "RUNS",
    "SEGMENTS",
    "Column",
    "DatasetSchema",
    "SchemaViolation",
    "dataset_by_name",
]
