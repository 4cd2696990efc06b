"""Clients that act on their own: in child processes, or threads for local implementations.

A *role* is a function ``role(client, chan, *args)`` named ``module:function``.
For an implementation that declares ``distributed`` the role runs in a fresh
process that rebuilds the implementation from the adapter's
``module:factory`` and the test's context, so that a test can SIGKILL or
SIGSTOP it. Otherwise it runs in a thread with a client of the test's own
implementation object. ``chan`` is a pipe end for messages to and from the test.

Processes are forked from a ``forkserver`` that has this module imported: a
fresh interpreter per role (``spawn``) took about 0.2 s, 0.9 s for four on a
loaded 2-core machine, before the role could start, and the suite starts
over a hundred. A forkserver child is as fresh as a spawned one (the server
holds no test's state) but inherits the server's environment, so a role that
needs extra environment variables (``env=``: libfaketime's preload) is still
spawned.
"""

from __future__ import annotations

import contextlib
import importlib
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection
from typing import Any

from distconform.api import Context

__all__ = ["Worker", "spawn"]


def _import(target: str) -> Callable[..., Any]:
    module, _, attr = target.partition(":")
    fn: Any = importlib.import_module(module)
    # Dotted, as adapters.resolve allows: ``module:Class.factory``.
    for part in attr.split("."):
        fn = getattr(fn, part)
    return fn  # type: ignore[no-any-return]


def _child(spec: str, ctx_json: dict[str, Any], role: str, args: tuple[Any, ...],
           chan: Connection) -> None:  # fmt: skip
    try:
        impl = _import(spec)(Context.from_json(ctx_json))
        client = impl.client()
        _import(role)(client, chan, *args)
    except BaseException as exc:
        try:
            chan.send(("error", f"{type(exc).__name__}: {exc}"))
        except Exception:
            pass
        raise


class Worker:
    """A role running in a process or a thread; ``recv`` and ``join`` are time-limited."""

    def __init__(self, chan: Connection, proc: Any, thread: threading.Thread | None) -> None:
        self.chan = chan
        self.proc = proc
        self.thread = thread

    @property
    def is_process(self) -> bool:
        return self.proc is not None

    def recv(self, timeout: float, what: str = "a message") -> Any:
        if not self.chan.poll(timeout):
            raise AssertionError(f"worker sent no {what} within {timeout:.1f}s")
        msg = self.chan.recv()
        if isinstance(msg, tuple) and msg and msg[0] == "error":
            raise AssertionError(f"worker failed: {msg[1]}")
        return msg

    def send(self, msg: Any) -> None:
        self.chan.send(msg)

    def signal(self, sig: int) -> None:
        if self.proc is None:
            raise RuntimeError("only a process worker can be signalled")
        os.kill(self.proc.pid, sig)

    def join(self, timeout: float) -> None:
        if self.proc is not None:
            self.proc.join(timeout)
            if self.proc.is_alive():
                self.kill()
                raise AssertionError(f"worker process did not finish within {timeout:.1f}s")
        elif self.thread is not None:
            self.thread.join(timeout)
            if self.thread.is_alive():
                raise AssertionError(f"worker thread did not finish within {timeout:.1f}s")

    def kill(self) -> None:
        if self.proc is not None and self.proc.is_alive():
            try:
                os.kill(self.proc.pid, signal.SIGCONT)
                os.kill(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.join(5)


@contextlib.contextmanager
def _environment(extra: dict[str, str]) -> Iterator[None]:
    """``extra`` in ``os.environ`` while inside, then the previous values back.

    A "spawn" child execs a fresh interpreter with the environment at
    ``start()``; restoring at once keeps the test process itself unaffected.
    """
    saved = {k: os.environ.get(k) for k in extra}
    os.environ.update(extra)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _context(env: dict[str, str] | None) -> Any:
    """forkserver (this module preloaded), or spawn when the child needs its own environment."""
    if env:
        return multiprocessing.get_context("spawn")
    mp = multiprocessing.get_context("forkserver")
    mp.set_forkserver_preload([__name__])
    return mp


def spawn(
    subject: Any,
    role: str,
    *args: Any,
    process: bool | None = None,
    env: dict[str, str] | None = None,
) -> Worker:
    """Start ``role`` for ``subject`` (a :class:`distconform.plugin.Subject`).

    ``env``: extra environment variables for the child process (for example
    ``LD_PRELOAD`` of libfaketime, to skew its clock); only for a process.
    """
    if process is None:
        process = subject.has("distributed")
    if env and not process:
        raise ValueError("env= needs a process worker: a thread shares the test's environment")
    parent, child = multiprocessing.Pipe()
    if process:
        mp = _context(env)
        proc = mp.Process(
            target=_child,
            args=(subject.adapter.spec, subject.ctx.to_json(), role, args, child),
            daemon=True,
        )
        with _environment(env or {}):
            proc.start()
        return Worker(parent, proc, None)
    client = subject.client()
    fn = _import(role)

    def run() -> None:
        try:
            fn(client, child, *args)
        except BaseException as exc:
            try:
                child.send(("error", f"{type(exc).__name__}: {exc}"))
            except Exception:
                pass

    t = threading.Thread(target=run, daemon=True, name=f"dc-role-{role}")
    t.start()
    return Worker(parent, None, t)
