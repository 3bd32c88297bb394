"""One registry mechanism for every named thing a user picks by string: backbones, databases, heads.

As in timm's model registry, a name is filed once by a decorator (or by an explicit :meth:`Registry.add`),
looked up case- and separator-insensitively (``KonIQ-10k`` = ``koniq_10k`` = ``koniq10k``, ``spaq_bl`` =
``spaq-bl``), and an unknown name is an error that suggests the closest ones. An entry may be *lazy*: a
``"module:attribute"`` string resolved on first use, so a package can list what lives in a later stage
(``"deepfeat_iqa.heads.image._spaq:SpaqHead"``) without importing it, which is what keeps the import graph
free of cycles. An entry may carry a *preset* of keyword arguments the name implies
(``"spaq-mt-e"`` → ``SpaqHead(task="mt-e")``).

A name registered twice warns (even for the same object: a module imported twice under two names is a bug
worth seeing) and the later entry wins, so a user can replace a built-in on purpose in a
notebook while an accidental clash between two modules stays visible.
"""

from __future__ import annotations

import importlib
import re
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from deepfeat_iqa.errors import ConfigError, unknown_name_error

T = TypeVar("T")


def normalize(name: str) -> str:
    """Lower-case and without separators: the form two spellings of one name share."""
    return re.sub(r"[\s_\-.]", "", str(name).lower())


@dataclass
class Entry(Generic[T]):
    """A registered object (or its ``"module:attribute"`` path until first use) and its preset."""

    name: str
    target: T | str
    preset: dict[str, Any] = field(default_factory=dict)

    def load(self) -> T:
        if isinstance(self.target, str):
            module, _, attribute = self.target.partition(":")
            self.target = getattr(importlib.import_module(module), attribute)
        return self.target  # type: ignore[return-value]

    def describe(self) -> str:
        target = self.target
        return target.rpartition(":")[2] if isinstance(target, str) else getattr(target, "__name__", repr(target))


class Registry(Generic[T]):
    """Canonical name → :class:`Entry`, in registration order, with aliases.

    Parameters
    ----------
    kind:
        What the names name (``"backbone"``, ``"database"``, ``"head"``), for messages.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Entry[T]] = {}
        self._lookup: dict[str, str] = {}  # normalized name or alias -> canonical name

    def add(self, name: str, target: T | str, *, aliases: Iterable[str] = (), **preset: Any) -> None:
        """File ``target`` (an object, or a lazy ``"module:attribute"``) under ``name`` and ``aliases``."""
        old = self._entries.get(name)
        if old is not None:
            warnings.warn(
                f"{self.kind.capitalize()} {name!r} registered twice: {name!r} was registered for {old.describe()}; "
                f"the later one wins.",
                UserWarning,
                stacklevel=3,
            )
        self._entries[name] = Entry(name, target, dict(preset))
        for alias in (name, *aliases):
            self._lookup[normalize(alias)] = name

    def register(self, name: str | None = None, *, aliases: Iterable[str] = (), **preset: Any) -> Callable[[T], T]:
        """Decorator form of :meth:`add`; without ``name`` the object's ``__name__`` is the name."""

        def decorate(target: T) -> T:
            self.add(name or target.__name__, target, aliases=aliases, **preset)  # type: ignore[attr-defined]
            return target

        return decorate

    def remove(self, name: str) -> None:
        """Forget ``name`` and its aliases (tests and notebooks that registered something temporary)."""
        canonical = self.canonical(name)
        del self._entries[canonical]
        for key in [key for key, value in self._lookup.items() if value == canonical]:
            del self._lookup[key]

    def find(self, name: str) -> str | None:
        """The canonical name for ``name`` or an alias of it, or None."""
        return self._lookup.get(normalize(name))

    def canonical(self, name: str) -> str:
        """The canonical name, or a ``ConfigError`` suggesting the closest names."""
        found = self.find(name)
        if found is None:
            raise self.unknown(name)
        return found

    def unknown(self, name: str, *, extra: Iterable[str] = ()) -> ConfigError:
        """The error for a name that is not here, suggesting the closest names (``extra`` adds candidates)."""
        return unknown_name_error(self.kind, name, dict.fromkeys([*self._entries, *extra]))

    def get(self, name: str) -> Entry[T]:
        """The entry for ``name`` (its target loaded)."""
        entry = self._entries[self.canonical(name)]
        entry.load()
        return entry

    def names(self) -> list[str]:
        """Canonical names in registration order."""
        return list(self._entries)

    def entries(self) -> Iterator[Entry[T]]:
        """Every entry, its target loaded."""
        for entry in self._entries.values():
            entry.load()
            yield entry

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.find(name) is not None

    def __len__(self) -> int:
        return len(self._entries)
