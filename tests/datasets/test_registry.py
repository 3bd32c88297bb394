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
    """Each exported ``load_<db>`` is the function ``load("<db>", ...)`` dispatches to (``hasattr`` alone passed
    with a stub or with two loaders swapped), and ``list_datasets`` names every one of them."""
    loaders = {"folder": "load_folder", "live": "load_live", "csiq": "load_csiq", "tid2008": "load_tid2008",
               "tid2013": "load_tid2013", "kadid10k": "load_kadid10k", "livec": "load_livec",
               "koniq10k": "load_koniq10k", "spaq": "load_spaq", "scpqd2020": "load_scpqd2020"}  # fmt: skip
    for name, attribute in loaders.items():
        assert getattr(dfi.datasets, attribute) is _registry.DATASETS.get(name).target, attribute
    assert set(loaders) <= set(dfi.datasets.list_datasets())
    assert dfi.datasets.load is _registry.load and dfi.datasets.list_datasets is _registry.list_datasets
    assert isinstance(dfi.datasets.Dataset, type) and isinstance(dfi.datasets.Scale, type)
