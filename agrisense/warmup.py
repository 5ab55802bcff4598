"""Start-up warm-up: what the first offer, the first "tap my field" and the dashboard's first application page would
otherwise pay for (the heavy imports and the U-Net with its field-boundary head, ``ml.registry.load_model_cached``)
is done once per process in a background thread when a server starts.

Callers that need the model call :func:`wait_until_warm` first: it joins a warm-up in progress instead of loading a
second copy in parallel (``load_model_cached`` is an ``lru_cache``, which does not lock), and returns at once when
none runs. A failed warm-up is logged, never raised: the request then loads the model itself and reports the error.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from agrisense.config import Settings

log = logging.getLogger(__name__)

_threads: dict[tuple[str, str], threading.Thread] = {}
_lock = threading.Lock()


def _key(settings: Settings) -> tuple[str, str]:
    return str(settings.models_dir), str(settings.device)


def warm_models(settings: Settings) -> float:
    """Import the scoring and outline code, load the model exactly as they do and run it once on a blank window
    the size "tap my field" uses (PyTorch's first forward pass sets up its kernels); returns the seconds it took."""
    t0 = time.perf_counter()
    import numpy as np

    import agrisense.scoring.tile  # noqa: F401  (torch, segmentation-models-pytorch, odc-stac, rasterio)
    from agrisense.ml.inference import predict_maps
    from agrisense.ml.registry import load_model_cached
    from agrisense.outline import WINDOW_PX

    model = load_model_cached(str(settings.models_dir), device=settings.device)
    channels = len(model.bundle.channel_mean)
    predict_maps(model, np.zeros((channels, WINDOW_PX, WINDOW_PX), dtype=np.float32))
    return time.perf_counter() - t0


def start_warm_up(settings: Settings, *extra: Callable[[], object]) -> threading.Thread:
    """:func:`warm_models` (then each of ``extra``, e.g. a front end's own first render) in a daemon thread, at most
    once per models folder and device per process; the running or finished thread is returned."""

    def run() -> None:
        try:
            seconds = warm_models(settings)
            for step in extra:
                step()
            log.info("warm-up: model and imports ready in %.1f s", seconds)
        except Exception:  # a missing or broken model must not stop the server; the first request reports it
            log.warning("warm-up failed; the first request loads the model itself", exc_info=True)

    with _lock:
        key = _key(settings)
        if key not in _threads:
            _threads[key] = threading.Thread(target=run, name="agrisense-warm-up", daemon=True)
            _threads[key].start()
        return _threads[key]


def wait_until_warm(settings: Settings, timeout: float = 300.0) -> bool:
    """Wait up to ``timeout`` seconds for this process's warm-up of ``settings``' model, if one was started; True
    when none is running (any more)."""
    with _lock:
        thread = _threads.get(_key(settings))
    if thread is None or thread is threading.current_thread():
        return True
    thread.join(timeout)
    return not thread.is_alive()
