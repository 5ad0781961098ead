"""Looking at running processes the way a user's task manager would (Linux /proc)."""

from __future__ import annotations

from pathlib import Path


def ffmpeg_for(folder: Path) -> list[str]:
    """Command lines of running ffmpegs that write into `folder` (read from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            args = (entry / "cmdline").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        text = " ".join(a.decode(errors="replace") for a in args)
        if "ffmpeg" in args[0].decode(errors="replace") and str(folder) in text and state != "Z":
            found.append(text)
    return found


def ffmpeg_pids(folder: Path) -> list[int]:
    """Process ids of running ffmpegs that write into `folder`."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                args = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"ffmpeg" in args[0] and any(str(folder).encode() in a for a in args):
                pids.append(int(entry.name))
    return pids
