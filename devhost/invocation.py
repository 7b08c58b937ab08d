"""Calling user functions the way the Python worker does, for every trigger runner."""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import Callable, Coroutine
from typing import Any


class FunctionInvoker:
    """Runs sync functions on the caller's thread and async ones on one shared event loop.

    The worker runs every coroutine function on a single loop, so module-level async
    clients created by one invocation stay usable by the next.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def call(self, function: Callable[..., Any], arguments: dict[str, Any]) -> Any:
        """Invoke the function with its binding arguments and return its result."""
        result = function(**arguments)
        if inspect.iscoroutine(result):
            return self._run(result)
        return result

    def close(self) -> None:
        """Stop the event loop, if one was started."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is not None and thread is not None:
            loop.call_soon_threadsafe(loop.stop)
            thread.join()
            loop.close()

    def _run(self, coroutine: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._event_loop()).result()

    def _event_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                self._thread = threading.Thread(
                    target=self._loop.run_forever, name="devhost-event-loop", daemon=True
                )
                self._thread.start()
            return self._loop
