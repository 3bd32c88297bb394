"""What the patch CNNs (DCNNS, seed 000; CNNIQA, Kang et al. 2014) see and are scored on: grayscale LCN patches,
scene clusters, per-aspect targets. Their heads are in :mod:`deepfeat_iqa.heads.image`.

>>> from deepfeat_iqa.patchcnn import local_contrast_normalize
>>> import numpy as np
>>> local_contrast_normalize(np.full((4, 4), 128.0)).max()
0.0
"""

from deepfeat_iqa._moved import moved_names_of
from deepfeat_iqa.patchcnn._aspects import ASPECTS, aspect_targets
from deepfeat_iqa.patchcnn._nets import CNNIQANet, DCNNSNet, PatchLoss
from deepfeat_iqa.patchcnn._preprocess import (
    LUMA_WEIGHTS,
    GrayLCN,
    check_patch_sizes,
    local_contrast_normalize,
    patch_grid,
    to_gray,
)
from deepfeat_iqa.patchcnn._scenes import (
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
]


__getattr__ = moved_names_of(__name__)  # names that moved in 0.2 (deepfeat_iqa._moved)
