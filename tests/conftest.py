"""Shared test setup: offscreen Qt, private config/data folders, generated media.

Every test session gets its own XDG folders so nothing touches the user's real
settings, run records or keyring.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

_SESSION_HOME = Path(tempfile.mkdtemp(prefix="batchgui-tests-"))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["XDG_CONFIG_HOME"] = str(_SESSION_HOME / "config")
os.environ["XDG_DATA_HOME"] = str(_SESSION_HOME / "data")
os.environ["XDG_CACHE_HOME"] = str(_SESSION_HOME / "cache")
os.environ["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
# English unless a test asks for another language (the tests read the app's words); a
# test of Swedish sets LANG=sv_SE.UTF-8 and clears these (tests/i18n_helpers.py)
os.environ["LANGUAGE"] = "en"
for _variable in ("LC_ALL", "LC_MESSAGES"):
    os.environ.pop(_variable, None)

from tests.i18n_helpers import compile_catalogues  # noqa: E402
from tests.media import MediaCache  # noqa: E402

compile_catalogues()  # a .po edited since the last build is what the tests see


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """No tests collected is a failure here, never a silent pass."""
    if exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> MediaCache:
    return MediaCache(tmp_path_factory.mktemp("media-cache"))


@pytest.fixture
def qloop(qapp):  # type: ignore[no-untyped-def]
    """A qasync event loop on the test's QApplication, as the app runs it.

    pytest-qt's waits spin Qt's loop; with this loop installed as the running asyncio
    loop, the window's coroutines advance during those waits as they do in the app.
    """
    import asyncio

    import qasync

    loop = qasync.QEventLoop(qapp, already_running=True)
    asyncio.set_event_loop(loop)
    yield loop
    # not loop.stop(): that calls QApplication.exit(), which would end the next test's waits
    loop._QEventLoop__is_running = False
    try:
        qapp.aboutToQuit.disconnect(loop._after_run_forever)
    except (RuntimeError, TypeError):
        pass
    loop.close()
    asyncio.events._set_running_loop(None)
    asyncio.set_event_loop(None)
