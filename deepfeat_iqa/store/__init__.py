"""The zarr v3 feature store (layout and concurrency rules: :mod:`deepfeat_iqa.store._zarr`, ``docs/store.md``).

``verify``/``repair``/``info`` check every chunk's checksum, reset damaged rows, and list the arrays.
"""

from deepfeat_iqa.store._damage import Damage
from deepfeat_iqa.store._verify import ArrayReport, StoreReport, info, repair, verify
from deepfeat_iqa.store._zarr import (
    CHUNK_BYTES,
    CHUNK_CODECS,
    FLOAT16_ABOVE_DIM,
    MAX_CHUNK_ROWS,
    MIN_BLOCKS,
    MIN_CHUNK_ROWS,
    ArraySpec,
    FeatureArray,
    FeatureStore,
    chunk_rows_for,
    dataset_key,
    default_store_url,
    file_stats,
    storage_dtype,
)

__all__ = [
    "CHUNK_BYTES",
    "CHUNK_CODECS",
    "ArrayReport",
    "Damage",
    "StoreReport",
    "info",
    "repair",
    "verify",
    "FLOAT16_ABOVE_DIM",
    "MAX_CHUNK_ROWS",
    "MIN_BLOCKS",
    "MIN_CHUNK_ROWS",
    "ArraySpec",
    "FeatureArray",
    "FeatureStore",
    "chunk_rows_for",
    "dataset_key",
    "default_store_url",
    "file_stats",
    "storage_dtype",
]
