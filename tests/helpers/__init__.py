"""Code the tests share that is not a fixture: importable as ``helpers`` (pytest puts ``tests/`` on ``sys.path``,
``pythonpath`` in pyproject.toml), also from the subprocesses some tests start (``PYTHONPATH=tests``)."""

from pathlib import Path

#: The ``tests/`` folder: subprocesses that import ``helpers`` put it on their ``PYTHONPATH``.
TESTS = Path(__file__).resolve().parents[1]
#: The repository root.
REPO_ROOT = TESTS.parent
