"""Issue 18 point 5: every shared option of the image heads (the engine's, ``TrainSettings``, and the image
head's, ``HeadOptions``) is declared once; each head's signature is generated from its own parameters plus
those options with the head's defaults, and keeps scikit-learn's get_params/set_params/clone contract."""

from __future__ import annotations

import ast
import inspect
from dataclasses import fields
from pathlib import Path

import pytest
from sklearn.base import clone
from sklearn.model_selection import ParameterGrid
from sklearn.utils import estimator_checks

import deepfeat_iqa
from deepfeat_iqa.errors import ConfigError
from deepfeat_iqa.heads import HEADS, list_heads, make_head
from deepfeat_iqa.heads.image import SHARED_OPTIONS, HeadOptions, ImageHead, SpaqHead
from deepfeat_iqa.training import TrainSettings

PACKAGE = Path(deepfeat_iqa.__file__).parent
ENGINE = [f.name for f in fields(TrainSettings) if f.name != "seed"]
SHARED = [*ENGINE, *(f.name for f in fields(HeadOptions))]
#: Every registered head trained end to end by the engine (``combination`` also takes images, but is no ImageHead).
IMAGE_HEADS = sorted({t for t in (HEADS.get(n).target for n in list_heads("images")) if issubclass(t, ImageHead)},
                     key=lambda cls: cls.__name__)  # fmt: skip

#: Each head's paper recipe: the shared options whose defaults differ from TrainSettings / HeadOptions.
#: Written out here on purpose (not read from the classes), so a changed default fails a test.
RECIPES = {
    "SpaqHead": {"trunk_lr": 1e-4, "freeze_trunk_epochs": 1, "val_views": "random2"},
    "DCNNS": {"epochs": 50, "batch_size": 4, "optimizer": "adam", "weight_decay": 0.0, "schedule": "constant",
              "crops_per_image": 32, "target_level": "patch", "precision": "fp32", "crop_size": 64, "test_views": "patches"},
    "CNNIQA": {"epochs": 50, "batch_size": 4, "optimizer": "adam", "weight_decay": 0.0, "schedule": "constant",
               "crops_per_image": 32, "target_level": "patch", "precision": "fp32", "crop_size": 32},
    "QualityAwareFineTune": {"batch_size": 8, "optimizer": "adam", "lr": 1e-5, "trunk_lr": 1e-5, "weight_decay": 0.0,
                             "schedule": "constant", "crops_per_image": 4, "target_level": "patch",
                             "val_fraction": 0.0, "test_views": "random60", "val_views": "random10"},
}  # fmt: skip


def test_the_shared_options_are_the_engine_fields_and_the_head_options():
    assert list(SHARED_OPTIONS) == SHARED
    assert len(SHARED) == 29
    declared = {f.name: f.default for f in (*fields(TrainSettings), *fields(HeadOptions))}
    assert all(SHARED_OPTIONS[name].default == declared[name] for name in SHARED)


def test_every_image_head_is_covered():
    assert {cls.__name__ for cls in IMAGE_HEADS} == set(RECIPES)


@pytest.mark.parametrize("cls", IMAGE_HEADS, ids=lambda cls: cls.__name__)
def test_every_image_head_signature_holds_every_shared_option_with_its_defaults(cls):
    parameters = inspect.signature(cls).parameters
    assert set(SHARED) <= set(parameters)
    assert list(parameters)[-len(SHARED):] == SHARED  # own parameters first, then the options in declared order
    recipe = RECIPES[cls.__name__]
    for name in SHARED:
        expected = recipe.get(name, SHARED_OPTIONS[name].default)
        assert parameters[name].default == expected, name
        assert parameters[name].kind is inspect.Parameter.KEYWORD_ONLY
    head = cls()
    assert head.get_params(deep=False) == {name: p.default for name, p in parameters.items()}
    assert head._settings() == TrainSettings(seed=0, **{name: parameters[name].default for name in ENGINE})


@pytest.mark.parametrize("cls", IMAGE_HEADS, ids=lambda cls: cls.__name__)
def test_every_image_head_keeps_scikit_learns_contract(cls):
    head = cls()
    estimator_checks.check_parameters_default_constructible(cls.__name__, head)
    estimator_checks.check_get_params_invariance(cls.__name__, head)
    estimator_checks.check_no_attributes_set_in_init(cls.__name__, head)
    changed = cls(epochs=3, lr=0.01, random_state=7)
    copy = clone(changed)
    assert copy is not changed and copy.get_params() == changed.get_params()
    assert repr(changed) == f"{cls.__name__}(epochs=3, lr=0.01, random_state=7)"
    for grid in ParameterGrid({"lr": [1e-4, 1e-3], "epochs": [2]}):  # what a grid search does
        candidate = clone(head).set_params(**grid)
        assert candidate._settings().lr == grid["lr"] and candidate._settings().epochs == 2


def test_make_head_takes_shared_and_own_options():
    head = make_head("spaq-mt-e", epochs=8, lr=3e-4, dropout=0.1, random_state=5)
    assert (head.task, head.epochs, head.lr, head.dropout) == ("mt-e", 8, 3e-4, 0.1)
    settings = head._settings()
    assert (settings.epochs, settings.lr, settings.trunk_lr, settings.seed) == (8, 3e-4, 1e-4, 5)


def test_unknown_keywords_are_refused_with_the_valid_names():
    with pytest.raises(ConfigError, match=r"SpaqHead has no parameter 'epoch' \(did you mean 'epochs'\?\)") as info:
        SpaqHead(epoch=8)
    assert "Valid parameters: " in str(info.value) and "freeze_trunk_epochs" in str(info.value)
    with pytest.raises(ConfigError, match="has no parameter 'epoch'"):
        make_head("spaq-bl", epoch=8)
    with pytest.raises(TypeError):
        SpaqHead("bl")  # keyword-only, as before


def test_a_subclass_changes_defaults_without_restating_options():
    class Short(SpaqHead):
        option_defaults = {"epochs": 2}

    head = Short(task="mt-a")
    assert (head.task, head.epochs, head.trunk_lr, head.val_views) == ("mt-a", 2, 1e-4, "random2")
    assert inspect.signature(Short).parameters["epochs"].default == 2


def test_declaring_a_shared_option_in_a_head_fails_at_class_creation():
    with pytest.raises(TypeError, match="'lr', a shared option"):

        class Again(SpaqHead):
            def __init__(self, *, lr: float = 0.1):
                self.lr = lr

    with pytest.raises(TypeError, match="not shared options"):

        class Stray(SpaqHead):
            option_defaults = {"learning_rate": 0.1}


def _string_lists(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            yield [e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]


def test_no_module_declares_the_shared_options_again():
    """Scan the package source: no ``__init__`` in ``heads/image`` takes a shared option, and no module spells
    out a list of them (as ``COMMON_PARAMS`` did), except the two modules that declare them."""
    declared_in = {PACKAGE / "training" / "_settings.py", PACKAGE / "heads" / "image" / "_base.py"}
    shared = set(SHARED)
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        where = path.relative_to(PACKAGE)
        if path.parent == PACKAGE / "heads" / "image":
            for node in ast.walk(tree):
                if isinstance(node, ast.FunctionDef) and node.name == "__init__":
                    names = {a.arg for a in (*node.args.args, *node.args.kwonlyargs)} & shared
                    offenders += [f"{where}:{node.lineno} __init__ takes {sorted(names)}"] if names else []
        if path not in declared_in:
            for strings in _string_lists(tree):
                if len(shared.intersection(strings)) >= 5:
                    offenders.append(f"{where}: a list of shared option names {strings[:6]}")
    assert not offenders, offenders
