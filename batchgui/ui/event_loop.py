"""The window's asyncio loop: qasync's, on Qt's own event loop, made when first needed.

The window is shown before asyncio and qasync are imported: they take about 35 ms,
and the first paint runs no coroutine. The first job that needs the loop makes it
(the window's background start, one turn after its first frame); app.main closes it
after Qt's event loop has ended. Under tests the fixture's loop is already running and
is simply used.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import asyncio


def asyncio_loop() -> asyncio.AbstractEventLoop:
    """The running asyncio loop; the first call without one makes a qasync loop on the
    QApplication, running whenever Qt's event loop runs."""
    import asyncio  # the first call pays for it, after the first frame (see above)

    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        pass
    import qasync
    from PySide6.QtWidgets import QApplication

    loop = qasync.QEventLoop(QApplication.instance(), already_running=True)
    asyncio.set_event_loop(loop)
    return loop


def close_asyncio_loop() -> None:
    """Close the loop asyncio_loop() made, once Qt's event loop has ended (nothing if none)."""
    if "asyncio" not in sys.modules:  # nothing needed a loop
        return
    import asyncio

    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return
    loop.stop()  # qasync: not running any more (Qt's loop has already ended)
    loop.close()
    asyncio.events._set_running_loop(None)  # as qasync's own run_forever() ends
    asyncio.set_event_loop(None)
