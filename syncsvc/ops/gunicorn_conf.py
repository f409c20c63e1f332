"""gunicorn settings for the web process::

    gunicorn -c python:syncsvc.ops.gunicorn_conf 'syncsvc.web.app:create_app()'

Threads, not processes, carry concurrency (requests mostly wait on Redis and SQLite). Starting
is refused when no ``SYNC_API_TOKEN`` is set and any bind address is not loopback: without a
token the API and rq-dashboard are open to whoever can connect.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

from syncsvc.domain.errors import ConfigError
from syncsvc.net import non_loopback_binds
from syncsvc.settings import from_env

try:
    _settings = from_env()
except ConfigError as _exc:
    raise SystemExit(f"syncsvc web: {_exc}") from None

bind = [os.environ.get("SYNC_BIND") or _settings.bind]
worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY", "1"))
threads = _settings.web_threads
# A slow client must not pin a thread forever; no request of ours takes seconds.
timeout = 30
graceful_timeout = 10
accesslog = "-"
errorlog = "-"


def on_starting(server: Any) -> None:
    exposed = non_loopback_binds(list(server.cfg.bind))
    if _settings.sync_api_token is None:
        if exposed:
            # One line, then exit: gunicorn would otherwise log a traceback for a hook error.
            print(
                f"syncsvc web: refusing to listen on {', '.join(exposed)} without SYNC_API_TOKEN "
                "(set a token, or bind to 127.0.0.1)",
                file=sys.stderr,
                flush=True,
            )
            os._exit(2)
        logging.getLogger("syncsvc").warning(
            "SYNC_API_TOKEN is not set: the API and /rq are open, listening on loopback only (%s)",
            ", ".join(server.cfg.bind),
        )
