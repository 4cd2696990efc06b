"""Time limits on every call into an implementation.

Each guarded client owns one worker thread, so an implementation that keeps
per-thread state (redis-py's lock does) sees all its calls on one thread.
A call that does not return in time raises :class:`CallTimeout` naming the
call; the stuck worker is a daemon thread and cannot keep the run alive.

A test that must drive one client from several threads (acquire on one,
release on another; concurrent gets and puts) asks for ``client.on_thread(k)``:
the same client object, its calls run on the client's k-th worker thread
(``k = 0`` is the default one), created at first use and stopped with the rest
by :meth:`Guarded.shutdown`.
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
    """One daemon thread that runs submitted calls in order."""

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

    @property
    def ident(self) -> int | None:
        return self._thread.ident


class _Pool:
    """The worker threads of one client, by index, each started at first use."""

    def __init__(self, label: str) -> None:
        self._label = label
        self._lock = threading.Lock()
        self._workers: dict[int, _Worker] = {}
        self._stopped = False

    def get(self, k: int) -> _Worker:
        with self._lock:
            if self._stopped:
                raise RuntimeError(f"{self._label}: the client was shut down")
            w = self._workers.get(k)
            if w is None:
                w = self._workers[k] = _Worker(self._label if k == 0 else f"{self._label}-{k}")
            return w

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            workers, self._workers = list(self._workers.values()), {}
        for w in workers:
            w.stop()


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
        self._pool = _Pool(label)
        self._thread_index = 0
        # Started now, as before: the default thread exists from the first moment.
        self._worker = self._pool.get(0)

    @property
    def unwrapped(self) -> Any:
        return self._target

    @property
    def thread_index(self) -> int:
        """Which of the client's worker threads runs this view's calls."""
        return self._thread_index

    def on_thread(self, k: int) -> Guarded:
        """The same client, its calls run on the client's ``k``-th worker thread.

        Same target, time limits and call notes; thread ``k`` is started at
        first use and lives until :meth:`shutdown` of any view of the client.
        """
        if not isinstance(k, int) or isinstance(k, bool) or k < 0:
            raise ValueError(f"on_thread(k): k is a thread index 0, 1, 2 ..., got {k!r}")
        view = object.__new__(Guarded)
        view._target = self._target
        view._label = self._label if k == 0 else f"{self._label}@thread{k}"
        view._limit = self._limit
        view._extra = self._extra
        view._pool = self._pool
        view._thread_index = k
        view._worker = self._pool.get(k)
        return view

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
        """Stop every worker thread of the client (all its ``on_thread`` views)."""
        self._pool.stop()

    def __repr__(self) -> str:
        at = f", thread={self._thread_index}" if self._thread_index else ""
        return f"Guarded({self._target!r}{at})"
