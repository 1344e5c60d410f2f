"""How the console keeps full garbage collections short.

The console holds tens of thousands of live objects (its widgets, the tables' rows, the log),
and under a flood of mule output CPython runs a full collection about once a second; walking
them all took 100-180 ms, the console's worst key-to-screen delays. A :class:`SurvivorFreezer`
moves what survives each full collection out of the collector's sight (``gc.freeze()``), so the
next one walks only what was made since (5-40 ms). Survivors that later become cyclic garbage
would then never be found, so once every :data:`THAW_EVERY` seconds everything is thawed and
the next full collection sees it all again.
"""

from __future__ import annotations

import gc
import time

THAW_EVERY = 60.0  # seconds between full collections that walk everything


class SurvivorFreezer:
    """While started, freezes the survivors of each full collection (process-wide: one per app)."""

    def __init__(self, thaw_every: float = THAW_EVERY) -> None:
        self._thaw_every = thaw_every
        self._thawed_at = time.monotonic()
        self._started = False

    def start(self) -> None:
        """Freeze what exists now (it lives as long as the app), then after each full collection.
        Starting it again does nothing."""
        if self._started:
            return
        gc.freeze()
        self._thawed_at = time.monotonic()
        gc.callbacks.append(self._on_collection)
        self._started = True

    def stop(self) -> None:
        """Thaw everything, so the app's objects can be collected once it is gone."""
        if self._started:
            gc.callbacks.remove(self._on_collection)
            gc.unfreeze()
            self._started = False

    def _on_collection(self, phase: str, info: dict[str, int]) -> None:
        if phase != "stop" or info["generation"] != 2:
            return
        now = time.monotonic()
        if now - self._thawed_at >= self._thaw_every:
            gc.unfreeze()  # the next full collection walks everything once
            self._thawed_at = now
        else:
            gc.freeze()
