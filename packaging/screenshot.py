"""Make the README screenshots: the window in the middle of a run. Rerun any time.

    .venv/bin/python packaging/screenshot.py            # offscreen, no display needed
    xvfb-run -a .venv/bin/python packaging/screenshot.py --platform xcb

Writes four PNGs into resources/:

- screenshot.png: the window fed one *synthetic* snapshot of a large Azure-like
  run (200 nodes in mixed states, some Spot, 2,000 tasks), because a run on
  this computer has only a couple of slots to show. Nothing is converted for
  this picture; the models and views are the real ones.
- screenshot-local.png: a *real* run on this computer, grabbed mid-conversion:
  generated test clips, the very same window, controller and core as the app.
- screenshot-dark.png: the synthetic picture again under a dark palette.
- screenshot-sv.png: the synthetic picture in Swedish (the app's words from its catalogue,
  Qt's own from Qt's; the made-up file names and log lines in Swedish too).

Settings and run records go to a temporary folder, never to yours.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def make_clip(path: Path, seconds: float) -> Path:
    from batchgui.core.ffmpeg import ffmpeg_exe

    argv = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
            "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=10",
            "-f", "lavfi", "-i", "sine=frequency=330:sample_rate=44100",
            "-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
            "-c:a", "aac", "-b:a", "96k", "-shortest", str(path)]
    subprocess.run(argv, check=True, capture_output=True)
    return path


#: the made-up user data of the synthetic picture, per language (the app's own words come
#: from its catalogue)
PICTURE_WORDS = {
    "en": {"home": "/home/ana", "videos": "Videos", "music": "Music", "session": "session",
           "folders": ["lectures/2024", "lectures/2025", "podcast/raw", "interviews"],
           "account": "Azure Batch: contoso-media (West Europe)",
           "status": "A synthetic snapshot, see packaging/screenshot.py",
           "clips": ["Holiday 2019.mp4", "Interview – part 1.mp4", "Interview – part 2.mp4",
                     "Lecture 07.mp4", "Concert (front row).mp4", "voice memo.mp4"]},
    "sv": {"home": "/home/anna", "videos": "Videor", "music": "Musik", "session": "avsnitt",
           "folders": ["föreläsningar/2024", "föreläsningar/2025", "podd/rå", "intervjuer"],
           "account": "Azure Batch: contoso-media (Västeuropa)",
           "status": "En påhittad ögonblicksbild, se packaging/screenshot.py",
           "clips": ["Semester 2019.mp4", "Intervju – del 1.mp4", "Intervju – del 2.mp4",
                     "Föreläsning 07.mp4", "Konsert (första raden).mp4", "röstmemo.mp4"]},
}


def picture_words() -> dict:  # type: ignore[type-arg]
    from batchgui import i18n

    return PICTURE_WORDS[i18n.language()]


def synthetic_snapshot(rng: random.Random, n_nodes: int = 200, n_tasks: int = 2000):  # type: ignore[no-untyped-def]
    """A plausible moment of a big Azure Batch run (the docstring says so in the README),
    in the language batchgui.i18n speaks now."""
    from batchgui.core.models import (
        FileStatus,
        InputFile,
        NodeState,
        NodeView,
        RunSnapshot,
        Stage,
        TaskResult,
        TaskState,
        TaskView,
    )
    from batchgui.i18n import tr, trn, why

    weights = [
        (NodeState.RUNNING, 120), (NodeState.IDLE, 22), (NodeState.STARTING, 10),
        (NodeState.WAITING_FOR_START_TASK, 14), (NodeState.CREATING, 8),
        (NodeState.PREEMPTED, 6), (NodeState.START_TASK_FAILED, 3), (NodeState.UNUSABLE, 2),
        (NodeState.REBOOTING, 3), (NodeState.LEAVING_POOL, 4), (NodeState.OFFLINE, 2),
        (NodeState.REIMAGING, 2), (NodeState.UNKNOWN, 1), ("deallocated", 3),
    ]
    states = [s for s, w in weights for _ in range(w)]
    rng.shuffle(states)
    nodes = []
    for i in range(n_nodes):
        state = states[i % len(states)]
        spot = i >= 140
        running = rng.randint(1, 4) if state == NodeState.RUNNING else 0
        errors = ("start task exited with code 100: apt could not reach the mirror",) \
            if state == NodeState.START_TASK_FAILED else ()
        nodes.append(NodeView(f"tvmps_{0x5e1a0000 + i * 7919:x}_d", state, running, 4, spot,
                              errors))
    inputs, tasks = [], []
    words = picture_words()
    folders = words["folders"]
    home = Path(words["home"])
    for i in range(n_tasks):
        path = home / words["videos"] / folders[i % 4] / f"{words['session']}-{i + 1:04d}.mp4"
        duration = rng.uniform(600, 4200)
        inputs.append(InputFile(path, int(duration * 180_000), duration))
        node = nodes[rng.randrange(n_nodes)].node_id
        r = rng.random()
        if i < 900:
            status = FileStatus.DONE if r > 0.015 else FileStatus.FAILED
        elif i < 1280:
            status = FileStatus.CONVERTING
        elif i < 1300:
            status = FileStatus.DOWNLOADING
        else:
            status = FileStatus.QUEUED
        view = TaskView(task_id=f"t{i:05d}", input_path=path, status=status)
        if status is FileStatus.DONE:
            view = TaskView(view.task_id, path, status, TaskState.COMPLETED, node, 1.0,
                            duration / rng.uniform(40, 70), 0, TaskResult.SUCCESS,
                            output_path=home / words["music"] / path.with_suffix(".mp3").name)
        elif status is FileStatus.FAILED:
            view = TaskView(view.task_id, path, status, TaskState.COMPLETED, node,
                            rng.uniform(0.2, 0.7), 48.0, 1, TaskResult.FAILURE,
                            why("damaged_video", "the video is damaged: ffmpeg could not read it"),
                            "[mov,mp4,m4a,3gp,3g2,mj2] moov atom not found\n"
                            f"{path.name}: Invalid data found when processing input\n")
        elif status is FileStatus.CONVERTING:
            view = TaskView(view.task_id, path, status, TaskState.RUNNING, node,
                            rng.uniform(0.05, 0.95), rng.uniform(5, 70))
        elif status is FileStatus.DOWNLOADING:
            view = TaskView(view.task_id, path, status, TaskState.COMPLETED, node, 1.0, 60.0, 0,
                            TaskResult.SUCCESS)
        tasks.append(view)
    done = sum(1 for t in tasks if t.status is FileStatus.DONE)
    failed = sum(1 for t in tasks if t.status is FileStatus.FAILED)
    snap = RunSnapshot(
        run_id="run-demo", stage=Stage.MONITORING,
        message=trn("Converting {n} file on {target}", "Converting {n} files on {target}", n_tasks,
                    target="Azure Batch (contoso-media)"),
        tasks=tuple(tasks), nodes=tuple(nodes), files_total=n_tasks, files_done=done,
        files_failed=failed, fraction=0.52, elapsed_s=1520.0, eta_s=1310.0,
        rate=tr("{speed:.1f}× realtime", speed=611.7),
        running=tuple(t for t in tasks if t.status is FileStatus.CONVERTING),
        files_converting=sum(1 for t in tasks if t.status is FileStatus.CONVERTING),
    )
    return inputs, snap


def dark_palette():  # type: ignore[no-untyped-def]
    from PySide6.QtGui import QColor, QPalette

    p = QPalette()
    roles = QPalette.ColorRole
    for role, colour in [
        (roles.Window, "#2b2b2b"), (roles.WindowText, "#e6e6e6"), (roles.Base, "#1e1e1e"),
        (roles.AlternateBase, "#262626"), (roles.ToolTipBase, "#3a3a3a"),
        (roles.ToolTipText, "#f0f0f0"), (roles.Text, "#e6e6e6"), (roles.Button, "#353535"),
        (roles.ButtonText, "#e6e6e6"), (roles.BrightText, "#ff6b6b"),
        (roles.Highlight, "#2f65ca"), (roles.HighlightedText, "#ffffff"),
        (roles.PlaceholderText, "#8a8a8a"), (roles.Mid, "#444444"), (roles.Dark, "#1a1a1a"),
        (roles.Light, "#505050"), (roles.Midlight, "#3e3e3e"), (roles.Shadow, "#000000"),
    ]:
        p.setColor(role, QColor(colour))
    p.setColor(QPalette.ColorGroup.Disabled, roles.ButtonText, QColor("#7a7a7a"))
    p.setColor(QPalette.ColorGroup.Disabled, roles.Text, QColor("#7a7a7a"))
    p.setColor(QPalette.ColorGroup.Disabled, roles.WindowText, QColor("#7a7a7a"))
    return p


async def wait_for(condition, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise TimeoutError("the window did not get there in time")
        await asyncio.sleep(0.05)


async def show_synthetic(window, rng: random.Random) -> None:  # type: ignore[no-untyped-def]
    from batchgui.core.estimate import at_once_words
    from batchgui.i18n import tr, trn

    inputs, snap = synthetic_snapshot(rng)
    words = picture_words()
    window.file_model.clear()
    window.file_model.add_inputs(inputs)
    window.output_folder_edit.setText(str(Path(words["home"]) / words["music"]))
    await wait_for(lambda: not window.controller.pending_jobs)  # the real target list first
    window.target_combo.addItem(words["account"], "demo")
    window.target_combo.setCurrentIndex(window.target_combo.count() - 1)
    window.apply_snapshot(snap)
    window.file_list.scrollTo(window.file_model.index(905, 0))
    window.file_list.selectRow(905)
    failed_row = next(i for i, t in enumerate(snap.tasks) if t.status.value == "failed")
    index = window.task_proxy.mapFromSource(window.task_model.index(failed_row, 0))
    window.task_table.selectRow(index.row())
    window.task_table.scrollTo(index)
    window.log_toggle.setChecked(True)
    failed = next(t for t in snap.tasks if t.status.value == "failed")
    for line in [
        trn("Uploading {n} file, {mb:.1f} MB, to storage account {account}",
            "Uploading {n} files, {mb:.1f} MB, to storage account {account}", 2000,
            mb=5600.0, account="contosomedia"),
        tr("Creating pool {pool}: {nodes} of {vm_size}, {at_once} per node",
           pool="batchgui-pool", vm_size="standard_d2s_v3", at_once=at_once_words(4),
           nodes=tr("{dedicated} dedicated and {spot} Spot nodes", dedicated=140, spot=60)),
        trn("Adding {n} task to job {job}", "Adding {n} tasks to job {job}", 2000,
            job="run-demo"),
        trn("Pool {pool}: {n} node ready", "Pool {pool}: {n} nodes ready", 122,
            pool="batchgui-pool"),
        tr("{name}: failed, {reason}", name=failed.name, reason=failed.reason),
    ]:
        window._log(line)
    window.statusBar().showMessage(words["status"])
    # what a running window shows (a real run sets these through the controller): last,
    # since selecting rows above refreshes the buttons from the (idle) controller
    window.convert_button.setEnabled(False)
    window.cancel_button.setEnabled(True)
    window.retry_failed_button.setEnabled(False)
    for w in (window.output_folder_edit, window.browse_button, window.quality_combo,
              window.conflict_combo, window.mirror_check, window.target_combo,
              window.clear_button, window.remove_button):
        w.setEnabled(False)


async def run(args: argparse.Namespace) -> int:
    from PySide6.QtWidgets import QApplication

    from batchgui.ui.app import app_icon, use_language
    from batchgui.ui.main_window import MainWindow

    app = QApplication.instance()
    assert app is not None
    app.setWindowIcon(app_icon())
    width, height = (int(v) for v in args.size.split("x"))
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    # 1. a real run on this computer, grabbed mid-conversion
    work = Path(tempfile.mkdtemp(prefix="batchgui-shot-"))
    loop = asyncio.get_running_loop()
    (work / "videos").mkdir(parents=True)
    use_language(app, "en")
    clips = await asyncio.gather(*(
        loop.run_in_executor(None, make_clip, work / "videos" / name, seconds)
        for name, seconds in zip(picture_words()["clips"], [240, 300, 300, 360, 200, 120],
                                 strict=True)
    ))
    (work / "videos" / "broken.mp4").write_bytes(clips[0].read_bytes()[:4000])
    window = MainWindow()
    window.resize(width, height)
    window.show()
    window.add_paths([work / "videos"])
    await wait_for(lambda: window.file_model.rowCount() == 7 and not window.controller.probing)
    window.output_folder_edit.setText(str(work / "MP3s"))
    window.log_toggle.setChecked(True)
    window.convert_button.click()

    def mid_run() -> bool:  # as the list shows it (a snapshot carries only what changed)
        rows = [window.file_model.task_at(row) for row in range(window.file_model.rowCount())]
        tasks = [t for t in rows if t is not None]
        return (any(t.status.value == "done" for t in tasks)
                and any(t.status.value == "converting" and t.progress > 0.2 for t in tasks))

    await wait_for(mid_run)
    await asyncio.sleep(0.3)
    local_png = out_dir / "screenshot-local.png"
    window.grab().save(str(local_png))
    print(f"wrote {local_png} (a real run on this computer)")
    window.controller.cancel()
    await wait_for(lambda: not window.controller.busy)
    window.close()
    await wait_for(lambda: not window.controller.pending_jobs)
    window.shutdown()

    # 2. the synthetic Azure-like run, light and dark, and in Swedish
    light = app.palette()
    for name, palette, language in [("screenshot.png", light, "en"),
                                    ("screenshot-dark.png", dark_palette(), "en"),
                                    ("screenshot-sv.png", light, "sv")]:
        app.setPalette(palette)
        use_language(app, language)
        window = MainWindow()
        window.resize(width, height)
        window.show()
        await show_synthetic(window, random.Random(7))
        await asyncio.sleep(0.3)
        path = out_dir / name
        window.grab().save(str(path))
        print(f"wrote {path} (synthetic snapshot: 200 nodes, 2,000 tasks)")
        window.close()
        await wait_for(lambda w=window: not w.controller.pending_jobs)
        window.shutdown()
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out-dir", default=str(ROOT / "resources"))
    parser.add_argument("--size", default="1280x860", help="window size, WIDTHxHEIGHT")
    parser.add_argument("--platform", default=None,
                        help="Qt platform: offscreen (default without a display) or xcb")
    args = parser.parse_args()
    if args.platform:
        os.environ["QT_QPA_PLATFORM"] = args.platform
    elif not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    home = Path(tempfile.mkdtemp(prefix="batchgui-shot-home-"))
    for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"):
        os.environ[var] = str(home / var.lower())
    sys.path.insert(0, str(ROOT))

    import qasync
    from PySide6.QtWidgets import QApplication

    app = QApplication(sys.argv[:1])
    app.setApplicationName("BatchGUI")
    app.setStyle("Fusion")
    app.setQuitOnLastWindowClosed(False)  # several windows come and go here
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    with loop:
        return loop.run_until_complete(run(args))


if __name__ == "__main__":
    sys.exit(main())
