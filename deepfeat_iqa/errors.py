"""One exception hierarchy so callers can catch everything this library raises on purpose."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class DeepfeatError(Exception):
    """Base class of every error deepfeat-iqa raises deliberately."""


class ConfigError(DeepfeatError, ValueError):
    """An argument names something that does not exist or has an invalid value."""


class DataError(DeepfeatError, ValueError):
    """An image, label file or dataset layout is missing, unreadable or inconsistent."""


class ModelFileError(DataError):
    """A path is not a deepfeat-iqa model file, or is one that is unsafe to load without ``trusted=True``."""


class ModelFileDamagedError(ModelFileError):
    """A deepfeat-iqa model file that was cut short or changed after saving (truncated copy, bad disk, edit)."""


class ModelVersionError(DataError):
    """A deepfeat-iqa model file written by another version: newer format, or a head class that moved."""


class WeightsError(DeepfeatError, RuntimeError):
    """Model weights could not be found, downloaded or loaded."""


class StoreError(DeepfeatError, RuntimeError):
    """The feature store holds data that does not match the request, or cannot be written."""


class FeatureKeyError(DeepfeatError, ValueError):
    """A fitted model was given features of another kind (backbone, layer, pooling, ...)."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during a long job; the message says how much was saved and that a rerun resumes.

    A ``KeyboardInterrupt`` (so ``except Exception`` still does not swallow it), carrying the count.
    """


def unknown_name_error(kind: str, name: str, known: Iterable[str]) -> ConfigError:
    """Build the error for an unknown ``name`` of ``kind``, suggesting the closest known names.

    Used by every registry so misspelled backbones, layers, databases and heads all read alike.
    """
    known = sorted(known)
    close = difflib.get_close_matches(str(name), known, n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    shown = ", ".join(known[:40]) + (" ..." if len(known) > 40 else "")
    return ConfigError(f"Unknown {kind} {name!r}.{hint} Known: {shown}")


class UnknownParameterError(ConfigError):
    """Keywords a head does not take; ``owner``, ``unknown`` and ``valid`` let a caller say it in its own terms.

    ``fit``/``evaluate`` pass their unknown keywords on to the head, so they catch this and name their own
    parameter the user most likely meant (``repeats=`` -> ``n=``) instead of checking the options again.
    """

    def __init__(self, owner: str, unknown: Iterable[str], valid: Iterable[str]) -> None:
        self.owner, self.unknown, self.valid = owner, sorted(unknown), sorted(valid)
        hints = {name: difflib.get_close_matches(name, self.valid, n=1) for name in self.unknown}
        shown = ", ".join(f"{name!r}" + (f" (did you mean {hint[0]!r}?)" if hint else "") for name, hint in hints.items())
        super().__init__(f"{owner} has no parameter {shown}. Valid parameters: {', '.join(self.valid)}.")


def unknown_parameter_error(owner: str, unknown: Iterable[str], valid: Iterable[str]) -> UnknownParameterError:
    """Build the error for keywords that ``owner`` (a head class name) does not take, listing the valid ones.

    ``make_head`` and the image heads' generated constructors raise it alike.
    """
    return UnknownParameterError(owner, unknown, valid)


class TrainingError(DeepfeatError, RuntimeError):
    """Training an image head diverged or cannot continue (NaN/inf loss, a checkpoint of other settings)."""


def user_stacklevel() -> int:
    """The ``stacklevel`` that points a warning at the first caller outside this package.

    A fixed number breaks whenever a call passes through one more of our frames (a keyword shim of
    ``_moved.renamed_keywords``, a helper); counting our frames finds the user's line wherever the warning
    is raised from.
    """
    import os
    import sys

    package = os.path.dirname(os.path.abspath(__file__)) + os.sep
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_code.co_filename.startswith(package):
        frame, level = frame.f_back, level + 1
    return level
