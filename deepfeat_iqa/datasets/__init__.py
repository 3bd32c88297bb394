"""Image-quality databases as one record type (:class:`Dataset`) and their loaders."""

from ._dataset import IMAGE_SUFFIXES, SIDE_TABLES, Dataset, Record, Scale
from ._registry import list_datasets, load, register_dataset

# Each loader module registers itself on import; they are imported here, explicitly, on purpose.
from ._csiq import load_csiq
from ._folder import load_folder
from ._kadid import load_kadid10k
from ._koniq import load_koniq10k
from ._live import load_live
from ._livec import load_livec
from ._scpqd import load_scpqd2020
from ._spaq import load_spaq
from ._synth import load_synth
from ._tid import load_tid2008, load_tid2013
from ._checks import UnlistedImagesWarning

__all__ = [
    "Dataset",
    "Record",
    "Scale",
    "IMAGE_SUFFIXES",
    "SIDE_TABLES",
    "load",
    "list_datasets",
    "register_dataset",
    "load_folder",
    "load_live",
    "load_csiq",
    "load_tid2008",
    "load_tid2013",
    "load_kadid10k",
    "load_livec",
    "load_koniq10k",
    "load_spaq",
    "load_scpqd2020",
    "load_synth",
    "UnlistedImagesWarning",
]
