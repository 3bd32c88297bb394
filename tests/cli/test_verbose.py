"""The global ``--verbose`` flag: it turns on the library's INFO log lines, and only it does.

Untested before issue 22: a flag that parsed but changed nothing passed the suite. Run in-process with typer's
CliRunner and pytest's ``caplog``, which sees a record only if the library's loggers let INFO through.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from typer.testing import CliRunner

from deepfeat_iqa.cli import app

#: timm's 0.36 M-parameter test network with seeded random weights on one photo: about a second.
EXTRACT = ["--backbone", "test_efficientnet", "--weights", "random", "--num-workers", "0", "--store", "none",
           "--precision", "fp32"]  # fmt: skip


def _info_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    """INFO lines of the library, less the progress logger (which the CLI keeps at INFO either way)."""
    return [r.getMessage() for r in caplog.records
            if r.name.startswith("deepfeat_iqa") and not r.name.startswith("deepfeat_iqa.progress") and r.levelno == logging.INFO]  # fmt: skip


@pytest.fixture()
def restore_library_loggers():
    """The flag sets logger levels for the process; put them back so later tests see the defaults."""
    loggers = [logging.getLogger(), logging.getLogger("deepfeat_iqa"), logging.getLogger("deepfeat_iqa.progress")]
    levels = [logger.level for logger in loggers]
    yield
    for logger, level in zip(loggers, levels):
        logger.setLevel(level)


@pytest.mark.usefixtures("restore_library_loggers")
def test_verbose_logs_each_step_and_the_default_does_not(photo_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    photo = str(next(iter(sorted(photo_dir.iterdir()))))
    runner = CliRunner()
    quiet = runner.invoke(app, ["extract", photo, *EXTRACT])
    assert quiet.exit_code == 0, quiet.output
    assert _info_lines(caplog) == []
    caplog.clear()
    for flag in ("--verbose", "-v"):
        loud = runner.invoke(app, [flag, "extract", photo, *EXTRACT])
        assert loud.exit_code == 0, loud.output
        lines = _info_lines(caplog)
        assert any(line.startswith("Extracting 1 of 1 images") for line in lines), lines
        caplog.clear()
    again = runner.invoke(app, ["extract", photo, *EXTRACT])  # the flag does not stick to later runs
    assert again.exit_code == 0, again.output
    assert _info_lines(caplog) == []
