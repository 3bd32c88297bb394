"""A head's fitted state as JSON plus named arrays, so a model file can be read without running its code.

Pickle rebuilds objects by calling whatever the file names, which is why loading a pickle can run
arbitrary code. Here the file only ever holds data: numbers, strings, lists, and arrays stored
apart (safetensors). Objects are rebuilt only for classes on an explicit allow-list
(:func:`register_state_type`): the class is looked up by name in that list, created without
calling ``__init__`` and given its stored attributes back, which is what unpickling does too,
minus the freedom to call anything else.

Every head of ours inherits :class:`StateMixin`, whose ``_dfi_state`` / ``_dfi_from_state`` pair
is the protocol :mod:`deepfeat_iqa.persist` writes and reads (see ``docs/trust.md``).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import torch

from deepfeat_iqa.errors import DataError

#: Qualified class name -> class, for the objects a stored state may rebuild.
_STATE_TYPES: dict[str, type] = {}
#: torch modules a state may rebuild: constructed from their stored ``spec`` by our own code.
_MODULE_TYPES: dict[str, type] = {}


def qualified_name(cls: type) -> str:
    """``module.QualName`` of a class: what the manifest records and the allow-lists are keyed by."""
    return f"{cls.__module__}.{cls.__qualname__}"


def register_state_type(cls: type) -> type:
    """Allow a class's instances inside a stored state (its attributes are stored and restored)."""
    _STATE_TYPES[qualified_name(cls)] = cls
    return cls


def register_module_type(cls: type) -> type:
    """Allow a ``torch.nn.Module`` class built as ``cls(spec)`` inside a stored state (weights in arrays)."""
    _MODULE_TYPES[qualified_name(cls)] = cls
    return cls


class StateError(DataError):
    """A value cannot be stored in, or restored from, the safe format."""


def encode(value: Any, arrays: dict[str, np.ndarray], name: str) -> Any:
    """``value`` as JSON-able data; arrays and tensors go to ``arrays`` under names starting with ``name``."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "OUS":
            return {"__strarray__": [str(v) for v in value.ravel().tolist()], "shape": list(value.shape)}
        arrays[name] = np.ascontiguousarray(value)
        return {"__array__": name}
    if isinstance(value, torch.Tensor):
        arrays[name] = np.ascontiguousarray(value.detach().cpu().numpy())
        return {"__tensor__": name}
    if isinstance(value, torch.nn.Module):
        cls_name = qualified_name(type(value))
        if cls_name not in _MODULE_TYPES:
            raise StateError(f"{name}: torch module {cls_name} is not registered for safe model files.")
        state = {k: encode(v, arrays, f"{name}.{k}") for k, v in value.state_dict().items()}
        return {"__module__": cls_name, "spec": encode(value.spec, arrays, f"{name}.spec"), "state": state}
    if isinstance(value, tuple):
        return {"__tuple__": [encode(v, arrays, f"{name}.{i}") for i, v in enumerate(value)]}
    if isinstance(value, list):
        return [encode(v, arrays, f"{name}.{i}") for i, v in enumerate(value)]
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value):
            return {"__dict__": {k: encode(v, arrays, f"{name}.{k}") for k, v in value.items()}}
        return {"__items__": [[encode(k, arrays, f"{name}.{i}k"), encode(v, arrays, f"{name}.{i}")] for i, (k, v) in enumerate(value.items())]}
    cls_name = qualified_name(type(value))
    if cls_name in _STATE_TYPES:
        fields = vars(value)
        return {"__object__": cls_name, "state": {k: encode(v, arrays, f"{name}.{k}") for k, v in fields.items()}}
    raise StateError(
        f"{name}: a {cls_name} cannot be stored in a safe model file (not an array, number, string or registered "
        "type); register the type with deepfeat_iqa.heads.register_state_type, or save_model(..., format='pickle')."
    )


def decode(node: Any, arrays: dict[str, np.ndarray]) -> Any:
    """Inverse of :func:`encode`; refuses any class that is not on the allow-lists."""
    if isinstance(node, list):
        return [decode(v, arrays) for v in node]
    if not isinstance(node, dict):
        return node
    if "__array__" in node:
        return _array(node["__array__"], arrays)
    if "__tensor__" in node:
        return torch.from_numpy(np.array(_array(node["__tensor__"], arrays)))
    if "__strarray__" in node:
        return np.asarray(node["__strarray__"], dtype=str).reshape(node["shape"])
    if "__tuple__" in node:
        return tuple(decode(v, arrays) for v in node["__tuple__"])
    if "__dict__" in node:
        return {k: decode(v, arrays) for k, v in node["__dict__"].items()}
    if "__items__" in node:
        return {_hashable(decode(k, arrays)): decode(v, arrays) for k, v in node["__items__"]}
    if "__module__" in node:
        cls = _lookup(node["__module__"], _MODULE_TYPES)
        module = cls(decode(node["spec"], arrays))
        module.load_state_dict({k: decode(v, arrays) for k, v in node["state"].items()})
        return module.double().eval()
    if "__object__" in node:
        cls = _lookup(node["__object__"], _STATE_TYPES)
        return restore_object(cls, {k: decode(v, arrays) for k, v in node["state"].items()})
    raise StateError(f"Unknown entry in a stored state (keys {sorted(node)}); the file was written by another version.")


def restore_object(cls: type, attributes: dict[str, Any]) -> Any:
    """An instance of ``cls`` with ``attributes``, created without ``__init__`` (as unpickling does)."""
    obj = cls.__new__(cls)
    # options renamed since the file was written (an image head's 0.1 ``crop`` is ``crop_size`` now)
    for old, new in getattr(cls, "RENAMED_OPTIONS", {}).items():
        if old in attributes and new not in attributes:
            attributes = {**attributes, new: attributes[old]}
            del attributes[old]
    obj.__dict__.update(attributes)  # bypasses frozen dataclasses' __setattr__, as pickle does
    return obj


def _array(name: str, arrays: dict[str, np.ndarray]) -> np.ndarray:
    if name not in arrays:
        raise StateError(f"The stored state names array {name!r}, which the file does not hold.")
    return arrays[name]


def _hashable(key: Any) -> Any:
    return tuple(_hashable(k) for k in key) if isinstance(key, list) else key


def _lookup(name: str, allowed: dict[str, type]) -> type:
    if name not in allowed:
        raise StateError(
            f"The model file asks for class {name!r}, which is not on the allow-list of types a safe model file may "
            "hold; it was written by another version of deepfeat-iqa, or the class moved."
        )
    return allowed[name]


class StateMixin:
    """``_dfi_state`` / ``_dfi_from_state`` for an estimator whose fitted attributes are data.

    Every instance attribute (constructor parameters and fitted ``*_`` attributes) is encoded;
    names in ``_dfi_transient`` (caches, live handles) are left out and rebuilt by
    :meth:`_dfi_restored`.
    """

    #: Attributes not stored (caches, open studies), rebuilt or dropped after loading.
    _dfi_transient: tuple[str, ...] = ()

    def _dfi_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """(JSON-able config, named arrays) holding the parameters and the fitted state."""
        arrays: dict[str, np.ndarray] = {}
        attributes = {k: v for k, v in vars(self).items() if k not in self._dfi_transient}
        config = {k: encode(v, arrays, k) for k, v in attributes.items()}
        return config, arrays

    @classmethod
    def _dfi_from_state(cls, config: dict[str, Any], arrays: dict[str, np.ndarray]) -> Any:
        """The fitted estimator back from :meth:`_dfi_state`'s output."""
        obj = restore_object(cls, {k: decode(v, arrays) for k, v in config.items()})
        obj._dfi_restored()
        return obj

    def _dfi_restored(self) -> None:
        """Rebuild transient attributes after loading (nothing by default)."""


def register_dataclass_types(*classes: type) -> None:
    """Allow several plain dataclasses at once (they hold only data)."""
    for cls in classes:
        if not dataclasses.is_dataclass(cls):
            raise TypeError(f"{cls.__name__} is not a dataclass")
        register_state_type(cls)
