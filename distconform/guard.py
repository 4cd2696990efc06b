"""Time limits on every call into an implementation.

Each guarded client owns one worker thread, so an implementation that keeps
per-thread state (redis-py's lock does) sees all its calls on one thread.
A call that does not return in time raises :class:`CallTimeout` naming the
call; the stuck worker is a daemon thread and cannot keep the run alive.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from distconform.errors import CallTimeout

__all__ = ["DEFAULT_CALL_TIMEOUT", "Guarded", "call_with_timeout"]

#: Seconds a single call may take beyond any wait it was asked to do. Generous:
#: a loaded 2-core CI machine can stall a healthy Redis round trip for ~1 s.
DEFAULT_CALL_TIMEOUT = 10.0


class _Worker:
    def __init__(self, label: str) -> None:
        self._jobs: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]] | None] = (
            queue.SimpleQueue()
        )
        self._thread = threading.Thread(target=self._run, name=f"dc-{label}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            fn, fut = job
            if not fut.set_running_or_notify_cancel():
                continue
            try:
                fut.set_result(fn())
            except BaseException as exc:  # handed to the caller, who re-raises it
                fut.set_exception(exc)

    def submit(self, fn: Callable[[], Any]) -> Future[Any]:
        fut: Future[Any] = Future()
        self._jobs.put((fn, fut))
        return fut

    def stop(self) -> None:
        self._jobs.put(None)


def call_with_timeout(fn: Callable[[], Any], limit: float, what: str) -> Any:
    """Run ``fn`` on a fresh daemon thread; fail with a message naming ``what``."""
    worker = _Worker(what)
    try:
        return _wait(worker.submit(fn), limit, what)
    finally:
        worker.stop()


def _wait(fut: Future[Any], limit: float, what: str) -> Any:
    try:
        return fut.result(timeout=limit)
    except TimeoutError:
        raise CallTimeout(f"{what} did not return within {limit:.1f}s (hung or too slow)") from None


def _arguments(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    parts = [_short(a) for a in args] + [f"{k}={_short(v)}" for k, v in kwargs.items()]
    return ", ".join(parts)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class Guarded:
    """A proxy that runs every method call of ``target`` under a time limit.

    ``extra(name, args, kwargs)`` adds to the limit the time a call was asked
    to wait (a blocking acquire's own timeout, say).
    """

    def __init__(
        self,
        target: Any,
        label: str,
        limit: float = DEFAULT_CALL_TIMEOUT,
        extra: Callable[[str, tuple[Any, ...], dict[str, Any]], float] | None = None,
    ) -> None:
        self._target = target
        self._label = label
        self._limit = limit
        self._extra = extra
        self._worker = _Worker(label)

    @property
    def unwrapped(self) -> Any:
        return self._target

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._target, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            limit = self._limit + (self._extra(name, args, kwargs) if self._extra else 0.0)
            fut = self._worker.submit(lambda: attr(*args, **kwargs))
            try:
                return _wait(fut, limit, f"{self._label}.{name}()")
            except Exception as exc:
                # The call with its arguments makes the report a reproduction.
                exc.add_note(f"call: {self._label}.{name}({_arguments(args, kwargs)})")
                raise

        return call

    def shutdown(self) -> None:
        self._worker.stop()

    def __repr__(self) -> str:
        return f"Guarded({self._target!r})"
