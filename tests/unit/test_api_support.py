"""Small pieces behind the API: URL redaction, error lines, binds, log masking."""

from __future__ import annotations

import logging

import pytest

from syncsvc.domain.errors import ConfigError
from syncsvc.logsetup import install_mask
from syncsvc.net import non_loopback_binds
from syncsvc.settings import from_env
from syncsvc.store.redis_conn import redact_url
from syncsvc.web.job_view import last_line


def test_redact_url_hides_only_the_password() -> None:
    assert redact_url("redis://:s3cret@redis.example:6380/2") == "redis://:***@redis.example:6380/2"
    assert redact_url("redis://user:s3cret@h/0") == "redis://user:***@h/0"
    assert redact_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"


def test_last_line_of_a_traceback() -> None:
    tb = 'Traceback (most recent call last):\n  File "x.py", line 1\nsyncsvc.domain.errors.RunAborted: Katana 500\n\n'
    assert last_line(tb) == "syncsvc.domain.errors.RunAborted: Katana 500"
    assert last_line(None) is None and last_line("  \n") is None


def test_non_loopback_binds() -> None:
    assert non_loopback_binds(["127.0.0.1:8000", "localhost:1", "[::1]:8000", "unix:/tmp/s"]) == []
    assert non_loopback_binds(["0.0.0.0:8000", "127.0.0.1:1"]) == ["0.0.0.0:8000"]


def test_bind_setting_is_validated() -> None:
    assert from_env({"SYNC_BIND": "0.0.0.0:9000"}, load_dotenv=False).bind == "0.0.0.0:9000"
    with pytest.raises(ConfigError, match="SYNC_BIND must be HOST:PORT"):
        from_env({"SYNC_BIND": "8000"}, load_dotenv=False)


def test_log_records_never_carry_secrets(caplog: pytest.LogCaptureFixture) -> None:
    install_mask(["demo-luca-pass-xyz", "tok-abcdef"])
    logger = logging.getLogger("syncsvc.test")
    with caplog.at_level(logging.INFO):
        logger.info("login with %s and token %s", "demo-luca-pass-xyz", "tok-abcdef")
        try:
            raise ValueError("bad password demo-luca-pass-xyz")
        except ValueError:
            logger.exception("failed")
    text = caplog.text
    assert "demo-luca-pass-xyz" not in text and "tok-abcdef" not in text
    assert "login with *** and token ***" in text and "bad password ***" in text
