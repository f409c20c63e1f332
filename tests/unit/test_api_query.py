"""Query strings of the history routes: any text in any paging or filter parameter is a 200 or a
400 naming the parameter, never a 5xx (``limit=²`` once passed ``str.isdigit()`` and crashed
``int()``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from syncsvc.web.api import service
from tests.service_fixtures import AUTH, make_app, make_settings

PAGING = ("limit", "offset", "page", "pageSize")
ROUTES = {"/api/sync/history": ("type", "status"), "/api/sync/history/run-1/items": ("outcome",)}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlaskClient]:
    # No Redis is needed for the history routes; SQLite lives in a temp dir.
    tmp: Path = tmp_path_factory.mktemp("query")
    app = make_app(make_settings("redis://127.0.0.1:1/0", tmp))
    with app.app_context():
        service().history().start_run("run-1", "PRODUCT", {}, dry_run=False)
    yield app.test_client()


digits = st.text(alphabet="0123456789²³¹١٢٣۴০੧୨௩౪೫൬๗໘༩၁႒០᠑", max_size=12)
values = digits | st.text(max_size=12) | st.integers(-(10**12), 10**12).map(str)


@pytest.mark.parametrize("route", list(ROUTES))
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(params=st.dictionaries(st.sampled_from(PAGING + ("type", "status", "outcome")), values, max_size=4))
@example(params={"limit": "²"})
@example(params={"offset": "²"})
@example(params={"page": "²"})
@example(params={"pageSize": "٣"})
def test_any_query_string_is_200_or_a_400_naming_the_parameter(
    client: FlaskClient, route: str, params: dict[str, str]
) -> None:
    resp = client.get(f"{route}?{urlencode(params)}", headers=AUTH)
    assert resp.status_code in (200, 400), (params, resp.status_code, resp.get_data(as_text=True)[:300])
    assert resp.is_json
    if resp.status_code == 400:
        error = resp.json["error"]
        assert "\n" not in error and any(error.startswith(name) for name in params), (params, error)
    else:
        body = resp.json
        assert isinstance(body["limit"], int) and body["limit"] >= 1
        assert isinstance(body["offset"], int) and body["offset"] >= 0


@pytest.mark.parametrize("route", list(ROUTES))
@pytest.mark.parametrize("name", PAGING)
def test_non_ascii_digits_are_refused_by_name(client: FlaskClient, route: str, name: str) -> None:
    resp = client.get(f"{route}?{name}=²", headers=AUTH)
    assert resp.status_code == 400
    allowed = "an integer >= 0" if name == "offset" else "a positive integer"
    assert resp.json["error"] == f"{name} must be {allowed}, got '²'"
