"""``deepfeat-iqa sweep FILE`` and ``deepfeat-iqa cross FILE``: run an experiment file (one per seed table)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from deepfeat_iqa.cli._app import app
from deepfeat_iqa.cli._options import Client, client_arg

RootOption = Annotated[list[str], typer.Option("--root", help="NAME=DIR: where dataset NAME of the file lives; repeat per dataset.")]
SmokeOption = Annotated[bool, typer.Option("--smoke", help="Offline check: synthetic sets from pristine photos, random weights except EfficientNet-Lite.")]
ReferencesOption = Annotated[Path | None, typer.Option("--references", help="Pristine photos for --smoke (default $DEEPFEAT_IQA_PRISTINE, shared/data/pristine, or bundled photos).")]
BackbonesOption = Annotated[str | None, typer.Option("--backbones", help="Comma-separated backbones replacing the file's (e.g. to smoke-test a subset).")]
OutOption = Annotated[Path, typer.Option("--out", help="Folder for <name>.md, <name>.json, <name>.png and <name>.html (heatmap with its tables).")]
ResultsOption = Annotated[Path | None, typer.Option("--results", help="SQLite results store (default <out>/<name>.db); rerun to resume.")]
StoreOption = Annotated[str, typer.Option("--store", help="Feature store directory; 'cache' is the user cache.")]
JobsOption = Annotated[int, typer.Option("--n-jobs", help="Cells evaluated in parallel processes.")]
ExtendOption = Annotated[bool, typer.Option("--extend", help="Add this definition to a results store written by another one.")]
DryOption = Annotated[bool, typer.Option("--dry-run", help="Validate the file and roots, print the plan, compute nothing.")]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")]


def _run(kind: str, file: Path, roots: list[str], smoke: bool, references: Path | None, backbones: str | None, out: Path,
         results: Path | None, store: str, n_jobs: int, extend: bool, dry_run: bool, quiet: bool, client: str | None = None) -> None:  # fmt: skip
    from deepfeat_iqa.datasets import Dataset
    from deepfeat_iqa.errors import DeepfeatError
    from deepfeat_iqa.paths import cache_dir
    from deepfeat_iqa.studies._experiments import check_file, check_names, load_datasets, load_experiment, parse_roots, run_experiment
    from deepfeat_iqa.studies._sweep import finished_study

    try:
        experiment = load_experiment(file)
        if experiment.kind != kind:
            raise typer.BadParameter(f"{file} is a {experiment.kind} experiment; run it with `deepfeat-iqa {experiment.kind} {file}`.")
        override = [b.strip() for b in backbones.split(",") if b.strip()] if backbones else None
        settings = check_file(experiment, parse_roots(roots or []), smoke=smoke, backbones_override=override)
        name = experiment.name + ("-smoke" if smoke else "")
        results = results or out / f"{name}.db"

        def datasets() -> dict[str, Dataset]:
            return load_datasets(experiment, parse_roots(roots or []), smoke=smoke, cache=cache_dir() / "smoke", references=references,
                                 progress=not quiet)  # fmt: skip

        # A rerun of a finished sweep needs no backbone, layer or head check (they import torch and timm, seconds before
        # anything is looked up) and computes nothing: like dfi.sweep, it answers from the results store (studies/_rerun.py).
        # The datasets are loaded first only when a results store exists; without one there is work, and names come first.
        loaded = datasets() if kind == "sweep" and not dry_run and results.is_file() else None
        if loaded is None or finished_study(loaded, results=results, **settings) is None:
            check_names(experiment, settings)
        if client_arg(client) is not None:  # before the datasets are built: an unreachable scheduler fails now
            from deepfeat_iqa.runtime.cluster import check_reachable

            check_reachable(client_arg(client))
        if dry_run:
            typer.echo(f"{experiment.name}: valid {kind} experiment ({'smoke' if smoke else 'real data'}).")
            for key, value in settings.items():
                typer.echo(f"  {key} = {value!r}")
            return
        output = run_experiment(
            experiment, settings, loaded or datasets(), out_dir=out, smoke=smoke, results=results,
            store=None if store == "none" else store, n_jobs=n_jobs, extend=extend, client=client_arg(client), progress=not quiet,
        )  # fmt: skip
    except DeepfeatError as exc:
        from deepfeat_iqa.cli._errors import _command_options, cli_vocabulary

        typer.echo(f"error: {cli_vocabulary(str(exc), _command_options())}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(output.markdown)
    typer.echo("wrote: " + ", ".join(str(p) for p in output.paths))


@app.command()
def sweep(
    file: Annotated[Path, typer.Argument(help="Experiment TOML with a \\[sweep] section (see benchmarks/experiments/).")],
    root: RootOption = None,
    smoke: SmokeOption = False,
    references: ReferencesOption = None,
    backbones: BackbonesOption = None,
    out: OutOption = Path("results"),
    results: ResultsOption = None,
    store: StoreOption = "cache",
    n_jobs: JobsOption = 1,
    extend: ExtendOption = False,
    dry_run: DryOption = False,
    quiet: QuietOption = False,
    client: Client = None,
) -> None:
    """Run a sweep experiment: backbones x layers x heads, cached cell by cell (a rerun resumes)."""
    _run("sweep", file, root, smoke, references, backbones, out, results, store, n_jobs, extend, dry_run, quiet, client)


@app.command()
def cross(
    file: Annotated[Path, typer.Argument(help="Experiment TOML with a \\[cross] section (see benchmarks/experiments/).")],
    root: RootOption = None,
    smoke: SmokeOption = False,
    references: ReferencesOption = None,
    backbones: BackbonesOption = None,
    out: OutOption = Path("results"),
    store: StoreOption = "cache",
    dry_run: DryOption = False,
    quiet: QuietOption = False,
    client: Client = None,
) -> None:
    """Run a cross-dataset experiment: train on each database (or union), test on every other."""
    _run("cross", file, root, smoke, references, backbones, out, None, store, 1, False, dry_run, quiet, client)
