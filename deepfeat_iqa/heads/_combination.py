"""A fitted combination of heads: several members, each on its own backbone/layers, and one combiner.

On real photos (clive-dev) the best measured recipe is not one head but the mean of several heads'
z-scored predictions (docs/real-accuracy.md). :class:`Combination` makes that recipe a head like any
other: it consumes images (a :class:`~deepfeat_iqa.datasets.Dataset`), so ``dfi.evaluate`` runs it over
the same content-separated splits as a single head, ``dfi.fit`` makes it a model, and the model scores
new photos, extracting each member's features exactly as they were made at fit time.

Each member is a :class:`Member`: a feature recipe (backbone, layers, pooling, views) and a feature head
(``"gpr"``, ``"svr"``, ...), or an image head (``"spaq-bl"``, ...) that reads the photos itself.
Features go through the feature store (``store=``) and a process-wide memo of rows by file identity, so
the ten splits of an evaluation extract each photo once per member, not once per split.
"""

from __future__ import annotations

import logging
import os
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted

from deepfeat_iqa.runtime.defaults import DEFAULT_BACKBONE
from deepfeat_iqa.datasets import Dataset
from deepfeat_iqa.errors import ConfigError, DeepfeatError
from deepfeat_iqa.heads._state import StateMixin, decode, encode, qualified_name
from deepfeat_iqa.inputs.center_prior import CROP_STRENGTH, center_weights, weighted_median
from deepfeat_iqa.inputs.images import content_digest, decoded_size
from deepfeat_iqa.inputs.views import View

logger = logging.getLogger(__name__)

#: The stages of the EfficientNet-Lite family the recommended recipe reads (docs/real-accuracy.md).
LITE_STAGES = ("block4", "block5", "block6", "conv_head")
#: The recommended view: the whole photo, its shorter side brought down to 512 px when longer.
RECOMMENDED_VIEWS = "full512"
COMBINERS = ("mean", "stack")
#: How a per-crop member turns its crops' predictions into the photo's: their mean, or their weighted median
#: under the center prior (crops near the photo's center weigh most; :mod:`deepfeat_iqa.inputs.center_prior`).
CROP_SUMMARIES = ("mean", "center-median")


@dataclass(frozen=True)
class Member:
    """One member of a :class:`Combination`: what it reads and which head fits it.

    Attributes
    ----------
    backbone, layers, pooling, views, weights:
        The feature recipe, as ``dfi.extract`` spells it (``layers`` are concatenated, each block
        standardized by the head). Ignored for an image head, which reads the photos itself.
    head:
        A registry name (``"gpr"``, ``"svr"``, ``"mlp"``, ``"spaq-bl"``, ...).
    options:
        Constructor parameters of the head.
    per_crop:
        Fit the feature head on every crop's features, each with its photo's score, and score a photo by a
        summary of its crops' predictions (:attr:`crop_summary`), instead of fitting on the crops' averaged
        features. Needs views that keep each crop (``"randomN"``, ``"randomNinM"``). On clive-dev, Lite0 on 9 random crops
        0.803 -> 0.811 (seed 0) / 0.804 -> 0.817 (seed 1); docs/real-accuracy.md. The head keeps the crops'
        rows, so a GPR member's model file grows with the number of crops.
    crop_summary:
        For ``per_crop`` members, how a photo's score comes from its crops' predictions: ``"mean"``, or
        ``"center-median"``, their median weighted by the center prior on where each crop lies in the photo
        (read from the file's header and content digest, as the crops were cut). On clive-dev, Lite0 on 9
        random crops 0.811 -> 0.816 (seed 0) / 0.817 -> 0.824 (seed 1); docs/real-accuracy.md.
    weight:
        The member's share in the ``"mean"`` combiner, relative to the others (weights are normalized to sum to
        1). The recommended recipe weighs its crop-level member twice (docs/real-accuracy.md); ``"stack"`` fits
        the weights itself and refuses any other than 1.
    """

    backbone: str = DEFAULT_BACKBONE
    layers: tuple[str, ...] = LITE_STAGES
    pooling: str = "avg+std"
    views: str = RECOMMENDED_VIEWS
    head: str = "gpr"
    weights: str = "imagenet"
    options: Mapping[str, Any] = field(default_factory=dict)
    per_crop: bool = False
    weight: float = 1.0
    crop_summary: str = "mean"

    def label(self) -> str:
        crops = ("/per-crop" + ("" if self.crop_summary == "mean" else f"-{self.crop_summary}")) if self.per_crop else ""
        weight = f" x{self.weight:g}" if self.weight != 1 else ""
        return f"{self.head}@{self.backbone}/{'+'.join(self.layers)}/{self.pooling}/{self.views}{crops}{weight}"


def as_member(spec: Member | Mapping[str, Any] | str) -> Member:
    """A :class:`Member` from itself, a dict of its fields, or a backbone name (the default recipe on it)."""
    if isinstance(spec, Member):
        return spec
    if isinstance(spec, str):
        return Member(backbone=spec)
    if isinstance(spec, Mapping):
        unknown = sorted(set(spec) - set(Member.__dataclass_fields__))
        if unknown:
            raise ConfigError(f"Combination member {dict(spec)!r}: unknown field(s) {unknown}; fields are {sorted(Member.__dataclass_fields__)}.")
        values = dict(spec)
        if "layers" in values:
            values["layers"] = (values["layers"],) if isinstance(values["layers"], str) else tuple(values["layers"])
        return Member(**values)
    raise ConfigError(f"A combination member is a Member, a dict of its fields or a backbone name; got {type(spec).__name__}.")


#: Half-precision training rows for every recommended member: the rows are most of the model file, and on
#: clive-dev float16 rows scored what float32 rows did (crop-level Lite0: SROCC 0.8113 vs 0.8114).
_SMALL_ROWS: Mapping[str, Any] = {"rows_dtype": "float16"}

#: The recommended recipe (docs/real-accuracy.md, chosen on the seed-0 splits of clive-dev, confirmed on
#: seed 1): GPR on the last stages of EfficientNet-Lite0 over the whole photo, of Lite1 over its 240-px grid
#: crops (``avg+std``), and a crop-level GPR on Lite0's 9 random crops (each crop a training row) weighing
#: twice; every member under the center prior (:mod:`deepfeat_iqa.inputs.center_prior`): ``center-avg``
#: pooling, ``grid512@center`` crops, and a photo scored by the ``center-median`` of its crops' predictions.
#: The same three members without the prior (the previous recipe): 0.8342 (seed 0) / 0.8285 (seed 1).
DEFAULT_MEMBERS: tuple[Member, ...] = (
    Member(backbone=DEFAULT_BACKBONE, pooling="center-avg", options=_SMALL_ROWS),
    Member(backbone="efficientnet_lite1", views="grid512@center", options=_SMALL_ROWS),
    Member(backbone=DEFAULT_BACKBONE, layers=("block3", *LITE_STAGES), pooling="avg", views="random9in512@seed0", per_crop=True,
           crop_summary="center-median", weight=2.0, options=_SMALL_ROWS),
)

# (member recipe, precision, resolved path, size, mtime_ns) -> feature row; shared by the clones that
# dfi.evaluate makes per split, so a photo is extracted once per member and process.
_MEMO: OrderedDict[tuple, np.ndarray] = OrderedDict()
_MEMO_ROWS = int(os.environ.get("DEEPFEAT_IQA_COMBINATION_MEMO_ROWS", "200000"))
# the same recipe token -> (feature key record, block sizes) of the rows in _MEMO
_MEMO_KEYS: dict[tuple, tuple[dict[str, Any], tuple[int, ...]]] = {}


class Combination(StateMixin, RegressorMixin, BaseEstimator):
    """Several heads fitted on the same photos, their predictions combined into one score.

    Parameters
    ----------
    members:
        :class:`Member` recipes (or dicts of their fields, or backbone names). Default
        (:data:`DEFAULT_MEMBERS`): GPR on ``block4-6 + conv_head`` of EfficientNet-Lite0's whole photo
        (``full512``, ``center-avg``), on ``block4-6 + conv_head`` of Lite1's 240-px grid crops
        (``grid512@center``, ``avg+std``), and crop-level on ``block3-6 + conv_head`` of 9 random 224-px crops of
        Lite0 (``random9in512@seed0``, ``center-median``, weighing twice), every GPR keeping its training rows in
        float16; each member under the center prior (:mod:`deepfeat_iqa.inputs.center_prior`).
    combiner:
        ``"mean"``: each member's predictions are z-scored with the mean and sd of its predictions on the
        training photos, averaged with the members' :attr:`Member.weight` shares (equal by default), and mapped
        back to the training scores' scale. ``"stack"``: non-negative least squares on out-of-fold member predictions (5 folds grouped
        by content), so better members weigh more; costs five extra fits per member.
    precision, device, batch_size, store:
        How member features are extracted (as in ``dfi.extract``); ``precision="auto"`` follows the one
        rule of :mod:`deepfeat_iqa.runtime.precision`.
    random_state:
        Seed handed to members that take one, and of the stacking folds.
    """

    _dfi_consumes = "images"
    _dfi_transient = ("members_fitted_",)

    def __init__(
        self,
        members: Sequence[Member | Mapping[str, Any] | str] = DEFAULT_MEMBERS,
        *,
        combiner: str = "mean",
        precision: str = "auto",
        device: str | None = None,
        batch_size: int | None = None,
        store: Any = "cache",
        random_state: int = 0,
    ) -> None:
        self.members = members
        self.combiner = combiner
        self.precision = precision
        self.device = device
        self.batch_size = batch_size
        self.store = store
        self.random_state = random_state

    # -- fitting ---------------------------------------------------------------------------------

    def fit(self, X: Dataset, y: np.ndarray, groups: np.ndarray | None = None) -> Combination:  # noqa: N803
        """Fit every member on the photos of ``X`` (a Dataset) and the combiner on their predictions."""
        from deepfeat_iqa.heads import make_head

        members = self._checked_members()
        dataset = _as_dataset(X)
        y = np.asarray(y, dtype=np.float64)
        self.heads_, self.keys_, train_predictions = [], [], []
        for member in members:
            head = make_head(member.head, **self._seeded(member))
            if _reads_images(head):
                head.fit(dataset, y, **({"groups": groups} if groups is not None else {}))
                key, rows = None, dataset
            else:
                rows, key, blocks = self._features(member, dataset, key=None)
                if blocks and "blocks" in head.get_params(deep=False):
                    head.set_params(blocks=blocks)
                _fit_feature_head(head, rows, y, groups)
            self.heads_.append(head)
            self.keys_.append(key)
            train_predictions.append(_predict(head, rows, crop_weights=_crop_weights(member, dataset)))
            logger.info("Combination: fitted member %s on %d photos.", member.label(), len(dataset))
        P = np.column_stack(train_predictions)
        self.member_mean_ = P.mean(axis=0)
        self.member_std_ = np.where(P.std(axis=0) > 0, P.std(axis=0), 1.0)
        self.y_mean_, self.y_std_ = float(y.mean()), float(y.std() or 1.0)
        if self.combiner == "stack":
            self.weights_ = self._stack_weights(members, dataset, y, groups)
        else:
            shares = np.array([member.weight for member in members], dtype=np.float64)
            self.weights_ = shares / shares.sum()
        self.intercept_ = 0.0
        self.members_fitted_ = members
        return self

    def _checked_members(self) -> tuple[Member, ...]:
        if self.combiner not in COMBINERS:
            raise ConfigError(f"combiner={self.combiner!r} is not one of {', '.join(map(repr, COMBINERS))}.")
        members = tuple(as_member(m) for m in self.members)
        if not members:
            raise ConfigError("A Combination needs at least one member.")
        for member in members:
            if not (np.isfinite(member.weight) and member.weight > 0):
                raise ConfigError(f"Combination member {member.label()}: weight must be a positive number, got {member.weight!r}.")
            if self.combiner == "stack" and member.weight != 1:
                raise ConfigError(
                    f"Combination member {member.label()}: combiner='stack' fits the members' weights itself; leave weight=1 "
                    "or use combiner='mean'."
                )
            if member.crop_summary not in CROP_SUMMARIES:
                raise ConfigError(
                    f"Combination member {member.label()}: crop_summary={member.crop_summary!r} is not one of "
                    f"{', '.join(map(repr, CROP_SUMMARIES))}."
                )
            if member.crop_summary != "mean" and not member.per_crop:
                raise ConfigError(f"Combination member {member.label()}: crop_summary={member.crop_summary!r} needs per_crop=True.")
            if member.per_crop and (member.views.startswith(("grid", "patches")) or _reads_images(_head_class(member.head))):
                raise ConfigError(
                    f"Combination member {member.label()}: per_crop=True fits a feature head on each stored crop, so it "
                    f"needs views that keep every crop (views='random9', ...), not {member.views!r} (its crops are averaged "
                    "when stored) and not an image head."
                )
        return members

    def _seeded(self, member: Member) -> dict[str, Any]:
        from deepfeat_iqa.heads import make_head

        options = dict(member.options)
        if "random_state" in make_head(member.head).get_params(deep=False):
            options.setdefault("random_state", self.random_state)
        return options

    def _stack_weights(self, members: tuple[Member, ...], dataset: Dataset, y: np.ndarray, groups: np.ndarray | None) -> np.ndarray:
        """Non-negative weights on z-scored out-of-fold member predictions (content-grouped folds)."""
        from scipy.optimize import nnls

        from deepfeat_iqa.heads import make_head
        from deepfeat_iqa.heads._groups import check_groups, inner_folds

        folds = inner_folds(len(dataset), 5, check_groups(groups, len(dataset)), self.random_state)
        oof = np.zeros((len(dataset), len(members)))
        for column, member in enumerate(members):
            for train, test in folds:
                head = make_head(member.head, **self._seeded(member))
                if _reads_images(head):
                    head.fit(dataset[train], y[train])
                    oof[test, column] = head.predict(dataset[test])
                    continue
                rows, _, blocks = self._features(member, dataset, key=None)
                weights = _crop_weights(member, dataset)
                if blocks and "blocks" in head.get_params(deep=False):
                    head.set_params(blocks=blocks)
                _fit_feature_head(head, rows[train], y[train], None if groups is None else np.asarray(groups)[train])
                oof[test, column] = _predict(head, rows[test], crop_weights=None if weights is None else weights[test])
        z = (oof - oof.mean(axis=0)) / np.where(oof.std(axis=0) > 0, oof.std(axis=0), 1.0)
        weights, _ = nnls(z, (y - y.mean()) / (y.std() or 1.0))
        if not weights.any():
            raise DeepfeatError("Combination(combiner='stack'): every member got weight 0 (no member predicts the scores); use combiner='mean'.")
        return weights / weights.sum()

    # -- predicting ------------------------------------------------------------------------------

    def has_std(self) -> bool:
        """Whether every member gives a predictive standard deviation (GPR members do)."""
        from deepfeat_iqa.heads import make_head
        from deepfeat_iqa.heads._adapter import supports_std

        heads = getattr(self, "heads_", None) or [make_head(as_member(m).head) for m in self.members]
        return all(supports_std(head) for head in heads)

    def predict(self, X: Dataset, return_std: bool = False) -> np.ndarray | tuple[np.ndarray, np.ndarray]:  # noqa: N803
        """Combined scores of the photos in ``X`` (a Dataset, folder, path or list of paths).

        With ``return_std`` (every member a GPR), also a standard deviation: the members' z-scored
        predictive sds combined with the combiner's weights as if fully correlated (members see the same
        photos, so their errors are), which never understates the uncertainty of any member.
        """
        check_is_fitted(self, "heads_")
        if return_std and not self.has_std():
            raise ConfigError("return_std=True needs every combination member to give a standard deviation (GPR); this one has others.")
        dataset = _as_dataset(X)
        members = tuple(as_member(m) for m in self.members)
        z, z_sd = np.zeros(len(dataset)), np.zeros(len(dataset))
        for member, head, key, weight, mean, std in zip(members, self.heads_, self.keys_, self.weights_, self.member_mean_, self.member_std_):
            if weight == 0:
                continue
            try:
                rows = dataset if key is None else self._features(member, dataset, key=key)[0]
                crop_weights = _crop_weights(member, dataset)
                if return_std:
                    predicted, sd = _predict(head, rows, return_std=True, crop_weights=crop_weights)
                    z_sd += weight * sd / std
                else:
                    predicted = _predict(head, rows, crop_weights=crop_weights)
                z += weight * (np.asarray(predicted, dtype=np.float64) - mean) / std
            except DeepfeatError as error:
                raise type(error)(f"Combination member {member.label()}: {error}") from error
        scores = self.y_mean_ + self.y_std_ * z
        return (scores, self.y_std_ * z_sd) if return_std else scores

    def member_predictions(self, X: Dataset) -> dict[str, np.ndarray]:  # noqa: N803
        """Each member's own predictions (label -> scores), to see what the combination averages."""
        check_is_fitted(self, "heads_")
        dataset = _as_dataset(X)
        out = {}
        for member, head, key in zip((as_member(m) for m in self.members), self.heads_, self.keys_):
            rows = dataset if key is None else self._features(member, dataset, key=key)[0]
            out[member.label()] = _predict(head, rows, crop_weights=_crop_weights(member, dataset))
        return out

    # -- features --------------------------------------------------------------------------------

    def prefetch(self, X: Dataset) -> None:  # noqa: N803
        """Extract every feature member's features of all photos of ``X`` once, through the store.

        ``dfi.evaluate`` calls this with the whole dataset before it splits it, so the splits' fits read
        the rows from memory instead of extracting each split's subset (a new store key) again.
        """
        dataset = _as_dataset(X)
        for member in self._checked_members():
            if getattr(_head_class(member.head), "_dfi_consumes", "features") != "images":
                self._features(member, dataset, key=None)

    def _features(self, member: Member, dataset: Dataset, key: Any) -> tuple[np.ndarray, Any, tuple[int, ...]]:
        """(rows, feature key, block sizes) of ``member`` for ``dataset``; with ``key``, made as that key says."""
        from deepfeat_iqa.extraction import extract
        from deepfeat_iqa.features import key_from_dict
        from deepfeat_iqa.runtime.device import resolve_device
        from deepfeat_iqa.runtime.precision import accepted_precision, resolve_precision

        device = resolve_device(self.device)
        precision = resolve_precision(self.precision, device) if key is None else accepted_precision(_precision_of(key), device)
        token = (member.backbone, member.weights, member.layers, member.pooling, member.views, member.per_crop, precision)
        identities = [_identity(path) for path in dataset.paths]
        cached = [_MEMO.get((*token, ident)) for ident in identities]
        if token in _MEMO_KEYS and all(row is not None for row in cached):
            made, blocks = _MEMO_KEYS[token]
        else:
            feats = extract(dataset, backbone=member.backbone, layers=list(member.layers), pooling=member.pooling,
                            views=member.views, weights=member.weights, precision=precision, device=self.device,
                            batch_size=self.batch_size, store=self.store, progress=False)  # fmt: skip
            lf = feats.concat(list(member.layers)) if len(member.layers) > 1 else feats[member.layers[0]]
            cached = list(_crop_rows(member, feats) if member.per_crop else np.asarray(lf.X, dtype=np.float32))
            made, blocks = _key_dict(lf.key), tuple(int(d) for _, d in lf.blocks)
            _MEMO_KEYS[token] = (made, blocks)
            for ident, row in zip(identities, cached):
                _MEMO[(*token, ident)] = row
            while len(_MEMO) > _MEMO_ROWS:
                _MEMO.popitem(last=False)
        if key is not None:
            key_from_dict(_key_dict(key)).check_matches(key_from_dict(made))
        return np.stack(cached), made, blocks

    # -- model files -----------------------------------------------------------------------------

    def _dfi_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """Parameters, combiner state, and each member head's own state under ``member<i>.``."""
        arrays: dict[str, np.ndarray] = {}
        config: dict[str, Any] = {
            "params": encode({**self.get_params(deep=False), "members": [asdict(as_member(m)) for m in self.members]}, arrays, "params"),
            "fitted": encode({k: getattr(self, k) for k in ("keys_", "member_mean_", "member_std_", "y_mean_", "y_std_", "weights_", "intercept_")}, arrays, "fitted"),
            "heads": [],
        }
        for i, head in enumerate(self.heads_):
            head_config, head_arrays = head._dfi_state()
            config["heads"].append({"class": qualified_name(type(head)), "state": head_config})
            arrays.update({f"member{i}.{name}": value for name, value in head_arrays.items()})
        return config, arrays

    @classmethod
    def _dfi_from_state(cls, config: dict[str, Any], arrays: dict[str, np.ndarray]) -> Combination:
        from deepfeat_iqa.heads import registered_head_classes
        from deepfeat_iqa.heads._state import StateError

        params = decode(config["params"], arrays)
        params["members"] = tuple(as_member(m) for m in params["members"])
        obj = cls(**params)
        for name, value in decode(config["fitted"], arrays).items():
            setattr(obj, name, value)
        allowed = registered_head_classes()
        obj.heads_ = []
        for i, entry in enumerate(config["heads"]):
            if entry["class"] not in allowed:
                raise StateError(f"Combination member {i}: class {entry['class']!r} is not a registered head.")
            prefix = f"member{i}."
            own = {name[len(prefix):]: value for name, value in arrays.items() if name.startswith(prefix)}
            obj.heads_.append(allowed[entry["class"]]._dfi_from_state(entry["state"], own))
        obj.members_fitted_ = params["members"]
        return obj


def _fit_feature_head(head: BaseEstimator, rows: np.ndarray, y: np.ndarray, groups: np.ndarray | None) -> None:
    """Fit on photo rows ``(n, D)``, or on crop rows ``(n, V, D)`` with each photo's score (and group) per crop."""
    import inspect

    from deepfeat_iqa.runtime.threads import for_rows

    if rows.ndim == 3:  # per_crop: every crop a training row with its photo's score
        views = rows.shape[1]
        rows, y = rows.reshape(-1, rows.shape[2]), np.repeat(y, views)
        groups = None if groups is None else np.repeat(np.asarray(groups), views)
    extra = {"groups": np.asarray(groups)} if groups is not None and "groups" in inspect.signature(head.fit).parameters else {}
    with for_rows(len(rows)):
        head.fit(rows, y, **extra)


def _predict(head: BaseEstimator, rows: Any, return_std: bool = False, crop_weights: np.ndarray | None = None) -> Any:
    """A member's predictions (float64) of photo rows, of crop rows ``(n, V, D)`` as each photo's crop summary, or of photos.

    Crop rows are summarized by the mean of their crops' predictions, or, with ``crop_weights`` ``(n, V)``, by
    their weighted median (the predictive sd by the weighted mean of the crops' sds).
    """
    if not (isinstance(rows, np.ndarray) and rows.ndim == 3):
        out = head.predict(rows, return_std=True) if return_std else head.predict(rows)
        return tuple(np.asarray(o, dtype=np.float64) for o in out) if return_std else np.asarray(out, dtype=np.float64)
    n, views = rows.shape[:2]
    flat = rows.reshape(-1, rows.shape[2])
    out = head.predict(flat, return_std=True) if return_std else (head.predict(flat),)
    mean, *sd = (np.asarray(o, dtype=np.float64).reshape(n, views) for o in out)
    if crop_weights is None:
        summary = mean.mean(1), *(s.mean(1) for s in sd)
    else:
        shares = crop_weights / crop_weights.sum(axis=1, keepdims=True)
        summary = weighted_median(mean, shares), *((s * shares).sum(1) for s in sd)
    return summary if return_std else summary[0]


def _crop_weights(member: Member, dataset: Dataset) -> np.ndarray | None:
    """``(n, V)`` center-prior weights of each photo's crops for a ``center-median`` member, else None."""
    if not member.per_crop or member.crop_summary == "mean":
        return None
    from deepfeat_iqa.backbones import get_config
    from deepfeat_iqa.extraction._block import make_view

    view = make_view(member.views, 0, get_config(member.backbone))
    return np.stack([center_weights(_crop_offsets(view, _identity(path)), CROP_STRENGTH) for path in dataset.paths])


@lru_cache(maxsize=200_000)
def _crop_offsets(view: View, identity: tuple[str, int, int]) -> np.ndarray:
    """Where ``view`` cut the crops of one photo (by file identity, so a changed file is placed again)."""
    path = identity[0]
    return view.crop_offsets(*decoded_size(path, view.max_short_side()), content_digest(path))


def _crop_rows(member: Member, feats: Any) -> np.ndarray:
    """Each photo's crops ``(n, V, D)``: the member's layers concatenated per crop, as the head is fitted on them."""
    return np.concatenate([np.asarray(feats[layer].per_view, dtype=np.float32) for layer in member.layers], axis=-1)


def _head_class(name: str) -> type:
    from deepfeat_iqa.heads import HEADS

    return HEADS.get(name).target


def _reads_images(head: BaseEstimator) -> bool:
    return getattr(head, "_dfi_consumes", "features") == "images"


def _as_dataset(X: Any) -> Dataset:  # noqa: N803
    from deepfeat_iqa.extraction import as_dataset

    if hasattr(X, "dataset") and not isinstance(X, Dataset):  # features: their photos
        return X.dataset
    return as_dataset(X)


def _identity(path: str | Path) -> tuple[str, int, int]:
    resolved = Path(path).expanduser().resolve()
    stat = resolved.stat()
    return str(resolved), stat.st_size, stat.st_mtime_ns


def _key_dict(key: Any) -> dict[str, Any]:
    return key if isinstance(key, dict) else key.to_dict()


def _precision_of(key: dict[str, Any]) -> str:
    if "precision" in key:
        return key["precision"]
    return key["parts"][0]["precision"]
