"""The one way the window runs blocking work: results and failures come back to the GUI
thread, quitting waits for saves but never for a sign-in that waits on a person."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from batchgui.ui.workers import Workers, WorkersClosed


def test_run_task_hands_the_result_to_next_func_on_the_gui_thread(qtbot: Any, qloop: Any) -> None:
    workers = Workers()
    seen: list[tuple[Any, Any, threading.Thread]] = []
    ran_on: list[threading.Thread] = []

    def job() -> int:
        ran_on.append(threading.current_thread())
        return 42

    workers.run_task(job, lambda result, error: seen.append(
        (result, error, threading.current_thread())), what="a sum")
    qtbot.waitUntil(lambda: bool(seen), timeout=5000)
    assert seen == [(42, None, threading.main_thread())]
    assert ran_on[0] is not threading.main_thread()
    workers.close()


def test_a_failure_without_next_func_reaches_the_ui(qtbot: Any, qloop: Any) -> None:
    workers = Workers()

    def job() -> None:
        raise OSError("the disk is full")

    with qtbot.waitSignal(workers.job_failed, timeout=5000) as said:
        workers.run_task(job, what="saving the window's settings")
    assert said.args == ["Something went wrong while saving the window's settings: "
                         "the disk is full"]
    workers.close()


def test_closing_waits_for_jobs_handed_over_but_not_for_a_sign_in(
    qtbot: Any, qloop: Any,
) -> None:
    workers = Workers()
    release, saved = threading.Event(), threading.Event()
    never = threading.Event()
    workers.run_task(lambda: (release.wait(10), saved.set()), what="saving")
    workers.run_task(never.wait, what="signing in", abandon_at_exit=True)

    def release_once_closing() -> None:  # the save may end only after close() began
        while not workers.closed:
            time.sleep(0.001)
        release.set()

    threading.Thread(target=release_once_closing, daemon=True).start()
    workers.close()  # on the GUI thread, as quitting does; returns though the sign-in waits
    assert saved.is_set()
    assert not never.is_set()
    with pytest.raises(WorkersClosed):
        workers.submit(lambda: None)
