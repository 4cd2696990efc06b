"""A fault-injecting TCP proxy between implementations and their servers.

A test that needs an unlucky schedule forces it instead of hoping for it: the
server did the work but the client has not heard yet (hold the reply), the
client gave up but the server still does it (delay the request past the
client's timeout), the connection dies mid-operation (cut). Any adapter is
reachable this way because it connects to the URL in its context
(:meth:`distconform.plugin.Subject.via_proxy` rewrites that URL)::

    proxy = FaultProxy(("127.0.0.1", 6379)).start()
    proxy.delay(0.3)               # replies received from now on arrive 0.3 s late
    proxy.hold("reply"); ...; proxy.release()
    proxy.cut()                    # RST to both sides of every open connection
    proxy.refuse(True)             # new connections are reset at once
    proxy.reset()                  # transparent again
    proxy.stop()

Directions: ``"request"`` is client to server, ``"reply"`` server to client.

Why not a library: toxiproxy (the usual tool) is a Go server that cannot be
fetched here, and its Python clients only drive that server; ``faultlib``
wraps a Rust engine and needs Python 3.14; the pure-Python TCP proxies on PyPI
(``asynctcpproxy``, ``tcp-proxy-server``) are unmaintained since 2019/2021 and
offer no faults. So this is a small threaded proxy.

How it works: one accept thread; per connection two pump threads, one per
direction. A pump reads what arrives, stamps each chunk with the time it is
due (arrival plus the delay in force at arrival), and writes chunks in order
once due and while the direction is not held. Every wait is a ``select`` with
a short timeout (:data:`POLL`) and a pipe that control calls write to, so a
change (release, cut, stop) takes effect at once and nothing blocks for ever;
a write to a peer that does not read gives up after :data:`SEND_TIMEOUT`.
A reset arriving from one side is passed on as a reset to the other side.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import struct
import threading
import time
from collections import deque
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

__all__ = ["DIRECTIONS", "FaultProxy", "rewrite_url"]

Direction = Literal["request", "reply", "both"]
#: The two ways bytes flow; "both" in a call means both of them.
DIRECTIONS = ("request", "reply")
#: Longest sleep of a thread between looks at its flags (s).
POLL = 0.05
#: Connecting to the server, and writing to a peer that does not read (s).
CONNECT_TIMEOUT = 5.0
SEND_TIMEOUT = 10.0
#: stop() waits this long for all threads together.
STOP_TIMEOUT = 2.0
_CHUNK = 65536
_LINGER_RST = struct.pack("ii", 1, 0)


def _directions(direction: str) -> tuple[str, ...]:
    if direction == "both":
        return DIRECTIONS
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be 'request', 'reply' or 'both', got {direction!r}")
    return (direction,)


def _rst_close(sock: socket.socket) -> None:
    """Close with SO_LINGER 0: the peer gets a reset, not an orderly end."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RST)
    with contextlib.suppress(OSError):
        sock.close()


def rewrite_url(url: str, host: str, port: int) -> str:
    """``url`` with its host and port replaced; user, password, path and query kept."""
    u = urlsplit(url)
    if not u.hostname:
        raise ValueError(f"cannot route {url!r} through a TCP proxy: it names no host")
    userinfo, at, _ = u.netloc.rpartition("@")
    return urlunsplit(u._replace(netloc=f"{userinfo}{at}{host}:{port}"))


class _Pump:
    """One direction of one connection: read from ``src``, write due chunks to ``dst``."""

    def __init__(self, conn: _Connection, direction: str, src: socket.socket,
                 dst: socket.socket) -> None:  # fmt: skip
        self.conn, self.direction, self.src, self.dst = conn, direction, src, dst
        self.queue: deque[tuple[float, bytes]] = deque()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        # wake() and close() under one lock: a write to a closed pipe's number
        # could land in whatever file reused it.
        self._pipe_lock = threading.Lock()
        self._pipe_open = True
        self.thread = threading.Thread(target=self._run, name=f"dc-proxy-{direction}", daemon=True)

    def wake(self) -> None:
        with self._pipe_lock, contextlib.suppress(OSError):  # full: already woken
            if self._pipe_open:
                os.write(self._wake_w, b"x")

    def _run(self) -> None:
        proxy = self.conn.proxy
        eof = False
        try:
            while not self.conn.closed:
                now = time.monotonic()
                timeout = POLL
                if self.queue and not proxy.is_held(self.direction):
                    due, data = self.queue[0]
                    if due <= now:
                        self.queue.popleft()
                        self._send(data)
                        continue
                    timeout = min(POLL, due - now)
                elif eof and not self.queue:
                    with contextlib.suppress(OSError):
                        self.dst.shutdown(socket.SHUT_WR)
                    return
                watch: list[int | socket.socket] = [self._wake_r]
                if not eof:
                    watch.append(self.src)
                ready, _, _ = select.select(watch, [], [], timeout)
                if self._wake_r in ready:
                    with contextlib.suppress(OSError):
                        os.read(self._wake_r, 4096)
                if not eof and self.src in ready:
                    try:
                        data = self.src.recv(_CHUNK)
                    except BlockingIOError:
                        continue
                    if not data:
                        eof = True
                        continue
                    self.queue.append((time.monotonic() + proxy.delay_of(self.direction), data))
        except OSError:
            # A reset from one side, or a socket closed by cut()/stop(): pass it on.
            self.conn.kill()
        finally:
            self.conn.pump_done()

    def _send(self, data: bytes) -> None:
        view = memoryview(data)
        deadline = time.monotonic() + SEND_TIMEOUT
        while view and not self.conn.closed:
            try:
                n = self.dst.send(view)
                view = view[n:]
                continue
            except BlockingIOError:
                pass
            if time.monotonic() > deadline:
                raise OSError(f"peer read nothing for {SEND_TIMEOUT:.0f} s")
            select.select([], [self.dst], [], POLL)

    def close(self) -> None:
        with self._pipe_lock:
            if not self._pipe_open:
                return
            self._pipe_open = False
            for fd in (self._wake_r, self._wake_w):
                with contextlib.suppress(OSError):
                    os.close(fd)


class _Connection:
    def __init__(self, proxy: FaultProxy, client: socket.socket, server: socket.socket) -> None:
        self.proxy = proxy
        self.client, self.server = client, server
        self.closed = False
        self._lock = threading.Lock()
        self._running = 2
        for s in (client, server):
            s.setblocking(False)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.pumps = [
            _Pump(self, "request", client, server),
            _Pump(self, "reply", server, client),
        ]

    def start(self) -> None:
        for p in self.pumps:
            p.thread.start()

    def wake(self) -> None:
        for p in self.pumps:
            p.wake()

    def kill(self) -> None:
        """Reset both sides now; queued bytes are dropped."""
        with self._lock:
            if self.closed:
                return
            self.closed = True
        _rst_close(self.client)
        _rst_close(self.server)
        self.wake()

    def pump_done(self) -> None:
        with self._lock:
            self._running -= 1
            last = self._running == 0
        if last:
            # Both directions ended in order (each side sent FIN): close quietly.
            with self._lock:
                already, self.closed = self.closed, True
            if not already:
                for s in (self.client, self.server):
                    with contextlib.suppress(OSError):
                        s.close()
            self.proxy._forget(self)
            for p in self.pumps:
                p.close()


class FaultProxy:
    """A TCP proxy on 127.0.0.1 in front of ``upstream`` that injects faults on request."""

    def __init__(self, upstream: tuple[str, int], host: str = "127.0.0.1") -> None:
        self.upstream = upstream
        self.host = host
        self.port = 0
        self._state = threading.Lock()
        self._delay = dict.fromkeys(DIRECTIONS, 0.0)
        self._held: set[str] = set()
        self._refuse = False
        self._stopping = False
        self._conns: set[_Connection] = set()
        self._listener: socket.socket | None = None
        self._thread: threading.Thread | None = None
        #: Connections accepted so far (refused ones included).
        self.accepted = 0

    # ------------------------------------------------------------ life cycle

    def start(self) -> FaultProxy:
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind((self.host, 0))
        ls.listen(64)
        ls.settimeout(POLL)
        self._listener = ls
        self.port = int(ls.getsockname()[1])
        self._thread = threading.Thread(target=self._accept, name="dc-proxy-accept", daemon=True)
        self._thread.start()
        return self

    @property
    def address(self) -> tuple[str, int]:
        return (self.host, self.port)

    def url_for(self, url: str) -> str:
        """``url`` pointed at this proxy, with user, password, database and query kept."""
        return rewrite_url(url, self.host, self.port)

    def stop(self) -> None:
        """Close the listener and reset every connection; returns within STOP_TIMEOUT."""
        deadline = time.monotonic() + STOP_TIMEOUT
        with self._state:
            self._stopping = True
            conns = list(self._conns)
        for c in conns:
            c.kill()
        threads = [self._thread] if self._thread else []
        threads += [p.thread for c in conns for p in c.pumps]
        for t in threads:
            if t.ident is not None:
                t.join(max(0.0, deadline - time.monotonic()))
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.close()

    def __enter__(self) -> FaultProxy:
        return self if self._listener else self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --------------------------------------------------------------- faults

    def delay(self, seconds: float, direction: Direction = "reply") -> None:
        """Bytes received from now on in ``direction`` are passed on ``seconds`` late."""
        if seconds < 0:
            raise ValueError(f"delay must be >= 0 s, got {seconds}")
        with self._state:
            for d in _directions(direction):
                self._delay[d] = float(seconds)

    def hold(self, direction: Direction = "reply") -> None:
        """Keep bytes in ``direction`` (arrived or arriving) until :meth:`release`."""
        with self._state:
            self._held.update(_directions(direction))

    def release(self) -> None:
        """Let held bytes through, in order, and stop holding."""
        with self._state:
            self._held.clear()
        self._wake_all()

    def cut(self) -> None:
        """Reset (RST, SO_LINGER 0) both sides of every open connection now."""
        with self._state:
            conns = list(self._conns)
        for c in conns:
            c.kill()

    def refuse(self, on: bool = True) -> None:
        """While on, a new connection is reset as soon as it is accepted."""
        with self._state:
            self._refuse = bool(on)

    def reset(self) -> None:
        """Transparent again: no delay, nothing held, connections accepted."""
        with self._state:
            self._delay = dict.fromkeys(DIRECTIONS, 0.0)
            self._held.clear()
            self._refuse = False
        self._wake_all()

    # --------------------------------------------------------- observations

    @property
    def connections(self) -> int:
        """Connections open now (a cut one counts as closed at once)."""
        with self._state:
            return sum(not c.closed for c in self._conns)

    def delay_of(self, direction: str) -> float:
        with self._state:
            return self._delay[direction]

    def is_held(self, direction: str) -> bool:
        with self._state:
            return direction in self._held

    # ------------------------------------------------------------- internals

    def _wake_all(self) -> None:
        with self._state:
            conns = list(self._conns)
        for c in conns:
            c.wake()

    def _forget(self, conn: _Connection) -> None:
        with self._state:
            self._conns.discard(conn)

    def _accept(self) -> None:
        assert self._listener is not None
        while True:
            with self._state:
                if self._stopping:
                    return
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return  # listener closed by stop()
            self.accepted += 1
            with self._state:
                refuse = self._refuse or self._stopping
            if refuse:
                _rst_close(client)
                continue
            try:
                server = socket.create_connection(self.upstream, timeout=CONNECT_TIMEOUT)
            except OSError:
                _rst_close(client)  # server down: the client sees what it would see
                continue
            conn = _Connection(self, client, server)
            with self._state:
                if self._stopping:
                    conn.kill()
                    return
                self._conns.add(conn)
            conn.start()

    def __repr__(self) -> str:
        return f"FaultProxy({self.host}:{self.port} -> {self.upstream[0]}:{self.upstream[1]})"
