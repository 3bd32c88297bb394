"""Extraction-area fixtures."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture()
def one_thread() -> None:
    """Run torch on one thread, so feature values from separate runs and processes are bit-identical."""
    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(saved)
