"""The Dask driver of extraction: one task per row block, on any ``dask.distributed`` cluster.

The plan is broadcast once; a worker plugin builds the backbone once per worker process (and sets
torch's thread count to the worker's, so processes never oversubscribe the cores); every task is
:func:`~deepfeat_iqa.extraction._block.extract_block` over one block. A worker killed mid-block loses only that
block's unfinished batches: the scheduler retries the block elsewhere, and whatever is still missing
when the run gives up is exactly what the next ``extract`` computes.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import distributed

from deepfeat_iqa.extraction._block import BlockReport, extract_block, load_backbone
from deepfeat_iqa.runtime.cluster import connect
from deepfeat_iqa.runtime.device import resolve_device
from deepfeat_iqa.extraction._plan import ExtractionPlan
from deepfeat_iqa.errors import ConfigError, DeepfeatError, StoreError


class BackbonePlugin(distributed.WorkerPlugin):
    """Worker plugin: torch threads = the worker's threads, and the plan's backbone built at setup.

    Building in ``setup`` (once per worker process, and again on a restarted worker) means no task
    pays for it, and a worker that cannot load the weights fails registration before any block runs.
    """

    name = "deepfeat-iqa-backbone"

    def __init__(self, model: str, weights: str, seed: int, device: str | None):
        self.model, self.weights, self.seed, self.device = model, weights, seed, device

    def setup(self, worker: Any) -> None:
        import torch

        torch.set_num_threads(max(1, int(worker.state.nthreads)))
        load_backbone(self.model, self.weights, self.seed, resolve_device(self.device))


def _block_task(plan: ExtractionPlan, start: int, stop: int) -> BlockReport:
    """One Dask task: decode in the task's thread (worker processes are daemons and cannot fork loaders)."""
    return extract_block(plan, start, stop, num_workers=0)


def _check_store_is_shared(plan: ExtractionPlan) -> None:
    if plan.store_url.startswith(("memory://", "<")):
        raise ConfigError(
            f"store={plan.store_url!r} lives in this process's memory; Dask workers cannot see it. "
            "Pass a directory every worker can open, or an object-store URL (s3://...)."
        )


def run_blocks(plan: ExtractionPlan, blocks: list[tuple[int, int]], client: Any, on_rows: Callable[[int], None]) -> None:
    """Run one task per block on the cluster; ``on_rows`` hears each finished block's row count."""
    _check_store_is_shared(plan)
    run_id = uuid.uuid4().hex[:8]
    with connect(client) as live:
        live.register_plugin(BackbonePlugin(plan.model, plan.weights, plan.seed, plan.device), name=BackbonePlugin.name)
        [shared] = live.scatter([plan], broadcast=True, hash=False)
        futures = {
            live.submit(_block_task, shared, start, stop, pure=False, key=f"deepfeat-iqa-block-{start}-{stop}-{run_id}"): (start, stop)
            for start, stop in blocks
        }
        try:
            for future in distributed.as_completed(futures):
                try:
                    report: BlockReport = future.result()
                except DeepfeatError:
                    raise
                except distributed.client.FutureCancelledError as error:
                    raise StoreError(f"Block {futures[future]} was cancelled ({error}). Run extract again: done rows are kept.") from error
                except distributed.KilledWorker as error:
                    start, stop = futures[future]
                    raise StoreError(
                        f"Dask workers died repeatedly while extracting rows [{start}, {stop}) ({error}); every finished "
                        "batch is kept. Run extract again to compute exactly the missing rows (check worker memory)."
                    ) from error
                on_rows(report.computed + report.failed)
        finally:
            live.cancel(list(futures))
