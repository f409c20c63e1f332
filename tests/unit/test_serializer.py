"""Job data: RQ's default pickle format, read back as plain values only."""

from __future__ import annotations

import datetime
import os
import pickle

import pytest
from rq.serializers import DefaultSerializer

from syncsvc.store.serializer import PlainPickleSerializer, loads


class Gadget:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return os.system, ("echo pwned",)


def test_plain_values_round_trip_in_rqs_own_format() -> None:
    value = ("jobs.tasks.run_sync_job", None, (), {"request": {"syncType": "PRODUCT", "limit": None, "keys": ["A"]}})
    data = PlainPickleSerializer.dumps(value)
    assert data == DefaultSerializer.dumps(value)  # every RQ tool reads what we write
    assert loads(data) == value
    when = {"at": datetime.datetime(2026, 12, 3, tzinfo=datetime.UTC), "d": datetime.timedelta(seconds=3)}
    assert loads(pickle.dumps(when)) == when


@pytest.mark.parametrize("payload", [Gadget(), os.system, pickle.Pickler, {"x": [Gadget()]}])
def test_anything_that_names_a_global_is_refused(payload: object) -> None:
    with pytest.raises(pickle.UnpicklingError, match="plain values only"):
        loads(pickle.dumps(payload, protocol=2))
    with pytest.raises(pickle.UnpicklingError):
        loads(pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL))
