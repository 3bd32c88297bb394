"""JSON-safe values: the one conversion of NumPy numbers, arrays and paths for every record we write as JSON.

Model files (``persist``), result files (``evaluation.results`` and the studies) and the image heads'
recorded parameters all hold plain Python mixed with NumPy scalars (a metric is a ``np.float64``, a count
a ``np.int64``), arrays and paths, none of which ``json`` writes. Each of the three had its own converter,
and they had drifted: one turned arrays into their ``str``, one refused paths inside lists, one kept NaN.
Callers now differ only in the two things that are theirs to decide: what becomes of a value that has no
JSON form (``fallback``; by default it is refused) and whether NaN/inf are written as ``null`` (``finite``).
It imports nothing of the package, so any stage may use it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import PurePath
from typing import Any

import numpy as np


def json_safe(value: Any, *, fallback: Callable[[Any], Any] | None = None, finite: bool = False) -> Any:
    """``value`` as plain JSON data: NumPy scalars as numbers, arrays and tuples as lists, paths as strings.

    Parameters
    ----------
    value:
        Any nesting of dicts, lists and tuples.
    fallback:
        Called on a value that has no JSON form (``str``, a fingerprint, ...); ``None`` raises ``TypeError``
        naming its type, as ``json.dumps`` would.
    finite:
        Write NaN and infinities as ``None`` (JSON ``null``): the sd of one split is undefined, not a number,
        and strict JSON readers refuse ``NaN``.
    """
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, (float, np.floating)):
        number = float(value)
        return None if finite and not math.isfinite(number) else number
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, dict):
        return {_key(k): json_safe(v, fallback=fallback, finite=finite) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v, fallback=fallback, finite=finite) for v in value]
    if fallback is None:
        raise TypeError(f"{type(value).__name__} is not JSON serializable")
    return fallback(value)


def _key(key: Any) -> Any:
    """A dict key ``json`` accepts: kept when it already is one (``json`` spells it), else its ``str``."""
    if isinstance(key, np.generic):
        key = key.item()
    return key if key is None or isinstance(key, (str, int, float, bool)) else str(key)
