"""After a full run: the Luca password, the Katana key and the API token appear nowhere the service
writes or answers: process logs, API and dashboard responses, every Redis value (RQ job hashes
with their zlib-compressed args, meta and results included), the append-only file, the history DB."""

from __future__ import annotations

import sqlite3
import zlib
from collections.abc import Iterator
from pathlib import Path

import redis

from tests.reliability.stack import SECRETS, Service


def _expand(value: bytes) -> Iterator[bytes]:
    yield value
    try:  # RQ stores job data and results zlib-compressed
        yield zlib.decompress(value)
    except zlib.error:
        pass


def redis_values(conn: redis.Redis) -> Iterator[tuple[str, bytes]]:
    for raw_key in conn.scan_iter(count=1000):
        key = raw_key.decode(errors="replace")
        kind = conn.type(raw_key).decode()
        values: list[bytes] = [raw_key]
        if kind == "string":
            values.append(conn.get(raw_key) or b"")
        elif kind == "hash":
            for field, value in conn.hgetall(raw_key).items():
                values += [field, value]
        elif kind == "list":
            values += conn.lrange(raw_key, 0, -1)
        elif kind == "set":
            values += list(conn.smembers(raw_key))
        elif kind == "zset":
            values += [m for m, _ in conn.zrange(raw_key, 0, -1, withscores=True)]
        elif kind == "stream":
            for _, fields in conn.xrange(raw_key):
                for field, value in fields.items():
                    values += [field, value]
        for value in values:
            for text in _expand(value):
                yield key, text


def haystacks(svc: Service, responses: list[str]) -> Iterator[tuple[str, bytes]]:
    for log in sorted(svc.logs.glob("*.log")):
        yield f"log {log.name}", log.read_bytes()
    yield "API responses", "\n".join(responses).encode()
    conn = svc.redis.client()
    try:
        for key, value in redis_values(conn):
            yield f"redis {key}", value
    finally:
        conn.close()
    for path in sorted(Path(svc.redis.directory).rglob("*")):
        if path.is_file():
            yield f"redis file {path.name}", path.read_bytes()
    for path in sorted(Path(svc.history_db).parent.glob(Path(svc.history_db).name + "*")):
        yield f"history file {path.name}", path.read_bytes()
    db = sqlite3.connect(svc.history_db)
    try:
        for table in ("runs", "run_items"):
            for row in db.execute(f"SELECT * FROM {table}"):  # noqa: S608 - fixed table names
                yield f"history {table}", repr(row).encode()
    finally:
        db.close()


def leaks(svc: Service, responses: list[str]) -> tuple[dict[str, list[str]], int]:
    """Where each secret was found (empty when clean) and how many bytes were searched."""
    found: dict[str, list[str]] = {}
    scanned = 0
    for where, text in haystacks(svc, responses):
        scanned += len(text)
        for name, secret in SECRETS.items():
            if secret.encode() in text:
                found.setdefault(name, []).append(where)
    return found, scanned
