"""Store-area fixtures."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture()
def one_thread() -> None:
    """Run torch on one thread, so features computed in separate runs are bit-identical."""
    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(saved)
