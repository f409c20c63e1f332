"""SYNC_INSTANCE: one value names the queue, the key prefix and the job ids (issue #10 defect 6)."""

from __future__ import annotations

import pytest

from jobs.enqueue import WORKER_COMMAND, new_job_id
from syncsvc.domain.errors import ConfigError
from syncsvc.keys import Keys
from syncsvc.settings import from_env


def test_one_setting_names_queue_keys_and_job_ids() -> None:
    default = from_env({}, load_dotenv=False)
    assert default.queue_name == default.key_prefix == "sync"
    tenant = from_env({"SYNC_INSTANCE": "tenant-b"}, load_dotenv=False)
    assert (
        tenant.queue_name == "tenant-b" and Keys(tenant.key_prefix).start_claim("PRODUCT") == "tenant-b:claim:PRODUCT"
    )
    assert new_job_id(tenant).startswith("tenant-b-") and new_job_id(tenant) != new_job_id(tenant)
    # The documented worker command names no queue: the settings module's QUEUES follows the setting.
    assert WORKER_COMMAND.split()[:3] == ["rq", "worker", "-c"]


def test_the_older_name_still_works_and_must_agree() -> None:
    assert from_env({"SYNC_KEY_PREFIX": "old"}, load_dotenv=False).queue_name == "old"
    assert from_env({"SYNC_KEY_PREFIX": "x", "SYNC_INSTANCE": "x"}, load_dotenv=False).queue_name == "x"
    with pytest.raises(ConfigError, match="SYNC_INSTANCE='a' and SYNC_KEY_PREFIX='b' differ"):
        from_env({"SYNC_INSTANCE": "a", "SYNC_KEY_PREFIX": "b"}, load_dotenv=False)


@pytest.mark.parametrize("bad", ["a:b", "rq", "with space", "dotted.name", "x" * 65, "é"])
def test_a_name_that_could_nest_or_clash_is_refused(bad: str) -> None:
    with pytest.raises(ConfigError, match="SYNC_INSTANCE must be 1-64 letters"):
        from_env({"SYNC_INSTANCE": bad}, load_dotenv=False)
