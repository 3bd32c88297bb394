"""``extract``: images → views → backbone → pooled vectors in the store, as plan → blocks → collect.

``_extract`` validates and resolves every option, ``_plan`` creates the index and every array (one
writer), ``_block`` fills one chunk-aligned row range (``_loader`` decodes, ``_forward`` runs the
backbone and ``pooling`` reduces), ``_collect`` returns the lazy :class:`~deepfeat_iqa.features.FeatureSet`;
``_dask`` runs the blocks as Dask tasks.
"""

from deepfeat_iqa.extraction._extract import DEFAULT_STORE, as_dataset, extract

__all__ = ["DEFAULT_STORE", "as_dataset", "extract"]
