"""Outline checks of submitted applications, computed off the farmer's request path.

The API hands each application it has just stored to an :class:`OutlineCheckQueue`: one daemon thread computes
and stores its outline checks (``agrisense.lending.outline_checks.store_outline_checks``) after the offer has gone
back to the farmer, so that an analyst who opens the application finds them stored. The queue is bounded (a full
queue drops the application with a log line: the dashboard then computes its checks on the first view), an
application already waiting is not queued twice, a failed check is logged and the thread goes on with the next,
and :meth:`OutlineCheckQueue.stop` lets the queued ones finish before the service closes its database.

Farmers come first: before each application the thread waits (up to ``yield_s``) until no scoring is running in
this process (``agrisense.lending.scoring.drain_scoring``), so a check does not take a CPU core from a submission
that is being scored.
"""

from __future__ import annotations

import logging
import queue
import threading
import time

from agrisense.config import Settings
from agrisense.lending.outline_checks import store_outline_checks
from agrisense.lending.scoring import drain_scoring
from agrisense.store import Database

log = logging.getLogger(__name__)

QUEUE_SIZE = 1000
"""Applications waiting for their checks at most; more are dropped (and checked on the dashboard's first view)."""
YIELD_S = 30.0
"""How long a check waits for the scorings in flight to finish before it runs anyway."""
_STOP = -1


class OutlineCheckQueue:
    """One background thread computing and storing the outline checks of submitted applications, in order."""

    def __init__(
        self, db: Database, settings: Settings, *, maxsize: int = QUEUE_SIZE, yield_s: float = YIELD_S
    ) -> None:
        self._db = db
        self._settings = settings
        self._yield_s = yield_s
        self._queue: queue.Queue[int] = queue.Queue(maxsize)
        self._waiting: set[int] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopped = False

    def submit(self, app_id: int) -> bool:
        """Queue ``app_id`` for its outline checks (the thread starts on the first one); False, logged, when the
        queue is full or stopped. Never blocks and never raises: the farmer's offer does not depend on it."""
        with self._lock:
            if self._stopped:
                log.warning("outline checks: application %s not queued, the service is stopping", app_id)
                return False
            if app_id in self._waiting:
                return True
            try:
                self._queue.put_nowait(app_id)
            except queue.Full:
                log.warning("outline checks: queue full, application %s is checked on its first view", app_id)
                return False
            self._waiting.add(app_id)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="agrisense-outline-queue", daemon=True)
                self._thread.start()
            return True

    def _run(self) -> None:
        while True:
            app_id = self._queue.get()
            if app_id == _STOP:
                return
            try:
                drain_scoring(self._yield_s)  # let the farmers' scorings in flight have the CPU first
                t0 = time.perf_counter()
                checks = store_outline_checks(self._db, app_id, settings=self._settings)
                log.info(
                    "outline checks: application %s, %d plot(s) in %.1f s",
                    app_id,
                    len(checks),
                    time.perf_counter() - t0,
                )
            except Exception:  # one bad application must not stop the others; the dashboard retries on its view
                log.warning("outline checks of application %s failed", app_id, exc_info=True)
            finally:
                with self._lock:
                    self._waiting.discard(app_id)

    def stop(self, timeout: float = 60.0) -> bool:
        """Accept no more applications, let the queued ones finish and end the thread; True when it ended within
        ``timeout`` seconds (those still queued then are checked on their first view)."""
        with self._lock:
            self._stopped = True
            thread = self._thread
        if thread is None:
            return True
        deadline = time.monotonic() + timeout
        try:
            self._queue.put(_STOP, timeout=timeout)
        except queue.Full:
            return False
        thread.join(max(0.0, deadline - time.monotonic()))
        return not thread.is_alive()
