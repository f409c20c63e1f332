"""Serve the simulators on a real threaded WSGI server: gunicorn with the gthread worker.

One worker process holds the state of both simulators (so admin calls and API calls see the
same data) and listens on two ports; requests are dispatched by the local port of the accepted
socket. TCP_NODELAY is set by gunicorn on its listeners, so a response never waits on Nagle's
algorithm plus the client's delayed ACK (measured at ~45 ms extra per call otherwise).
"""

from __future__ import annotations

import errno
import socket
import struct
import sys
from collections.abc import Callable, Iterable
from typing import Any

from gunicorn.app.base import BaseApplication

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class PortDispatcher:
    """Route each request to the app bound to the local port the client connected to."""

    def __init__(self, apps: list[WSGIApp]) -> None:
        self.apps = apps
        self.by_port: dict[int, WSGIApp] = {}

    def bind(self, ports: list[int]) -> None:
        self.by_port = dict(zip(ports, self.apps, strict=True))

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        sock = environ.get("gunicorn.socket")
        port = sock.getsockname()[1] if sock is not None else int(environ.get("SERVER_PORT", 0))
        app = self.by_port.get(port) or self.apps[0]
        result = app(environ, start_response)
        if environ.get(_RESET_FLAG):
            # Raised here, outside Flask (which would turn it into a 500): gunicorn treats an
            # ECONNRESET OSError as a vanished client and closes quietly.
            close = getattr(result, "close", None)
            if close is not None:
                close()
            raise ConnectionResetError(errno.ECONNRESET, "sandbox: injected connection reset")
        return result


_RESET_FLAG = "sandbox.connection_reset"


def reset_connection(environ: dict[str, Any]) -> None:
    """Abort the client's connection with a TCP RST, as a broken balancer node does.

    SO_LINGER with a zero timeout makes close() send RST instead of FIN. The caller then returns
    any response (it is never sent); the dispatcher tells gunicorn the connection is gone.
    """
    sock = environ.get("gunicorn.socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
    environ[_RESET_FLAG] = True


class _Gunicorn(BaseApplication):
    def __init__(self, build_apps: Callable[[], list[WSGIApp]], options: dict[str, Any]) -> None:
        self.build_apps = build_apps
        self.options = options
        self.dispatcher: PortDispatcher | None = None
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> WSGIApp:
        # Runs in the worker after the fork: the simulator state lives there.
        self.dispatcher = PortDispatcher(self.build_apps())
        return self.dispatcher


def serve(
    build_apps: Callable[[], list[WSGIApp]],
    host: str,
    ports: list[int],
    names: list[str],
    threads: int = 64,
    log_level: str = "warning",
) -> None:
    """Run gunicorn in the foreground until SIGINT/SIGTERM.

    ``ports`` may contain 0 (any free port); once listening, one line is printed to stdout:
    ``SANDBOX READY name=http://host:port ...`` which :mod:`sandbox.testing` waits for.
    """

    def when_ready(server: Any) -> None:
        bound = [lst.sock.getsockname()[1] for lst in server.LISTENERS]
        urls = " ".join(f"{n}=http://{host}:{p}" for n, p in zip(names, bound, strict=True))
        print(f"SANDBOX READY {urls}", flush=True)

    def post_worker_init(worker: Any) -> None:
        # load() has run in this worker by now; bind ports in listener order (= ``ports``).
        dispatcher = worker.app.dispatcher
        assert dispatcher is not None
        dispatcher.bind([s.getsockname()[1] for s in worker.sockets])

    options = {
        "bind": [f"{host}:{p}" for p in ports],
        "workers": 1,
        "worker_class": "gthread",
        "threads": threads,
        "keepalive": 30,
        # Slow replies are injected on purpose; the gthread heartbeat is independent of them.
        "timeout": 0,
        "graceful_timeout": 3,
        "loglevel": log_level,
        "accesslog": None,
        "errorlog": "-",
        "when_ready": when_ready,
        "post_worker_init": post_worker_init,
        "proc_name": "syncsvc-sandbox",
    }
    app = _Gunicorn(build_apps, options)
    sys.argv = sys.argv[:1]  # gunicorn parses sys.argv; ours were already consumed.
    app.run()
