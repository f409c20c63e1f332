"""Small network helpers shared by the CLI, gunicorn config and the demo."""

from __future__ import annotations

import ipaddress
import os
import socket
import time

import requests


def bind_host(bind: str) -> str:
    if bind.startswith("unix:"):
        return "unix"
    host = bind.rpartition(":")[0] if ":" in bind else bind
    return host.strip("[]")


def is_loopback_host(host: str) -> bool:
    if host in ("localhost", "unix"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def non_loopback_binds(binds: list[str]) -> list[str]:
    return [b for b in binds if not is_loopback_host(bind_host(b))]


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


def wait_http(url: str, timeout: float = 20.0) -> bool:
    """Poll ``url`` until it answers any HTTP status."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=1)
            return True
        except requests.RequestException:
            time.sleep(0.1)
    return False


def pinned_session(base_url: str) -> requests.Session:
    """A ``requests.Session`` that reads the proxy and CA-bundle environment once, here.

    With ``trust_env`` (the default) requests re-reads them on every request: it walks all of
    ``os.environ`` for ``*_proxy`` variables and stats ``~/.netrc``. Profiling the zero-latency
    sync showed that as the largest single cost of our own code (about a fifth of its CPU).
    NO_PROXY is honoured for ``base_url``; netrc is dropped on purpose (our clients authenticate
    explicitly, and a netrc entry would replace the Katana bearer header)."""
    http = requests.Session()
    http.proxies.update(requests.utils.get_environ_proxies(base_url))
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle:
        http.verify = bundle
    http.trust_env = False
    return http
