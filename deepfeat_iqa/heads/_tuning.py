"""Seeded, resumable optuna search over the hyperparameters a head's own fit cannot choose."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import optuna

from deepfeat_iqa.runtime.progress import Progress
from deepfeat_iqa.errors import ConfigError

logger = logging.getLogger(__name__)

#: Samplers by name. ``"gp"`` is optuna's GPSampler, itself a Matern-5/2 Gaussian process, which
#: suits a handful of smooth, expensive trials; ``"tpe"`` copes better with many categorical choices.
SAMPLERS: dict[str, Callable[[int | None], optuna.samplers.BaseSampler]] = {
    "gp": lambda seed: optuna.samplers.GPSampler(seed=seed, n_startup_trials=5),
    "tpe": lambda seed: optuna.samplers.TPESampler(seed=seed, n_startup_trials=5),
}


def default_study_name(prefix: str, X: np.ndarray, y: np.ndarray, **settings: Any) -> str:
    """A study name tied to the data and search settings.

    A stored study is only worth resuming with the same training rows and objective; naming it by
    a digest of both means a later fit on the same data resumes it, while a fit on other data
    starts its own study in the same storage instead of mixing incomparable objective values.
    """
    digest = hashlib.sha1()
    digest.update(np.ascontiguousarray(X).tobytes())
    digest.update(np.ascontiguousarray(y).tobytes())
    digest.update(repr(sorted(settings.items())).encode())
    return f"{prefix}-{digest.hexdigest()[:12]}"


def run_search(
    objective: Callable[[dict[str, Any]], float],
    space: Callable[[optuna.Trial], dict[str, Any]],
    *,
    n_trials: int,
    direction: str,
    sampler: str,
    seed: int | None,
    storage: str | None,
    study_name: str,
    start: Mapping[str, Any],
    client: Any = None,
) -> optuna.Study:
    """Run (or resume) a study until it holds ``n_trials`` completed trials.

    Parameters
    ----------
    objective : callable
        Maps a parameter dict to the value to optimize; it may return NaN for a failed candidate,
        which optuna records as a failed trial and the search goes on.
    space : callable
        Draws a parameter dict from an optuna trial.
    n_trials : int
        Completed trials the study should hold. Counting the total rather than new trials makes a
        re-run after a crash finish only the missing ones, and a larger value extend the search.
    direction : {"maximize", "minimize"}
        Optimization direction of ``objective``.
    sampler : {"gp", "tpe"}
        Key of :data:`SAMPLERS`.
    seed : int or None
        Sampler seed.
    storage : str or None
        Optuna storage URL (e.g. ``"sqlite:///tuning.db"``); ``None`` keeps the study in memory.
    study_name : str
        Name of the study in ``storage``; an existing study of that name is resumed.
    start : mapping
        Parameters of the untuned estimator, enqueued as the first trial of a new study so the
        best trial can never be worse than not tuning.
    client : dask.distributed.Client, str or None
        Run trials on every Dask worker at once (a Client, a scheduler address or ``"local"``), all
        against ``storage``, which must then be an RDB URL every worker reaches: a SQLite file on a
        shared disk for a few workers, PostgreSQL (``postgresql://user:pw@host/db``) for many.

    Returns
    -------
    optuna.Study
        The study, holding every trial so far.
    """
    if sampler not in SAMPLERS:
        raise ConfigError(f"tune_sampler={sampler!r} is not known; use one of {sorted(SAMPLERS)}.")
    if client is not None and storage is None:
        raise ConfigError(
            "Tuning on Dask workers needs a shared optuna storage: pass tune_storage='sqlite:///path/on/shared/disk.db' "
            "(a few workers) or a PostgreSQL URL (many)."
        )
    study = optuna.create_study(
        storage=storage,
        study_name=study_name,
        sampler=SAMPLERS[sampler](seed),
        direction=direction,
        load_if_exists=True,
    )
    if not study.trials:
        study.enqueue_trial(dict(start))
    done = sum(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
    remaining = max(n_trials - done, 0)
    logger.info("Study %r holds %d completed trials; running %d more.", study_name, done, remaining)

    def _objective(trial: optuna.Trial) -> float:
        return objective(space(trial))

    if remaining and client is not None:
        _optimize_on_workers(client, objective, space, n_trials=n_trials, sampler=sampler, seed=seed, storage=storage, study_name=study_name)
        study = optuna.load_study(study_name=study_name, storage=storage, sampler=SAMPLERS[sampler](seed))
    elif remaining:
        # Count completed trials only, so failed candidates do not eat the budget.
        callback = optuna.study.MaxTrialsCallback(n_trials, states=(optuna.trial.TrialState.COMPLETE,))
        with Progress(remaining, f"tune {study_name}", "trial") as bar:

            def count(_study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
                if trial.state == optuna.trial.TrialState.COMPLETE:
                    bar.update()

            study.optimize(_objective, n_trials=remaining + 2 * n_trials, callbacks=[callback, count])
    if not any(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials):
        raise ConfigError(
            f"Every trial of study {study_name!r} failed; see the logged reasons. Widen the search "
            "(raise the noise floor range) or fit with tune_trials=0."
        )
    return study


def _worker_trials(
    objective: Callable[[dict[str, Any]], float],
    space: Callable[[optuna.Trial], dict[str, Any]],
    n_trials: int,
    sampler: str,
    seed: int | None,
    storage: str,
    study_name: str,
) -> int:
    """One Dask task: draw and run trials of the shared study until it holds ``n_trials`` completed ones."""
    from distributed import get_worker

    address = get_worker().address
    study = optuna.load_study(study_name=study_name, storage=storage, sampler=SAMPLERS[sampler](seed))
    callback = optuna.study.MaxTrialsCallback(n_trials, states=(optuna.trial.TrialState.COMPLETE,))

    def _objective(trial: optuna.Trial) -> float:
        trial.set_user_attr("dask_worker", address)  # which worker ran it, for the record
        return objective(space(trial))

    study.optimize(_objective, n_trials=3 * n_trials, callbacks=[callback])
    return sum(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)


def _optimize_on_workers(
    client: Any,
    objective: Callable[[dict[str, Any]], float],
    space: Callable[[optuna.Trial], dict[str, Any]],
    *,
    n_trials: int,
    sampler: str,
    seed: int | None,
    storage: str,
    study_name: str,
) -> None:
    """One trial loop per Dask worker, all on one storage; each worker's sampler gets its own seed.

    The storage is the only thing the workers share: optuna's RDB storage hands each worker the
    trials the others finished (the sampler conditions on them) and the completed-trial cap stops
    every loop once the study holds ``n_trials``.
    """
    from deepfeat_iqa.runtime.cluster import connect

    with connect(client) as live:
        workers = sorted(live.scheduler_info()["workers"])
        futures = [
            live.submit(
                _worker_trials, objective, space, n_trials, sampler, None if seed is None else seed + 1 + index,
                storage, study_name, workers=[address], pure=False,
            )
            for index, address in enumerate(workers)
        ]
        done = live.gather(futures)
    logger.info("Study %r: trials ran on %d Dask workers; %d completed.", study_name, len(workers), max(done, default=0))
