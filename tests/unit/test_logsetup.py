"""Log format choice, JSON lines with run fields, text extras, masking in both formats."""

from __future__ import annotations

import io
import json
import logging

import pytest

from syncsvc.domain.errors import ConfigError
from syncsvc.logsetup import bound, install_mask, log_format, make_handler


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def _emit(fmt: str, *args: object, **extra: object) -> str:
    stream = io.StringIO()
    logger = logging.getLogger(f"syncsvc.test.{fmt}")
    logger.propagate = False
    handler = make_handler(fmt, stream)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        logger.info(*args, extra=extra or None)  # type: ignore[arg-type]
    finally:
        logger.removeHandler(handler)
    return stream.getvalue()


def test_format_from_environment_else_text_on_a_terminal_json_elsewhere() -> None:
    assert log_format({"SYNC_LOG_FORMAT": "JSON"}) == "json"
    assert log_format({"SYNC_LOG_FORMAT": "text"}, io.StringIO()) == "text"
    assert log_format({}, Tty()) == "text"
    assert log_format({}, io.StringIO()) == "json"
    with pytest.raises(ConfigError, match="SYNC_LOG_FORMAT must be json or text"):
        log_format({"SYNC_LOG_FORMAT": "xml"})


def test_json_line_carries_bound_run_fields_and_extras() -> None:
    with bound(run_id="r1", job_id="r1", sync_type="PRODUCT"):
        line = _emit("json", "retrying item %s", "SKU-1", key="SKU-1", attempt=2, delay_s=0.5)
    record = json.loads(line)
    assert record["message"] == "retrying item SKU-1" and record["level"] == "INFO"
    assert (record["run_id"], record["job_id"], record["sync_type"]) == ("r1", "r1", "PRODUCT")
    assert (record["key"], record["attempt"], record["delay_s"]) == ("SKU-1", 2, 0.5)
    assert record["ts"].endswith("Z") and line.count("\n") == 1
    assert "run_id" not in json.loads(_emit("json", "outside a run"))


def test_text_line_appends_fields_and_both_formats_mask_secrets() -> None:
    install_mask(["s3cret-value-xyz"])
    with bound(run_id="r2", sync_type="INVOICE"):
        text = _emit("text", "login with %s", "s3cret-value-xyz", key="KTN-SO-9")
    assert "login with ***" in text and "run_id=r2 sync_type=INVOICE key=KTN-SO-9" in text
    line = _emit("json", "extra", reason="s3cret-value-xyz")
    assert "s3cret-value-xyz" not in line and json.loads(line)["reason"] == "***"
