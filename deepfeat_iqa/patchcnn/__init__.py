"""Patch CNNs trained end to end on grayscale LCN patches: DCNNS (seed 000) and CNNIQA (Kang et al. 2014).

>>> from deepfeat_iqa.patchcnn import local_contrast_normalize
>>> import numpy as np
>>> local_contrast_normalize(np.full((4, 4), 128.0)).max()
0.0
"""

# The heads package registers this package's head; importing it first settles the import order.
from .. import heads as _heads  # noqa: F401
from ._aspects import ASPECTS, aspect_targets, within_scene_srocc
from ._heads import CNNIQA, DCNNS
from ._nets import CNNIQANet, DCNNSNet, PatchLoss
from ._preprocess import (
    LUMA_WEIGHTS,
    GrayLCN,
    check_patch_sizes,
    local_contrast_normalize,
    patch_grid,
    to_gray,
)
from ._scenes import (
    DESCRIPTOR_COLUMNS,
    DESCRIPTOR_DIM,
    EDGE_FILTERS,
    cluster_scenes,
    file_descriptor,
    scene_descriptor,
    scene_descriptors,
    with_scene_clusters,
)

__all__ = [
    "ASPECTS",
    "CNNIQA",
    "DCNNS",
    "DESCRIPTOR_COLUMNS",
    "DESCRIPTOR_DIM",
    "EDGE_FILTERS",
    "LUMA_WEIGHTS",
    "CNNIQANet",
    "DCNNSNet",
    "GrayLCN",
    "PatchLoss",
    "aspect_targets",
    "check_patch_sizes",
    "cluster_scenes",
    "file_descriptor",
    "local_contrast_normalize",
    "patch_grid",
    "scene_descriptor",
    "scene_descriptors",
    "to_gray",
    "with_scene_clusters",
    "within_scene_srocc",
]
