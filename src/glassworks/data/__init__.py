"""Loaders, one module per source, each returning polars frames with a documented schema."""

from glassworks.data.prepare import load_source, prepare_dataset, read_prepared, write_prepared
from glassworks.data.schema import Loaded, PreparedDataset

__all__ = [
    "Loaded",
    "PreparedDataset",
    "load_source",
    "prepare_dataset",
    "read_prepared",
    "write_prepared",
]
