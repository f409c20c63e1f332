"""rq-dashboard behind our guard: every mounted route answers, hostile URLs get a 4xx, never a 500
(issue #10 defect 7), and requeue keeps one run per sync type."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rq import Worker

from jobs.enqueue import current_claim, start_sync, sync_queue
from syncsvc.domain.model import RunRequest
from syncsvc.settings import Settings
from tests.service_fixtures import AUTH, FAKE_JOB, make_app, make_settings


@pytest.fixture
def svc_settings(redis_url: str, tmp_path: Path) -> Settings:
    return make_settings(redis_url, tmp_path)


@pytest.fixture
def app(svc_settings: Settings) -> Iterator[Flask]:
    yield make_app(svc_settings)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def running(conn: redis.Redis, settings: Settings, sync_type: str = "PRODUCT") -> str:
    """A job a live worker is running right now (registered worker, current job, STARTED)."""
    job_id = start_sync(conn, settings, RunRequest(sync_type), FAKE_JOB)
    queue = sync_queue(conn, settings)
    worker = Worker([queue], connection=conn, name=f"w-{sync_type.lower()}")
    worker.register_birth()
    job = queue.fetch_job(job_id)
    assert job is not None
    with conn.pipeline() as pipe:
        worker.set_current_job_id(job_id, pipeline=pipe)
        job.prepare_for_execution(worker.name, pipe)
        pipe.execute()
    return job_id


def failed(conn: redis.Redis, settings: Settings, sync_type: str = "CUSTOMER") -> str:
    job_id = start_sync(conn, settings, RunRequest(sync_type), FAKE_JOB)
    queue = sync_queue(conn, settings)
    job = queue.fetch_job(job_id)
    assert job is not None
    conn.lrem(queue.key, 0, job_id)
    with conn.pipeline() as pipe:
        job.set_status("failed", pipeline=pipe)
        queue.failed_job_registry.add(job, exc_string="Unavailable: Katana 500", pipeline=pipe)
        pipe.execute()
    return job_id


def test_every_page_and_data_route_answers_during_a_run(
    client: FlaskClient, redis_conn: redis.Redis, svc_settings: Settings
) -> None:
    job_id = running(redis_conn, svc_settings)
    failed(redis_conn, svc_settings)
    for path in ("/rq/", "/rq/0/", "/rq/0/view/workers", "/rq/0/view/jobs",
                 "/rq/0/view/jobs/svctest/started/8/asc/1", f"/rq/0/view/job/{job_id}",
                 "/rq/0/data/queues.json", f"/rq/0/data/job/{job_id}.json"):  # fmt: skip
        assert client.get(path, headers=AUTH, follow_redirects=True).status_code == 200, path
    workers = client.get("/rq/0/data/workers.json", headers=AUTH)
    assert workers.status_code == 200, workers.text
    assert [w["current_job"]["job_id"] for w in workers.json["workers"]] == [job_id]
    for registry in ("queued", "started", "failed", "finished", "deferred", "scheduled", "canceled"):
        for order in ("asc", "dsc"):
            resp = client.get(f"/rq/0/data/jobs/svctest/{registry}/8/{order}/1.json", headers=AUTH)
            assert resp.status_code == 200, (registry, resp.text)


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/rq/0/view/job/a.b", 404),
        ("/rq/0/view/job/a:b", 404),
        ("/rq/0/data/job/%C3%BC.json", 404),
        ("/rq/0/data/job/" + "x" * 300 + ".json", 404),
        ("/rq/0/data/jobs/svctest/queued/abc/asc/1.json", 400),
        ("/rq/0/data/jobs/svctest/queued/0/asc/1.json", 400),
        ("/rq/0/data/jobs/svctest/queued/8/asc/0.json", 400),
        ("/rq/0/data/jobs/svctest/queued/8/up/1.json", 400),
        ("/rq/0/data/jobs/svctest/nosuch/8/asc/1.json", 404),
        ("/rq/0/view/jobs/svctest/queued/0/asc/1", 400),
        ("/rq/0/view/jobs/svctest/nosuch/8/asc/1", 404),
        ("/rq/0/view/job/" + "0" * 32, 404),
    ],
)
def test_malformed_ids_and_parameters_get_a_4xx(client: FlaskClient, path: str, status: int) -> None:
    resp = client.get(path, headers=AUTH)
    assert resp.status_code == status, resp.text
    assert resp.is_json and "Traceback" not in resp.text


def test_actions_on_the_wrong_state_are_4xx(
    client: FlaskClient, redis_conn: redis.Redis, svc_settings: Settings
) -> None:
    assert client.post("/rq/queue/svctest/compact", headers=AUTH).status_code == 200  # empty queue
    job_id = running(redis_conn, svc_settings)
    assert client.post(f"/rq/job/{job_id}/requeue", headers=AUTH).status_code == 409  # not failed
    assert client.post(f"/rq/job/{'0' * 32}/requeue", headers=AUTH).status_code == 404
    assert client.post("/rq/job/a.b/delete", headers=AUTH).status_code == 404


def test_requeue_keeps_one_run_per_type(client: FlaskClient, redis_conn: redis.Redis, svc_settings: Settings) -> None:
    old = failed(redis_conn, svc_settings, "CUSTOMER")
    newer = start_sync(redis_conn, svc_settings, RunRequest("CUSTOMER"), FAKE_JOB)  # the type is free again
    refused = client.post(f"/rq/job/{old}/requeue", headers=AUTH)
    assert refused.status_code == 409 and newer in refused.json["error"]
    every = client.post("/rq/requeue/svctest", headers=AUTH)
    assert every.status_code == 200 and every.json["count"] == 0 and len(every.json["skipped"]) == 1

    sync_queue(redis_conn, svc_settings).remove(newer)
    redis_conn.delete(f"rq:job:{newer}")  # the newer run is gone: the old one may run again
    assert client.post(f"/rq/job/{old}/requeue", headers=AUTH).status_code == 200
    assert current_claim(redis_conn, svc_settings, "CUSTOMER") == old
    assert sync_queue(redis_conn, svc_settings).job_ids == [old]


SEGMENT = st.one_of(
    st.text(min_size=1, max_size=40),
    st.sampled_from(["sync", "queued", "failed", "0", "-1", "1", "8", "asc", "dsc", "..", "%00", "a:b", "9" * 30]),
)
ROUTES = [
    ("GET", "/rq/0/view/job/{}"),
    ("GET", "/rq/0/data/job/{}.json"),
    ("GET", "/rq/0/view/jobs/{}/{}/{}/{}/{}"),
    ("GET", "/rq/0/data/jobs/{}/{}/{}/{}/{}.json"),
    ("POST", "/rq/job/{}/requeue"),
    ("POST", "/rq/job/{}/delete"),
    ("POST", "/rq/requeue/{}"),
    ("POST", "/rq/queue/{}/{}/empty"),
    ("POST", "/rq/queue/{}/compact"),
    ("GET", "/rq/{}/view/workers"),
    ("GET", "/rq/{}/data/workers.json"),
]


@pytest.mark.parametrize(("method", "template"), ROUTES)
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_hostile_path_segments_never_5xx(
    method: str, template: str, data: st.DataObject, app: Flask, redis_url: str
) -> None:
    segments = [data.draw(SEGMENT) for _ in range(template.count("{}"))]
    path = template.format(*(quote(s, safe="") for s in segments))
    resp = app.test_client().open(path, method=method, headers=AUTH)
    assert resp.status_code < 500, (path, resp.status_code, resp.text[:300])
