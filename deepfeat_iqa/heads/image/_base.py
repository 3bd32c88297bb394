"""``ImageHead``: the scikit-learn face of every end-to-end head (fit on a Dataset, predict per image).

Subclasses say how to build their network (:meth:`ImageHead.build_network`) and, if not the backbone's
default, how images become input (:meth:`ImageHead.build_pipeline`); the base class does everything
else through the one engine in :mod:`deepfeat_iqa.training`: target standardization, the validation
split by content group, training, test-time views, checkpoints, and model-file state.
"""

from __future__ import annotations

import hashlib
import inspect
import logging
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted
from torch import nn

from deepfeat_iqa._json import json_safe
from deepfeat_iqa.backbones import fingerprint_state_dict, memory_state_dict, weights_fingerprint
from deepfeat_iqa.datasets import Dataset
from deepfeat_iqa._moved import renamed
from deepfeat_iqa.errors import ConfigError, DataError, unknown_parameter_error
from deepfeat_iqa.training import Pipeline, TrainData, TrainSettings, fit_network, predict_network
from deepfeat_iqa.inputs.views import Geometry, View, parse_views
from deepfeat_iqa.training._side_tasks import SideTasks, Standardizer, encode_side_labels

logger = logging.getLogger(__name__)

#: Estimator parameters that are engine settings (passed to :class:`TrainSettings` under the same name).
ENGINE_PARAMS = tuple(f.name for f in fields(TrainSettings) if f.name != "seed")


@dataclass(frozen=True)
class HeadOptions:
    """The options every image head has besides the engine's (:class:`TrainSettings`), declared once here.

    Together with the engine's fields they are the *shared options*: no head lists them in its
    ``__init__``; :class:`ImageHead` adds them to each head's signature, with the head's own defaults
    where its paper's recipe differs (:attr:`ImageHead.option_defaults`).

    Attributes
    ----------
    val_fraction:
        Part of the training *content groups* held out for early stopping and best-epoch selection;
        0 keeps the last epoch.
    crop_size:
        Training crop side; ``None``: the backbone's input size. (0.1: ``crop``, still taken with a warning.)
    resize:
        Short side images are resized to first, in training and test; ``None``: native.
    test_views:
        ``"grid"`` (224 crops at stride 112 averaged, SPAQ's protocol), ``"randomN"``, ``"center"``, ``"patches"``.
    val_views:
        Views for validation; ``None``: ``test_views``.
    checkpoint_dir:
        Resume a killed fit from here.
    ensemble:
        Members fitted with ``random_state + i``, predictions averaged.
    random_state:
        Seeds everything random in a fit (the engine's ``seed``).
    """

    val_fraction: float = 0.2
    crop_size: int | None = None
    resize: int | None = None
    test_views: str = "grid"
    val_views: str | None = None
    checkpoint_dir: str | None = None
    ensemble: int = 1
    random_state: int = 0


#: Shared options renamed since 0.1 (old -> new): the constructors take the old name with a FutureWarning.
RENAMED_OPTIONS = {"crop": "crop_size"}
#: The shared options as keyword-only parameters with their declared defaults, in signature order.
SHARED_OPTIONS: dict[str, inspect.Parameter] = {
    f.name: inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=f.default, annotation=f.type)
    for f in (*(f for f in fields(TrainSettings) if f.name != "seed"), *fields(HeadOptions))
}


def _no_own_params(self: Any) -> None:
    """The own ``__init__`` of a head that has no parameters besides the shared options."""


class ImageHead(RegressorMixin, BaseEstimator, ABC):
    """Base of the heads that learn from images end to end; see docs/image-heads.md.

    A head's ``__init__`` takes only its own parameters (keyword-only, stored unchanged, scikit-learn's
    rule). The shared options (the engine's, documented on :class:`TrainSettings`, and the image head's,
    on :class:`HeadOptions`) are declared only there; when a subclass is defined, its ``__init__`` is
    wrapped so that its signature (what ``get_params``, ``clone``, ``help`` and ``inspect.signature``
    read) is "own parameters + shared options with this head's defaults" (:attr:`option_defaults`).
    Unknown keywords raise :class:`ConfigError` naming the valid ones.
    """

    #: What the API hands this head: the Dataset (see heads._adapter.consumes).
    _dfi_consumes = "images"
    #: Old option names: the constructor and model files written by 0.1 are read under the new ones.
    RENAMED_OPTIONS: ClassVar[Mapping[str, str]] = RENAMED_OPTIONS
    #: Defaults of shared options that this head's recipe changes, merged along the class hierarchy
    #: (a subclass overrides its parent's). Only names of :data:`SHARED_OPTIONS`.
    option_defaults: ClassVar[Mapping[str, Any]] = {}
    _dfi_own_init: ClassVar[Any] = _no_own_params

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "__init__" in cls.__dict__:
            cls._dfi_own_init = cls.__dict__["__init__"]
        cls.__init__ = _options_init(cls)  # type: ignore[method-assign]

    # -- what subclasses provide ---------------------------------------------------------------------
    @abstractmethod
    def build_network(self, tasks: SideTasks, *, pretrained: bool) -> tuple[nn.Module, Any, Geometry, Any]:
        """``(network, loss, geometry, transform)`` for the given tasks.

        ``pretrained=False`` (loading a model file) builds the same architecture without reading
        weights; the saved tensors are loaded into it. The network must have a ``trunk`` submodule.
        """

    def input_description(self) -> dict[str, Any]:
        """How the inputs are made, for reports (``feature_key`` of results): backbone, weights, views."""
        return {"backbone": getattr(self, "backbone", type(self).__name__), "weights": str(getattr(self, "weights", "")),
                "layer": "end-to-end", "views": self.test_views, "precision": self.precision}

    # -- fitting -------------------------------------------------------------------------------------
    def _settings(self) -> TrainSettings:
        return TrainSettings(seed=int(self.random_state), **{name: getattr(self, name) for name in ENGINE_PARAMS})

    def _check_images(self, X: Any) -> Dataset:
        if not isinstance(X, Dataset):
            raise ConfigError(
                f"{type(self).__name__} trains on images: pass a Dataset (dfi.datasets.load, load_folder, "
                f"dfi.synth.build), not {type(X).__name__}. Through dfi.fit/evaluate a Dataset or features work."
            )
        return X

    def _side_labels(self, X: Dataset, side: dict[str, Any]) -> dict[str, Any]:
        return {name: value for name, value in side.items() if value is not None}

    def fit(self, X: Dataset, y: Any = None, *, groups: Any = None, attributes: Any = None, exif: Any = None,
            scenes: Any = None, distortion: Any = None) -> ImageHead:
        """Train on the images of ``X`` with quality ``y`` (default ``X.mos``) and the side labels the head uses.

        ``groups`` (default ``X.group_ids``) keeps each content on one side of the validation split.
        """
        X = self._check_images(X)
        self._check_start_weights()
        if int(self.ensemble) > 1:
            return self._fit_ensemble(X, y, groups=groups, attributes=attributes, exif=exif, scenes=scenes,
                                      distortion=distortion)  # fmt: skip
        self.members_ = None
        if y is None:
            if X.mos is None:
                raise DataError(f"Dataset {X.name!r} has no quality scores; an image head needs MOS to learn from.")
            y = X.mos
        y = np.asarray(y, dtype=np.float64)
        if y.shape != (len(X),) or not np.isfinite(y).all():
            raise DataError(f"y must hold one finite score per image of {X.name!r} ({len(X)}); got shape {y.shape}.")
        settings = self._settings()
        side = self._side_labels(X, {"attributes": attributes, "exif": exif, "scenes": scenes, "distortion": distortion})
        tasks = encode_side_labels(len(X), **side)
        scaler = Standardizer.fit(y)
        self.y_mean_, self.y_std_ = float(scaler.mean), float(scaler.scale)
        tasks.targets["quality"] = scaler.transform(y).astype(np.float32)
        network, loss, geometry, transform = self.build_network(tasks, pretrained=True)
        pipeline = Pipeline(geometry, transform, self.resize)
        train_rows, val_rows = self._validation_rows(X, groups)
        data = self._data(X, tasks)
        train, val = data.subset(train_rows), (data.subset(val_rows) if val_rows.size else None)
        checkpoint = None
        if self.checkpoint_dir is not None:
            run = hashlib.sha256("\n".join(X.ids[i] for i in train_rows).encode()).hexdigest()[:16]
            checkpoint = Path(self.checkpoint_dir) / f"run-{run}"
        outcome = fit_network(
            network, loss, train, val, settings=settings, pipeline=pipeline,
            val_view=self._view(self.val_views or self.test_views, geometry), checkpoint_dir=checkpoint,
            record={"head": type(self).__name__, **self._architecture()},
        )  # fmt: skip
        self.network_ = network.to("cpu").eval()
        self.tasks_ = tasks
        self.tasks_.targets = {}
        self.geometry_, self.transform_ = geometry, transform
        self.history_, self.best_epoch_, self.best_val_srocc_ = outcome.history, outcome.best_epoch, outcome.best_srocc
        self.precision_, self.n_train_, self.n_val_ = outcome.precision, len(train), len(val) if val else 0
        return self

    def _check_start_weights(self) -> None:
        """A fingerprint where the starting weights should be: the head was loaded from a file that lacks them."""
        weights = getattr(self, "weights", None)
        if isinstance(weights, str) and weights.startswith("sha256:") and not Path(weights).exists():
            raise ConfigError(
                f"{type(self).__name__} started from in-memory weights {weights[:19]}..., which its model file does "
                "not hold (written before model files kept them), so it cannot fit again from the same start. Pass "
                "them again: head.set_params(weights=ft) with the dfi.finetune result, its ft.save() file, or the "
                "nn.Module / state dict; or weights='imagenet' to start over."
            )

    def _fit_ensemble(self, X: Dataset, y: Any, **labels: Any) -> ImageHead:
        """``ensemble`` members, each a full fit with ``random_state + i`` (its own init, crops and validation
        groups); predictions are their mean."""
        from sklearn.base import clone

        members = []
        for i in range(int(self.ensemble)):
            member = clone(self).set_params(ensemble=1, random_state=int(self.random_state) + i)
            if self.checkpoint_dir is not None:
                member.set_params(checkpoint_dir=str(Path(self.checkpoint_dir) / f"member{i}"))
            members.append(member.fit(X, y, **labels))
        self._adopt(members)
        return self

    def _adopt(self, members: list[ImageHead]) -> None:
        """Take the fitted attributes of ensemble members (the first one's scalars; all members' histories)."""
        self.members_, self.network_ = members, members[0].network_
        for name in ("y_mean_", "y_std_", "tasks_", "geometry_", "transform_", "precision_", "n_train_", "n_val_"):
            setattr(self, name, getattr(members[0], name))
        self.history_ = [m.history_ for m in members]
        self.best_epoch_ = [m.best_epoch_ for m in members]
        self.best_val_srocc_ = [m.best_val_srocc_ for m in members]

    def _validation_rows(self, X: Dataset, groups: Any) -> tuple[np.ndarray, np.ndarray]:
        """Training and validation rows, the validation part carved by content group (deepfeat_iqa.datasets.splits)."""
        from deepfeat_iqa.datasets import splits

        rows = np.arange(len(X))
        if not self.val_fraction:
            return rows, rows[:0]
        grouped = X if groups is None else replace(X, groups=np.asarray(groups).astype(str))
        try:
            split = splits.train_test(grouped, test_size=float(self.val_fraction), seed=int(self.random_state), by="group")
        except DataError as error:
            logger.warning("%s: no validation split (%s); the last epoch is kept.", type(self).__name__, error)
            return rows, rows[:0]
        return split.train, split.test

    def _data(self, X: Dataset, tasks: SideTasks) -> TrainData:
        inputs = {"exif": tasks.exif_inputs} if tasks.exif_inputs is not None else {}
        return TrainData(list(X.paths), dict(tasks.targets), inputs)

    @staticmethod
    def _view(spec: str, geometry: Geometry) -> View:
        return parse_views(spec, geometry)

    def _architecture(self) -> dict[str, Any]:
        """Parameters that decide the network and its data (not the engine's), as JSON-able values."""
        engine = set(ENGINE_PARAMS) | {"random_state", "checkpoint_dir", "ensemble"}
        return {k: _jsonable(v) for k, v in self.get_params(deep=False).items() if k not in engine}

    # -- prediction ----------------------------------------------------------------------------------
    def _outputs(self, X: Dataset, exif: Any = None) -> dict[str, np.ndarray]:
        check_is_fitted(self, "network_")
        X = self._check_images(X)
        inputs = {}
        if exif is not None and self.tasks_.exif_encoder is not None:
            from deepfeat_iqa.training._side_tasks import as_table

            inputs["exif"] = self.tasks_.exif_encoder.transform(as_table(exif, "exif", len(X), "exif"))
        data = TrainData(list(X.paths), {}, inputs)
        pipeline = Pipeline(self.geometry_, self.transform_, self.resize)
        return predict_network(self.network_, data, pipeline, self._view(self.test_views, self.geometry_), self._settings())

    def predict(self, X: Dataset, exif: Any = None) -> np.ndarray:
        """Predicted quality per image, averaged over the test views (and ensemble members); MT-E adds its
        EXIF offset when ``exif`` is given."""
        if getattr(self, "members_", None):
            return np.mean([member.predict(X, exif) for member in self.members_], axis=0)
        return self._outputs(X, exif)["quality"] * self.y_std_ + self.y_mean_

    # -- model files (persist.py's protocol) ---------------------------------------------------------
    def _dfi_state(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """JSON-able parameters and fitted scalars, and the network's tensors (no pickle).

        When the head started from in-memory weights (a ``dfi.finetune`` result, an ``nn.Module`` or a
        state dict), their tensors are stored too (``start_weights.*``): the parameters name them only by
        fingerprint, and a loaded head must be able to fit again from the same start (scikit-learn's
        contract: ``fit`` depends on the parameters alone). It costs one more backbone in the file.
        """
        config, arrays = self._own_state()
        weights = getattr(self, "weights", None)
        start = memory_state_dict(weights) if weights is not None else None
        if start is not None:
            config["start_weights"] = {
                "fingerprint": fingerprint_state_dict(start), **_weights_record(weights),
                # persist.py writes 0-d tensors (batch-norm counters) as shape (1,); their names restore the shape.
                "scalars": sorted(k for k, v in start.items() if v.ndim == 0),
            }  # fmt: skip
            arrays.update({f"start_weights.{k}": v.detach().cpu().contiguous() for k, v in start.items()})
        return config, arrays

    def _own_state(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """:meth:`_dfi_state` without the starting weights (an ensemble stores those once, not per member)."""
        check_is_fitted(self, "network_")
        if getattr(self, "members_", None):
            states = [member._own_state() for member in self.members_]
            params = {k: _jsonable(v) for k, v in self.get_params(deep=False).items()}
            config = {"class": type(self).__name__, "params": params, "members": [c for c, _ in states]}
            return config, {f"member{i}.{k}": v for i, (_, arrays) in enumerate(states) for k, v in arrays.items()}
        tasks = self.tasks_
        config = {
            "class": type(self).__name__,
            "params": {k: _jsonable(v) for k, v in self.get_params(deep=False).items()},
            "y_mean": self.y_mean_, "y_std": self.y_std_,
            "tasks": {
                "attribute_names": tasks.attribute_names, "scene_names": tasks.scene_names,
                "distortion_classes": tasks.distortion_classes, "distortion_multilabel": tasks.distortion_multilabel,
                "exif_encoder": asdict(tasks.exif_encoder) if tasks.exif_encoder is not None else None,
            },
            "history": self.history_, "best_epoch": self.best_epoch_, "best_val_srocc": self.best_val_srocc_,
            "precision": self.precision_, "n_train": self.n_train_, "n_val": self.n_val_,
        }  # fmt: skip
        # contiguous: the network runs channels_last on CPUs, and a file writer that copies raw buffers
        # (safetensors does) would store those strides' order under the logical shape
        arrays = {f"network.{k}": v.detach().cpu().contiguous() for k, v in self.network_.state_dict().items()}
        if tasks.attribute_scaler is not None:
            arrays["attribute_scaler.mean"] = np.asarray(tasks.attribute_scaler.mean)
            arrays["attribute_scaler.scale"] = np.asarray(tasks.attribute_scaler.scale)
        return config, arrays

    @classmethod
    def _dfi_from_state(cls, config: dict[str, Any], arrays: dict[str, Any]) -> ImageHead:
        import torch

        from deepfeat_iqa.training._side_tasks import ExifEncoder

        head = cls(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in config["params"].items()})
        if "start_weights" in config:
            head.set_params(weights=_start_weights(config["start_weights"], arrays))
        if "members" in config:
            prefixes = [f"member{i}." for i in range(len(config["members"]))]
            head._adopt([
                cls._dfi_from_state(member, {k[len(p):]: v for k, v in arrays.items() if k.startswith(p)})
                for member, p in zip(config["members"], prefixes)
            ])  # fmt: skip
            return head
        saved = config["tasks"]
        exif = saved["exif_encoder"]
        scaler = None
        if "attribute_scaler.mean" in arrays:
            scaler = Standardizer(np.asarray(arrays["attribute_scaler.mean"]), np.asarray(arrays["attribute_scaler.scale"]))
        tasks = SideTasks(
            targets={}, attribute_names=_tuple(saved["attribute_names"]), attribute_scaler=scaler,
            exif_encoder=ExifEncoder(**{k: _deep_tuple(v) for k, v in exif.items()}) if exif else None,
            scene_names=_tuple(saved["scene_names"]), distortion_classes=_tuple(saved["distortion_classes"]),
            distortion_multilabel=bool(saved["distortion_multilabel"]),
        )  # fmt: skip
        if tasks.exif_encoder is not None:
            tasks.exif_inputs = np.zeros((1, tasks.exif_encoder.n_outputs), dtype=np.float32)  # sizes the offset layer
        network, _, geometry, transform = head.build_network(tasks, pretrained=False)
        state = {k[len("network."):]: torch.as_tensor(np.asarray(v)) if not isinstance(v, torch.Tensor) else v
                 for k, v in arrays.items() if k.startswith("network.")}  # fmt: skip
        network.load_state_dict(state, strict=True)
        tasks.exif_inputs = None
        head.network_, head.tasks_ = network.eval(), tasks
        head.geometry_, head.transform_ = geometry, transform
        head.y_mean_, head.y_std_ = float(config["y_mean"]), float(config["y_std"])
        head.history_, head.best_epoch_, head.best_val_srocc_ = config["history"], config["best_epoch"], config["best_val_srocc"]
        head.precision_, head.n_train_, head.n_val_ = config["precision"], config["n_train"], config["n_val"]
        return head


def _weights_record(weights: Any) -> dict[str, Any]:
    """How to give in-memory starting weights back their type: a ``dfi.finetune`` result keeps its backbone and info."""
    from deepfeat_iqa.backbones import FineTunedWeights

    if isinstance(weights, FineTunedWeights):
        return {"kind": "finetuned", "backbone": weights.backbone, "info": _jsonable(weights.info)}
    return {"kind": "state_dict"}


def _start_weights(record: dict[str, Any], arrays: dict[str, Any]) -> Any:
    """The starting weights a model file stored (see ``ImageHead._dfi_state``), checked against their fingerprint."""
    import torch

    from deepfeat_iqa.backbones import FineTunedWeights
    from deepfeat_iqa.heads._state import StateError

    prefix = "start_weights."
    tensors = {k[len(prefix):]: torch.as_tensor(np.asarray(v)) if not isinstance(v, torch.Tensor) else v
               for k, v in arrays.items() if k.startswith(prefix)}  # fmt: skip
    for name in record.get("scalars", ()):
        tensors[name] = tensors[name].reshape(())
    if fingerprint_state_dict(tensors) != record["fingerprint"]:
        raise StateError(f"the stored starting weights do not match their fingerprint {record['fingerprint']}; the file is damaged.")
    if record.get("kind") == "finetuned":
        return FineTunedWeights(record["backbone"], tensors, record["fingerprint"], dict(record.get("info") or {}))
    return tensors


def _tuple(value: Any) -> tuple | None:
    return None if value is None else tuple(value)


def _deep_tuple(value: Any) -> Any:
    return tuple(_deep_tuple(v) for v in value) if isinstance(value, (list, tuple)) else value


def _jsonable(value: Any) -> Any:
    """Parameters as JSON values; in-memory weights (a module, a state dict, a ``dfi.finetune`` result) are
    recorded by their fingerprint, a state dict as one value rather than tensor by tensor."""
    if isinstance(value, dict) and any(hasattr(v, "shape") for v in value.values()):
        return weights_fingerprint(value)
    return json_safe(value, fallback=weights_fingerprint)


def _options_init(cls: type[ImageHead]) -> Any:
    """``cls.__init__``: the head's own ``__init__`` plus the shared options, with one signature for both."""
    own_init = cls._dfi_own_init
    own = list(inspect.signature(own_init).parameters.values())[1:]
    where = f"{cls.__module__}.{cls.__qualname__}"
    for param in own:
        if param.name in SHARED_OPTIONS:
            raise TypeError(
                f"{where}.__init__ declares {param.name!r}, a shared option (TrainSettings / HeadOptions); "
                f"set its default in option_defaults = {{{param.name!r}: ...}} instead."
            )
        if param.kind is not inspect.Parameter.KEYWORD_ONLY or param.default is inspect.Parameter.empty:
            raise TypeError(f"{where}.__init__: parameter {param.name!r} must be keyword-only with a default.")
    defaults: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        defaults.update(vars(klass).get("option_defaults", {}))
    stray = sorted(set(defaults) - set(SHARED_OPTIONS))
    if stray:
        raise TypeError(f"{where}.option_defaults names {stray}, which are not shared options; valid: {sorted(SHARED_OPTIONS)}.")
    shared = [p.replace(default=defaults.get(name, p.default)) for name, p in SHARED_OPTIONS.items()]
    signature = inspect.Signature([inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD), *own, *shared])
    own_names = [p.name for p in own]
    shared_defaults = {p.name: p.default for p in shared}
    valid = {*own_names, *shared_defaults}

    def __init__(self: ImageHead, **params: Any) -> None:
        if RENAMED_OPTIONS.keys() & params.keys():
            params = renamed(type(self).__name__, params, RENAMED_OPTIONS)
        unknown = set(params) - valid
        if unknown:
            raise unknown_parameter_error(type(self).__name__, unknown, valid)
        own_init(self, **{name: params[name] for name in own_names if name in params})
        for name, default in shared_defaults.items():
            setattr(self, name, params.get(name, default))

    __init__.__signature__ = signature  # type: ignore[attr-defined]
    __init__.__qualname__ = f"{cls.__qualname__}.__init__"
    __init__.__module__ = cls.__module__
    __init__.__doc__ = own_init.__doc__
    return __init__
