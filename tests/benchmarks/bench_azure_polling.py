"""Benchmark: what one poll of a big job costs, by change vs the full listing of before.

Not a test (pytest does not collect it, CI does not run it). Run:

    .venv/bin/python -m tests.benchmarks.bench_azure_polling [--tasks 10000] [--changing 100]

It starts Azurite and the Batch emulator, lets the Azure target create its job (on an
auto pool whose nodes never finish starting, so no task moves by itself) and add the
tasks, then makes `--changing` of them change state between two polls (terminated
through the API: their stateTransitionTime moves, as a finished task's would). It then
prints, side by side, the calls and bytes of:
(a) the target's poll: the task counts + the tasks changed since the last poll
    (`$filter=stateTransitionTime ge ...`) + the nodes;
(b) the previous design: every task listed ($select), plus the nodes;
and the ratio of bytes b/a (target: a costs at most 5 % of b).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from azure.batch import BatchClient

from batchgui.core.models import InputFile, Quality
from batchgui.core.target import CancelToken, RunContext, WorkItem
from batchgui.targets.azure.batch import TASK_SELECT, BatchService
from batchgui.targets.azure.batch import batch_client_options as options
from batchgui.targets.azure.config import AzureAccount, PoolSettings
from batchgui.targets.azure.monitor import CHANGE_MARGIN
from batchgui.targets.azure.pools import NODE_SELECT
from batchgui.targets.azure.target import AzureBatchTarget
from tests.azure_world import start_azurite, start_batch_emulator


class Meter:
    """Counts requests and response bytes through the SDK's raw response hook."""

    def __init__(self) -> None:
        self.calls = 0
        self.bytes = 0

    def __call__(self, response: Any) -> None:
        self.calls += 1
        self.bytes += len(response.http_response.body() or b"")

    def take(self) -> tuple[int, int]:
        out = (self.calls, self.bytes)
        self.calls = self.bytes = 0
        return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", type=int, default=10_000)
    ap.add_argument("--changing", type=int, default=100)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-polling-"))
    azurite = start_azurite(location=str(tmp / "azurite"))
    emu = start_batch_emulator(root=str(tmp / "batch"), state_delay_s=0.05,
                               allocation_delay_s=0.05, tick_s=0.05, task_counts_lag_s=0.0)
    meter = Meter()
    try:
        account = AzureAccount(name="bench", batch_url=emu.url, batch_account=emu.account,
                               batch_key=emu.key,
                               storage_connection_string=azurite.connection_string)
        pool = PoolSettings(dedicated_nodes=2, slots_per_node=4, start_task="sleep 3600")
        target = AzureBatchTarget(account, pool, poll_bounds=(0.1, 1.0))
        from azure.core.credentials import AzureNamedKeyCredential

        client = BatchClient(account.batch_url,
                             AzureNamedKeyCredential(emu.account, emu.key),
                             raw_response_hook=meter, **options())
        target._batch = BatchService(account, client=client)
        clip = tmp / "clip.mp4"
        clip.write_bytes(b"\0" * 1024)
        items = [WorkItem(f"f{i:05d}", InputFile(clip, 1024, 60.0), tmp / f"o{i}.mp3",
                          tmp / f".o{i}.part", Quality()) for i in range(args.tasks)]
        run_id = "run-bench-polling"

        async def go() -> dict[str, tuple[int, int]]:
            with ThreadPoolExecutor(max_workers=12) as executor:
                ctx = RunContext(run_id, executor, CancelToken())
                print(f"adding {args.tasks} tasks …", flush=True)
                await target.prepare(items, ctx)
                await target.submit(items, ctx)
                while target.pool_id is None:  # the service names the auto pool
                    await target.poll(ctx)
                out: dict[str, tuple[int, int]] = {}
                batch = target._batch
                assert batch is not None
                # a run's tasks were added long before their next change: let the margin
                # the poll asks again for (CHANGE_MARGIN) pass, as it does in a real run
                time.sleep(CHANGE_MARGIN.total_seconds() + 1)
                await target.poll(ctx)
                meter.take()
                for i in range(args.changing):  # 1 % of the tasks change state
                    batch.client.terminate_task(run_id, f"f{i:05d}")
                meter.take()
                news = await target.poll(ctx)
                out["(a) poll by change"] = meter.take()
                changed = {t for t, s in news.tasks.items() if s.state.value == "completed"}
                assert changed >= {f"f{i:05d}" for i in range(args.changing)}, len(changed)
                # (b) what every poll cost before: all tasks with $select, and the nodes
                start = time.perf_counter()
                everything = list(batch.client.list_tasks(run_id, select=TASK_SELECT,
                                                          max_results=1000))
                list(batch.client.list_nodes(target.pool_id, select=NODE_SELECT,
                                             max_results=1000))
                out["(b) full listing"] = meter.take()
                assert len(everything) == args.tasks
                print(f"    (full listing took {time.perf_counter() - start:.2f} s)")
                await target.cleanup(ctx, cancelled=True)
                return out

        figures = asyncio.run(go())
        print(f"{args.tasks} tasks, {args.changing} changing between two polls "
              f"({100 * args.changing / args.tasks:.1f} %)")
        for name, (calls, size) in figures.items():
            print(f"  {name:30s} {calls:4d} calls  {size / 1024:10.1f} KiB")
        print("  (a) includes one stderr look-up per task that ended in failure (terminated "
              "here): a small answer, once per failed attempt")
        a = figures["(a) poll by change"][1]
        b = figures["(b) full listing"][1]
        print(f"  bytes a/b: {a / b:.3f} (target <= 0.05)")
    finally:
        emu.stop()
        azurite.stop()


if __name__ == "__main__":
    main()
