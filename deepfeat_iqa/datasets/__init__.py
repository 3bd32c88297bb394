"""Image-quality databases as one record type (:class:`Dataset`) and their loaders."""

from ._dataset import IMAGE_SUFFIXES, SIDE_TABLES, Dataset, Record, Scale

__all__ = ["Dataset", "Record", "Scale", "IMAGE_SUFFIXES", "SIDE_TABLES"]
