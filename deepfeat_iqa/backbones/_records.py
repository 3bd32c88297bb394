"""Weights a training run made for a backbone, kept in memory and usable as ``weights=`` anywhere.

:class:`FineTunedWeights` come from ``dfi.finetune`` (seed 003 §3.3); seed 002's stage-1 weights are
:class:`deepfeat_iqa.pretrain.PretrainedWeights`. Both carry the tensors and their fingerprint, so the
store keys features made with them by what the tensors are, not by where they came from.

Both save and load through :class:`WeightsRecord`, one contract: a ``.safetensors`` file (any other suffix is
refused, on save and on load, rather than silently changed), the tensors as safetensors and every other field
as JSON in the file's metadata under the class's own key. Loading runs no code, and a file of one kind (or a
plain weights file) is never read as the other. The file is also what ``extract(weights=path)`` reads.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import torch

from deepfeat_iqa._json import json_safe
from deepfeat_iqa.backbones._weights import fingerprint_state_dict
from deepfeat_iqa.errors import ConfigError, DataError

SUFFIX = ".safetensors"

_Record = TypeVar("_Record", bound="WeightsRecord")


class WeightsRecord:
    """Save/load of a dataclass with ``tensors`` and ``fingerprint`` fields, the rest being its JSON record.

    Subclasses set :attr:`metadata_key` (the metadata entry that marks a file as theirs) and :attr:`made_by`
    (what makes such weights, for error messages).
    """

    metadata_key: ClassVar[str]
    made_by: ClassVar[str]
    tensors: dict[str, torch.Tensor]
    fingerprint: str

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The backbone's tensors; makes this object in-memory ``weights=`` for every backbone builder."""
        return dict(self.tensors)

    def save(self, path: str | Path) -> Path:
        """Write the tensors and this record as one ``.safetensors`` file (no pickle); return its path.

        Raises
        ------
        ConfigError
            When ``path`` does not end in ``.safetensors``.
        """
        from safetensors.torch import save_file

        path = self._checked_path(path)
        record = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "tensors"}  # type: ignore[arg-type]
        tensors = {k: v.detach().cpu().contiguous() for k, v in self.tensors.items()}
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".part")
        save_file(tensors, str(partial), metadata={self.metadata_key: json.dumps(json_safe(record, fallback=str))})
        partial.replace(path)
        return path

    @classmethod
    def load(cls: type[_Record], path: str | Path) -> _Record:
        """Read a file written by :meth:`save`; files of another kind are refused, naming what they lack.

        Raises
        ------
        ConfigError
            When ``path`` does not end in ``.safetensors``.
        DataError
            When the file is missing, not safetensors, holds no record of this kind, or its tensors do not
            match the fingerprint it records (changed after saving).
        """
        from safetensors import SafetensorError, safe_open

        path = cls._checked_path(path)
        if not path.is_file():
            raise DataError(f"{cls.__name__} file {str(path)!r} does not exist; write one with {cls.made_by}(...).save(path).")
        try:
            with safe_open(str(path), framework="pt") as handle:
                meta = (handle.metadata() or {}).get(cls.metadata_key)
                if meta is None:
                    raise DataError(
                        f"{str(path)!r} is a weights file but not {cls.__name__} of {cls.made_by} (no {cls.metadata_key!r} "
                        "record in its metadata); pass it as weights= to dfi.extract, which reads any .safetensors file."
                    )
                state = {k: handle.get_tensor(k) for k in handle.keys()}  # noqa: SIM118 - a safetensors handle, not a dict
        except SafetensorError as exc:
            raise DataError(f"{str(path)!r} is not a readable safetensors file ({exc}).") from exc
        try:
            weights = cls(tensors=state, **json.loads(meta))  # type: ignore[call-arg]
        except (TypeError, ValueError) as exc:
            raise DataError(f"{str(path)!r}: its {cls.__name__} record cannot be read by this version ({exc}).") from exc
        if fingerprint_state_dict(state) != weights.fingerprint:
            raise DataError(
                f"{str(path)!r}: the tensors do not match the fingerprint the file records ({weights.fingerprint[:19]}...); "
                "it was changed or damaged after saving. Copy or save it again."
            )
        return weights

    @classmethod
    def _checked_path(cls, path: str | Path) -> Path:
        path = Path(path).expanduser()
        if path.suffix != SUFFIX:
            raise ConfigError(
                f"{cls.__name__} are saved as {SUFFIX} files; got {str(path)!r}. Use {str(path.with_suffix(SUFFIX))!r}."
            )
        return path


@dataclass
class FineTunedWeights(WeightsRecord):
    """A backbone's fine-tuned tensors with their fingerprint, usable as ``weights=`` in ``dfi.extract``.

    Attributes
    ----------
    backbone:
        The registry name the tensors belong to (pass the same ``backbone=`` to ``extract``).
    tensors:
        The full backbone state dict (classifier included, untouched), named as ``build_backbone`` names it.
    fingerprint:
        ``sha256:...`` over the tensors: the weights part of the feature key the store files them under.
    info:
        How they were made: dataset, images, epochs, best epoch, validation SROCC, head parameters.
    """

    metadata_key: ClassVar[str] = "deepfeat_iqa.finetune"
    made_by: ClassVar[str] = "dfi.finetune"

    backbone: str
    tensors: dict[str, torch.Tensor]
    fingerprint: str
    info: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"FineTunedWeights(backbone={self.backbone!r}, fingerprint={self.fingerprint[:19]}..., info={self.info})"
