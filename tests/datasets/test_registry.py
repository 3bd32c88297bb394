"""The loader registry: sorted names, aliases, duplicate registration, and the package exports."""

from __future__ import annotations

import copy

import pytest

import deepfeat_iqa as dfi
from deepfeat_iqa.datasets import _registry
from deepfeat_iqa.datasets import list_datasets, register_dataset

CANONICAL = ["csiq", "folder", "kadid10k", "koniq10k", "live", "livec", "scpqd2020", "spaq", "synth", "tid2008", "tid2013"]


def test_list_datasets_is_sorted_and_complete() -> None:
    assert list_datasets() == CANONICAL


@pytest.mark.parametrize(
    ("alias", "canonical"),
    [("clive", "livec"), ("LIVE-itw", "livec"), ("KonIQ-10k", "koniq10k"), ("kadid_10k", "kadid10k"),
     ("TID2013", "tid2013"), ("scpqd", "scpqd2020"), ("live2", "live")],
)
def test_aliases_resolve(alias: str, canonical: str) -> None:
    assert _registry.resolve_name(alias) == canonical


def test_registering_a_name_twice_warns_and_the_later_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_registry, "DATASETS", copy.deepcopy(_registry.DATASETS))
    with pytest.warns(UserWarning, match="'spaq' registered twice"):
        replacement = register_dataset("spaq")(lambda root: root)
    assert _registry.DATASETS.get("spaq").target is replacement


def test_package_exports_the_loaders() -> None:
    for name in ("load", "list_datasets", "load_folder", "load_live", "load_csiq", "load_tid2008", "load_tid2013",
                 "load_kadid10k", "load_livec", "load_koniq10k", "load_spaq", "load_scpqd2020", "Dataset", "Scale"):
        assert hasattr(dfi.datasets, name)
