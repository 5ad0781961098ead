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


#: how long quitting waits for the window's cancelled background jobs to end
CANCELLED_JOBS_WAIT_S = 5.0


def close_asyncio_loop() -> None:
    """Close the loop asyncio_loop() made, once Qt's event loop has ended and the window
    has cancelled its jobs (nothing if no loop was made). As asyncio.run() does, the
    cancelled jobs get to end first, so none is left pending."""
    if "asyncio" not in sys.modules:  # nothing needed a loop
        return
    import asyncio

    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return
    loop.stop()  # qasync: not running any more (Qt's loop has already ended)
    pending = asyncio.all_tasks(loop)
    if pending:
        for task in pending:
            task.cancel()
        loop.run_until_complete(asyncio.wait(pending, timeout=CANCELLED_JOBS_WAIT_S))
    loop.close()
    asyncio.events._set_running_loop(None)  # as qasync's own run_forever() ends
    asyncio.set_event_loop(None)
