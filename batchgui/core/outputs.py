"""Putting a checked MP3 in place, so that a crash at any moment never duplicates one.

The protocol, journaled by the run:

1. the part file `P` (hidden, beside the MP3) is written and checked;
2. journal "placing P as F" with P's identity (device and inode);
3. hard-link P to a free name F' (F, or `F (n)` per the conflict policy); a link
   never overwrites, so no other writer is ever clobbered. "Replace" renames instead;
4. journal "done: F'";
5. unlink P.

After a crash, `settle()` looks at a file that was placing: if F or one of its
`(n)` names carries P's identity, the MP3 is in place (done); if not, the checked
part may be placed now. No step leaves a name that a resume would then avoid with
`name (1).mp3`.
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from batchgui.core import naming
from batchgui.core.media import mp3_audio
from batchgui.core.models import ConflictPolicy
from batchgui.i18n import Reason, why

#: how many `name (n).mp3` variants settle() looks through for a placed MP3
MAX_COUNTER_LOOKUP = 200

#: an MP3 holding less than this share of the bytes its header promises is cut short
MP3_PRESENT = 0.97

_NO_LINKS = (errno.EPERM, errno.EXDEV, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK)


def duration_tolerance(expected_s: float) -> float:
    """An MP3 counts as complete when within 1 s or 2 % of the input's duration."""
    return max(1.0, 0.02 * expected_s)


def check_output(part: Path, expected_s: float | None) -> tuple[float | None, Reason | None]:
    """(duration, None) when the MP3 is whole; (duration, reason) when it is not."""
    try:
        size = part.stat().st_size
    except FileNotFoundError:
        return None, why("no_mp3", "ffmpeg wrote no MP3")
    if size == 0:
        return None, why("empty_mp3", "ffmpeg wrote an empty MP3")
    found = mp3_audio(part)
    if found is None:
        return None, why("unreadable_mp3", "the MP3 that came back can't be read")
    got, present = found
    if present < MP3_PRESENT:  # the header promises more than the file holds
        have = round(got * present, 3)
        return have, why("mp3_cut_short",
                         "the MP3 is cut short: it holds {got_s:.1f} s of {expected_s:.1f} s",
                         got_s=have, expected_s=round(expected_s or got, 3))
    if expected_s is not None and abs(expected_s - got) > duration_tolerance(expected_s):
        if got < expected_s:
            return got, why("input_truncated",
                            "input looks truncated: got {got_s:.1f} s of {expected_s:.1f} s",
                            got_s=round(got, 3), expected_s=round(expected_s, 3))
        return got, why("mp3_too_long",
                        "the MP3 is longer than the video: got {got_s:.1f} s of {expected_s:.1f} s",
                        got_s=round(got, 3), expected_s=round(expected_s, 3))
    return got, None


def file_id(path: Path) -> str:
    """The identity of a file (device and inode), which survives links and renames."""
    st = os.stat(path)
    return f"{st.st_dev}:{st.st_ino}"


def place_output(part: Path, wanted: Path, policy: ConflictPolicy) -> Path | None:
    """Put the checked MP3 in place without ever overwriting unasked.

    Returns the final path, or None when the policy says skip. The part file is left
    where it is: the caller journals the outcome first, then removes it.
    """
    if policy is ConflictPolicy.OVERWRITE:
        os.replace(part, wanted)
        return wanted
    candidate, n = wanted, 0
    while True:
        try:
            os.link(part, candidate)  # fails if the name exists: no race with other writers
            return candidate
        except FileExistsError:
            pass
        except OSError as exc:
            if exc.errno not in _NO_LINKS:
                raise
            if not candidate.exists():  # a file system without hard links (FAT, some shares)
                os.rename(part, candidate)
                return candidate
        if policy is ConflictPolicy.SKIP:
            return None
        n += 1
        candidate = naming.with_counter(wanted, n)


def find_placed(wanted: Path, identity: str) -> Path | None:
    """The name among `wanted`, `wanted (1)` ... that carries the part's identity, if any."""
    for n in range(MAX_COUNTER_LOOKUP):
        candidate = wanted if n == 0 else naming.with_counter(wanted, n)
        try:
            if file_id(candidate) == identity:
                return candidate
        except OSError:
            continue
    return None


def remove(path: Path | None) -> None:
    """Delete a file if it is there; a missing one is fine."""
    if path is None:
        return
    try:
        path.unlink()
    except FileNotFoundError:
        pass


def output_folder_problem(folder: Path, *, create: bool = True) -> Reason | None:
    """Why MP3s can't be written into `folder`, in one sentence; None when they can.

    Checked before any conversion starts, by writing (and removing) a small hidden file:
    permission bits say nothing for root or on a read-only mount. With `create`, a missing
    folder is made first; without, a missing one only needs no file in its way.
    """
    if folder.exists() and not folder.is_dir():
        return why("output_is_a_file", "The output folder {folder} is a file, not a folder. "
                   "Choose a folder for the MP3s.", folder=str(folder))
    if not folder.exists():
        for parent in folder.parents:
            if parent.exists():
                if not parent.is_dir():
                    return why("output_not_made", "The output folder {folder} can't be made: "
                               "{parent} is a file, not a folder. Choose another folder.",
                               folder=str(folder), parent=str(parent))
                break
        if not create:
            return None
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            return why("output_not_created", "The output folder {folder} can't be created "
                       "({error}). Choose another folder.", folder=str(folder),
                       error=exc.strerror or str(exc))
    try:
        fd, probe = tempfile.mkstemp(prefix=".batchgui-", suffix=".check", dir=folder)
    except OSError as exc:
        if exc.errno == errno.EROFS:
            return why("output_read_only", "MP3s can't be written in the output folder "
                       "{folder}: it is on a read-only disk. Choose another folder.",
                       folder=str(folder))
        if exc.errno in (errno.EACCES, errno.EPERM):
            return why("output_no_permission", "MP3s can't be written in the output folder "
                       "{folder}: you have no permission to write in it. Choose another "
                       "folder.", folder=str(folder))
        if exc.errno == errno.ENOSPC:
            return why("output_disk_full", "MP3s can't be written in the output folder "
                       "{folder}: its disk is full. Choose another folder.", folder=str(folder))
        return why("output_not_writable", "MP3s can't be written in the output folder "
                   "{folder}: {error}. Choose another folder.", folder=str(folder),
                   error=exc.strerror or str(exc))
    os.close(fd)
    remove(Path(probe))
    return None


def plain_os_error(exc: OSError) -> Reason:
    if exc.errno == errno.ENOSPC:
        return why("disk_full", "the disk with the output folder is full; free some space and "
                   "press Retry failed")
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return why("no_write_permission", "no permission to write in the output folder; "
                   "choose another folder")
    if exc.errno == errno.ENAMETOOLONG:
        return why("name_too_long", "the MP3's name is too long for this disk; rename the "
                   "video and try again")
    return why("write_failed", "the MP3 could not be written: {error}",
               error=exc.strerror or str(exc))
