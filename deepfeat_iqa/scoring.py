"""``score``: quality scores for photos, from a fitted model or, by default, the model shipped with the package.

The bundled model (``deepfeat_iqa/bundled/default.dfi``, model card in ``docs/model-card.md``) is the
recommended recipe of ``docs/real-accuracy.md`` fitted on all 581 photos of clive-dev: GPR heads on
frozen EfficientNet-Lite0/1 features whose z-scored predictions are averaged (a ``combination`` head).
Its ImageNet weights come from the ``lite-weights`` extra, so scoring needs no network.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd

#: File name of the bundled model inside the package.
BUNDLED = "default.dfi"


def bundled_model_path() -> Path:
    """Where the bundled model file lies (inside the installed package)."""
    return Path(str(resources.files("deepfeat_iqa.bundled").joinpath(BUNDLED)))


@lru_cache(maxsize=1)
def default_model() -> Any:
    """The bundled :class:`~deepfeat_iqa.api.QualityModel` (read once per process)."""
    from deepfeat_iqa.errors import ConfigError
    from deepfeat_iqa.persist import load

    path = bundled_model_path()
    if not path.is_file():
        raise ConfigError(
            f"The bundled model {path} is missing from this installation; reinstall deepfeat-iqa, or pass "
            "model= a file written by `deepfeat-iqa fit` (docs/model-card.md says how the default one is made)."
        )
    return load(path)


def score(photos: Any, model: Any = None, *, return_std: bool | None = None, **extract_options: Any) -> pd.DataFrame:
    """Predicted quality of each photo, as a table: ``id``, ``path``, ``score`` (and ``sd`` where the model has one).

    Parameters
    ----------
    photos:
        A folder, one path, a list of paths or a Dataset.
    model:
        A :class:`~deepfeat_iqa.api.QualityModel`, a model file, or ``None`` for the bundled model.
    return_std:
        Add the predictive standard deviation (``sd``); ``None``: whenever the model has one (GPR-based).
    extract_options:
        Options of :func:`deepfeat_iqa.extract` for feature models (``store``, ``device``, ``on_error``, ...);
        a model that reads photos itself takes those it has (a combination: ``store``, ``device``, ``batch_size``).

    Examples
    --------
    >>> table = dfi.score("photos/")            # doctest: +SKIP
    >>> table.sort_values("score").head()       # the worst photos first  # doctest: +SKIP
    """
    from deepfeat_iqa.errors import ConfigError
    from deepfeat_iqa.extraction import as_dataset
    from deepfeat_iqa.heads._adapter import supports_std
    from deepfeat_iqa.persist import load

    fitted = default_model() if model is None else load(model) if isinstance(model, (str, Path)) else model
    dataset = as_dataset(photos)
    if fitted.key is not None:  # a feature head: photos that fail with on_error="skip" are left out
        features = fitted.features_of(dataset, **extract_options)
        dataset, inputs = features.dataset, features
    else:  # an image head (or a combination) reads the photos; runtime options it has (store, device) apply
        if extract_options.get("client") is not None:
            raise ConfigError(
                f"client= sends feature extraction to Dask workers; this model ({type(fitted.estimator).__name__}) reads "
                "the photos in this process. Drop client=, or score with a feature-head model."
            )
        inputs = dataset
        runtime = {k: v for k, v in extract_options.items() if k in ("store", "device", "batch_size", "num_workers")}
        own = fitted.estimator.get_params(deep=False)
        fitted.estimator.set_params(**{k: v for k, v in runtime.items() if k in own})
    with_std = supports_std(fitted.estimator) if return_std is None else return_std
    predicted = fitted.predict(inputs, return_std=with_std)
    scores, sd = predicted if with_std else (predicted, None)
    table = pd.DataFrame({"id": dataset.ids, "path": [str(p) for p in dataset.paths], "score": scores})
    if sd is not None:
        table["sd"] = sd
    return table
