"""RunRequest, the one description of a requested run, and the sync-type registry behind it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from jobs.run import prepare_of
from syncsvc.domain.model import TRIGGERS, InvalidRequest, RunRequest
from syncsvc.domain.synctypes import SYNC_TYPE_NAMES, SYNC_TYPES, sync_type


def test_the_registry_names_each_type_once_with_a_resolvable_prepare() -> None:
    assert SYNC_TYPE_NAMES == ("PRODUCT", "CUSTOMER", "INVOICE")
    for name, entry in SYNC_TYPES.items():
        assert entry.name == name and entry.description and entry.luca_record
        assert callable(prepare_of(name))
        assert set(entry.depends_on) <= set(SYNC_TYPES) - {name}
    assert sync_type("INVOICE").depends_on == ("CUSTOMER", "PRODUCT")
    with pytest.raises(KeyError, match="unknown sync type 'ORDER'; known: PRODUCT, CUSTOMER, INVOICE"):
        sync_type("ORDER")


def test_to_job_is_plain_json_and_round_trips() -> None:
    req = RunRequest("INVOICE", limit=5, dry_run=True, trigger="cli")
    data = req.to_job()
    assert data == {"syncType": "INVOICE", "limit": 5, "dryRun": True, "trigger": "cli", "mode": None, "keys": None}
    assert json.loads(json.dumps(data)) == data
    assert RunRequest.from_job(data) == req
    assert RunRequest.from_job({"syncType": "PRODUCT"}) == RunRequest("PRODUCT")
    assert req.description == "INVOICE sync (dry run)" and RunRequest("CUSTOMER").description == "CUSTOMER sync"
    targeted = RunRequest("PRODUCT", trigger="retry", keys=("variant:5", "ABC-10"), mode="incremental")
    assert RunRequest.from_job(json.loads(json.dumps(targeted.to_job()))) == targeted
    assert targeted.description == "PRODUCT sync (incremental, 2 record(s))"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"syncType": "PRODUCT", "mode": "delta"}, 'mode must be one of full, incremental (or omitted), got "delta"'),
        ({"syncType": "PRODUCT", "keys": []}, "keys must be a list of 1 to 1000"),
        ({"syncType": "PRODUCT", "keys": [5]}, "keys must be a list of 1 to 1000"),
        ({"syncType": "PRODUCT", "keys": "variant:5"}, "keys must be a list of 1 to 1000"),
    ],
)
def test_mode_and_keys_are_validated(data: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidRequest) as exc:
        RunRequest.from_job(data)
    assert message in str(exc.value)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"syncType": "ORDER"}, 'syncType must be one of PRODUCT, CUSTOMER, INVOICE, got "ORDER"'),
        ({}, "syncType is required; allowed values: PRODUCT, CUSTOMER, INVOICE"),
        ({"syncType": "PRODUCT", "limit": 0}, "limit must be a positive integer (or omitted for all items), got 0"),
        (
            {"syncType": "PRODUCT", "limit": True},
            "limit must be a positive integer (or omitted for all items), got true",
        ),
        (
            {"syncType": "PRODUCT", "limit": "²"},
            'limit must be a positive integer (or omitted for all items), got "\\u00b2"',
        ),
        ({"syncType": "PRODUCT", "dryRun": "no"}, 'dryRun must be true or false, got "no"'),
        ({"syncType": "PRODUCT", "trigger": "cron"}, f'trigger must be one of {", ".join(TRIGGERS)}, got "cron"'),
        (
            {"syncType": "PRODUCT", "dry_run": True},
            "unknown field(s) dry_run; allowed fields: syncType, limit, dryRun, trigger, mode, keys, parentRunId",
        ),
        (["PRODUCT"], "a run request must be an object, got list"),
    ],
)
def test_a_bad_request_is_refused_in_one_line_naming_the_field(data: Any, message: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        RunRequest.from_job(data)
    assert str(caught.value) == message


def test_trusted_code_is_validated_too() -> None:
    with pytest.raises(InvalidRequest, match="limit must be a positive integer"):
        RunRequest("PRODUCT", limit=-1)


def test_a_targeted_retry_request_round_trips_with_its_keys_and_parent() -> None:
    req = RunRequest("PRODUCT", trigger="retry", keys=("variant:12", "SKU-1"), parent_run_id="abc")
    data = req.to_job()
    assert data["keys"] == ["variant:12", "SKU-1"] and data["parentRunId"] == "abc"
    assert RunRequest.from_job(data) == req
    assert req.description == "PRODUCT sync (2 record(s))"
    for bad in ({"keys": []}, {"keys": [1]}, {"keys": "SKU-1"}, {"parentRunId": 5}):
        with pytest.raises(InvalidRequest):
            RunRequest.from_job({"syncType": "PRODUCT", **bad})
