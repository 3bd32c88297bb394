"""Image-quality databases as one record type (:class:`Dataset`) and their loaders."""

from deepfeat_iqa._moved import moved_names_of
from deepfeat_iqa.datasets._dataset import IMAGE_SUFFIXES, SIDE_TABLES, Dataset, Record, Scale
from deepfeat_iqa.datasets._registry import list_datasets, load, register_dataset

# Each loader module registers itself on import; they are imported here, explicitly, on purpose.
from deepfeat_iqa.datasets._csiq import load_csiq
from deepfeat_iqa.datasets._folder import load_folder
from deepfeat_iqa.datasets._kadid import load_kadid10k
from deepfeat_iqa.datasets._koniq import load_koniq10k
from deepfeat_iqa.datasets._live import load_live
from deepfeat_iqa.datasets._livec import load_livec
from deepfeat_iqa.datasets._scpqd import load_scpqd2020
from deepfeat_iqa.datasets._spaq import load_spaq
from deepfeat_iqa.datasets._tid import load_tid2008, load_tid2013
from deepfeat_iqa.datasets._checks import UnlistedImagesWarning

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
    "UnlistedImagesWarning",
]



__getattr__ = moved_names_of(__name__)  # names that moved in 0.2 (deepfeat_iqa._moved)
