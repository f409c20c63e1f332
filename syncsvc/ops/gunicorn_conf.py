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
from syncsvc.logsetup import dict_config, log_format
from syncsvc.net import non_loopback_binds
from syncsvc.settings import from_env

try:
    _settings = from_env()
    log_format()  # a bad SYNC_LOG_FORMAT stops here with one line
except ConfigError as _exc:
    raise SystemExit(f"syncsvc web: {_exc}") from None


def bind_from_env(env: dict[str, str], default: str) -> list[str]:
    """SYNC_BIND wins; else ``PORT`` (Heroku-style platforms, honcho) on every interface; else the
    settings' default. A PORT bind is not loopback, so on_starting still demands a token."""
    if env.get("SYNC_BIND"):
        return [env["SYNC_BIND"]]
    port = env.get("PORT", "").strip()
    if port:
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise SystemExit(f"syncsvc web: PORT must be a TCP port number, got {port!r}")
        return [f"0.0.0.0:{port}"]
    return [default]


bind = bind_from_env(dict(os.environ), _settings.bind)
# gunicorn's error and access logs through our handler: one format for the whole process.
logconfig_dict = dict_config()
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
