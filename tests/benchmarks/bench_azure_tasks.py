"""Benchmark: submitting and watching 1,000 tasks on the Batch emulator.

Not a test (pytest does not collect it, CI does not run it). Run:

    .venv/bin/python -m tests.benchmarks.bench_azure_tasks [--tasks 1000] [--polls 5]

It starts Azurite and the Batch emulator, lets the target create its pool (whose start
task never ends, so the 1,000 tasks stay queued and only the API work is measured),
then prints, from the emulator's request log:
(a) the target's submit(): addtaskcollection calls (expected ceil(n / 100)) and wall time,
    next to the SDK's own create_tasks() on a second job;
(b) one poll of the target: its calls (expected one task list and one node list),
    next to asking for each task on its own (get_task per task), as a naive loop would.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from azure.batch import models as bm

from batchgui.core.models import InputFile, Quality
from batchgui.core.target import CancelToken, RunContext, WorkItem
from batchgui.targets.azure.config import AzureAccount, PoolSettings
from batchgui.targets.azure.target import AzureBatchTarget
from tests.azure_world import start_azurite, start_batch_emulator


def api_calls(requests: list[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for r in requests:
        path = r["path"]
        if path.endswith("/addtaskcollection"):
            key = "addtaskcollection"
        elif path.startswith("/jobs/") and path.endswith("/tasks"):
            key = "list tasks"
        elif path.startswith("/pools/") and path.endswith("/nodes"):
            key = "list nodes"
        elif "/tasks/" in path:
            key = "one task"
        else:
            key = f"{r['method']} {path.split('/')[1] if '/' in path else path}"
        counts[key] = counts.get(key, 0) + 1
    return counts


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", type=int, default=1000)
    ap.add_argument("--polls", type=int, default=5)
    ap.add_argument("--naive", type=int, default=200,
                    help="time get_task for this many tasks and scale to all (0: all)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-tasks-"))
    azurite = start_azurite(location=str(tmp / "azurite"))
    emu = start_batch_emulator(root=str(tmp / "batch"), state_delay_s=0.05,
                               allocation_delay_s=0.05, tick_s=0.02)
    try:
        account = AzureAccount(name="bench", batch_url=emu.url, batch_account=emu.account,
                               batch_key=emu.key,
                               storage_connection_string=azurite.connection_string)
        pool = PoolSettings(pool_id="bench-pool", dedicated_nodes=2, slots_per_node=4,
                            start_task="sleep 3600")
        target = AzureBatchTarget(account, pool, poll_bounds=(0.1, 1.0))
        clip = tmp / "clip.mp4"
        clip.write_bytes(b"\0" * 1024)
        items = [
            WorkItem(f"f{i:05d}", InputFile(clip, 1024, 60.0), tmp / f"o{i}.mp3",
                     tmp / f".o{i}.part", Quality())
            for i in range(args.tasks)
        ]
        run_id = "bench-run-1"

        async def ours() -> tuple[float, dict[str, int], list[tuple[float, dict[str, int]]]]:
            with ThreadPoolExecutor(max_workers=16) as executor:
                ctx = RunContext(run_id, executor, CancelToken())
                storage, batch = await target._clients(ctx)
                await ctx.blocking(storage.ensure_container)
                target._container_ready = True
                target._run_id = run_id
                await target._ensure_pool(ctx, batch)
                emu.clear_requests()
                start = time.perf_counter()
                await target.submit(items, ctx)
                submit_s = time.perf_counter() - start
                submit_calls = api_calls(emu.requests())
                polls = []
                for _ in range(args.polls):
                    emu.clear_requests()
                    start = time.perf_counter()
                    status = await target.poll(ctx)
                    polls.append((time.perf_counter() - start, api_calls(emu.requests())))
                    assert len(status.tasks) == args.tasks, len(status.tasks)
                await target.cleanup(ctx, cancelled=True)
                return submit_s, submit_calls, polls

        submit_s, submit_calls, polls = asyncio.run(ours())

        # baselines on a second job: the SDK's create_tasks, and one get_task per task
        from batchgui.targets.azure.batch import make_batch_client

        client = make_batch_client(account)
        client.create_pool(bm.BatchPoolCreateOptions(
            id="bench-pool-b", vm_size="standard_d2s_v3", target_dedicated_nodes=0,
            virtual_machine_configuration=bm.VirtualMachineConfiguration(
                image_reference=bm.BatchVmImageReference(
                    publisher="canonical", offer="0001-com-ubuntu-server-jammy",
                    sku="22_04-lts"),
                node_agent_sku_id="batch.node.ubuntu 22.04")))
        client.create_job(bm.BatchJobCreateOptions(
            id="bench-run-2", pool_info=bm.BatchPoolInfo(pool_id="bench-pool-b")))
        sdk_tasks = [bm.BatchTaskCreateOptions(id=f"f{i:05d}", command_line="ffmpeg -version")
                     for i in range(args.tasks)]
        emu.clear_requests()
        start = time.perf_counter()
        client.create_tasks("bench-run-2", sdk_tasks)
        sdk_submit_s = time.perf_counter() - start
        sdk_submit_calls = api_calls(emu.requests())
        emu.clear_requests()
        asked = sdk_tasks[: args.naive or len(sdk_tasks)]
        start = time.perf_counter()
        for task in asked:
            client.get_task("bench-run-2", task.id)
        naive_poll_s = (time.perf_counter() - start) * len(sdk_tasks) / len(asked)
        naive_poll_calls = {k: v * len(sdk_tasks) // len(asked)
                            for k, v in api_calls(emu.requests()).items()}
        client.close()

        n = args.tasks
        print(f"{n} tasks on the Batch emulator")
        print(f"submission (expected {math.ceil(n / 100)} addtaskcollection calls):")
        print(f"  (a) target submit():        {submit_s:6.2f} s   calls: {submit_calls}")
        print(f"  (b) SDK create_tasks():     {sdk_submit_s:6.2f} s   calls: {sdk_submit_calls}")
        print("one poll (expected: 1 task list + 1 node list):")
        for i, (took, counts) in enumerate(polls, 1):
            print(f"  (a) target poll {i}:         {took:6.2f} s   calls: {counts}")
        best = min(t for t, _ in polls)
        scaled = "" if not args.naive or args.naive >= n else f" (timed {args.naive}, scaled)"
        print(f"  (b) get_task per task:      {naive_poll_s:6.2f} s   calls: {naive_poll_calls}"
              + scaled)
        print(f"  poll time ratio b/a: {naive_poll_s / best:.1f}x", flush=True)
    finally:
        emu.stop()
        azurite.stop()


if __name__ == "__main__":
    main()
