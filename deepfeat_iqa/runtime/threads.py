"""How many threads a head may use: one for small problems, so a busy machine costs only its share.

Why: a head fit on a few hundred rows runs thousands of tiny torch / BLAS operations. With the
libraries' default of one thread per core, every one of them is an OpenMP (or OpenBLAS) parallel
region whose threads wait for each other; when another process holds a core, the waiting thread
spins or sleeps until the scheduler brings the other one back, and the fit collapses: on the shared
2-core machine one GPR fit on 218 rows took 38-41 s with the default 2 threads beside other work, 3.8 s
with torch on 1 thread, and 1.1-1.2 s with torch, OpenBLAS and OpenMP all on 1 thread
(docs/threads.md, ``benchmarks/contention.py``). Such problems are too small to gain from a second
thread even on an idle machine, so below :data:`SINGLE_THREAD_BELOW` rows every thread pool (torch's
intra-op pool, OpenBLAS/MKL, OpenMP through threadpoolctl) is held to one thread while a head fits
or predicts; larger problems keep the libraries' defaults, where each operation is long enough to
amortize the synchronization.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

from deepfeat_iqa.errors import ConfigError

#: Heads fit or predict on fewer rows than this with one thread per library (see the module docstring).
SINGLE_THREAD_BELOW = 4096

#: Environment variable that overrides the rule: a thread count, or ``0`` for the libraries' defaults.
THREADS_ENV = "DEEPFEAT_IQA_HEAD_THREADS"


def head_threads(n_rows: int) -> int | None:
    """Threads for a head working on ``n_rows`` rows: 1 below :data:`SINGLE_THREAD_BELOW`, else ``None`` (defaults).

    ``$DEEPFEAT_IQA_HEAD_THREADS`` overrides it (``0``: always the defaults, the behaviour before 0.1.1).
    """
    forced = os.environ.get(THREADS_ENV, "").strip()
    if forced:
        if not forced.isdigit():
            raise ConfigError(f"${THREADS_ENV}={forced!r} must be a thread count (0 = the libraries' defaults).")
        return int(forced) or None
    return 1 if n_rows < SINGLE_THREAD_BELOW else None


@contextmanager
def limit_threads(n_threads: int | None) -> Iterator[None]:
    """Hold torch's intra-op pool and every threadpoolctl-visible pool (BLAS, OpenMP) to ``n_threads``.

    ``None`` changes nothing. torch is limited only if it is already imported (a head that uses it
    imported it when it was built), so limiting never imports torch for a scikit-learn head.
    """
    if n_threads is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    torch = sys.modules.get("torch")
    saved = torch.get_num_threads() if torch is not None else None
    with threadpool_limits(limits=n_threads):
        if torch is not None:
            torch.set_num_threads(n_threads)
        try:
            yield
        finally:
            if torch is not None:
                torch.set_num_threads(saved)


def for_rows(n_rows: int) -> AbstractContextManager[None]:
    """``limit_threads(head_threads(n_rows))``: the context every fit and predict of a head runs in."""
    return limit_threads(head_threads(n_rows))
