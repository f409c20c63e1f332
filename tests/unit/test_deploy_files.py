"""Deploy files as an ops user would run them (issue #11, items 3 and 4): docker-compose.yml checked
against the Compose Specification schema (no Docker engine here) and for what makes it work; the
systemd units checked by systemd-analyze where it exists and structurally everywhere."""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from sandbox import __main__ as sandbox_cli
from syncsvc.store.locks import LOCK_TTL_S

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
WORKER_UNIT = ROOT / "deploy" / "syncsvc-worker@.service"
WEB_UNIT = ROOT / "deploy" / "syncsvc-web.service"


def compose() -> dict[str, Any]:
    data: dict[str, Any] = YAML(typ="safe").load(COMPOSE.read_text())
    return data


def interpolate(value: str, env: dict[str, str] | None = None) -> str:
    """Compose's ${VAR:-default} / ${VAR:?message} with an empty environment (or ``env``)."""
    env = env or {}

    def one(m: re.Match[str]) -> str:
        name, op, arg = m.group(1), m.group(2) or "", m.group(3) or ""
        if env.get(name):
            return env[name]
        if op == ":?":
            raise KeyError(f"{name}: {arg}")
        return arg if op == ":-" else ""

    return re.sub(r"\$\{(\w+)(:-|:\?)?([^}]*)\}", one, value)


def seconds(duration: str) -> float:
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}
    return sum(float(n) * units[u] for n, u in re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", duration))


def test_compose_file_matches_the_compose_specification_schema() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_schema_check_catches_a_broken_compose_file(tmp_path: Path) -> None:
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(COMPOSE.read_text().replace("condition: service_healthy", "condition: when_ready", 1))
    out = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec", str(broken)],
        capture_output=True,
        text=True,
    )
    assert out.returncode != 0


def test_compose_healthchecks_and_start_order() -> None:
    services = compose()["services"]
    assert services["redis"]["healthcheck"]["test"][-1] == "ping"
    assert "/healthz" in " ".join(services["web"]["healthcheck"]["test"])
    for name in ("web", "worker"):
        assert services[name]["depends_on"]["redis"] == {"condition": "service_healthy"}


def test_compose_redis_requires_a_password_that_web_and_workers_use() -> None:
    services = compose()["services"]
    command = [interpolate(str(word), {"REDIS_PASSWORD": "pw1"}) for word in services["redis"]["command"]]
    assert command[command.index("--requirepass") + 1] == "pw1"
    for name in ("web", "worker"):
        url = services[name]["environment"]["REDIS_URL"]
        assert interpolate(url, {"REDIS_PASSWORD": "pw1"}) == "redis://:pw1@redis:6379/0"
        with pytest.raises(KeyError, match="REDIS_PASSWORD"):
            interpolate(url)


def test_compose_web_has_a_public_url_and_requires_a_token() -> None:
    env = compose()["services"]["web"]["environment"]
    assert interpolate(env["SYNC_PUBLIC_URL"]).startswith("http://localhost:8000")
    assert interpolate(env["SYNC_PUBLIC_URL"], {"SYNC_PUBLIC_URL": "https://sync.example"}) == "https://sync.example"
    with pytest.raises(KeyError, match="SYNC_API_TOKEN"):
        interpolate(env["SYNC_API_TOKEN"])


def test_compose_demo_profile_reaches_the_simulators_with_their_credentials() -> None:
    services = compose()["services"]
    assert services["sandbox"]["profiles"] == ["demo"]
    defaults = sandbox_cli.build_parser().parse_args([])
    for name in ("web", "worker"):
        raw = services[name]["environment"]
        env = {k: interpolate(str(v), {"SYNC_API_TOKEN": "t", "REDIS_PASSWORD": "p"}) for k, v in raw.items()}
        assert env["KATANA_BASE_URL"] == "http://sandbox:5101/v1"
        assert env["LUCA_BASE_URL"] == "http://sandbox:5102/Yetki"
        assert env["KATANA_API_KEY"] in defaults.katana_api_keys.split(",")
        assert (env["LUCA_ORG_CODE"], env["LUCA_USERNAME"], env["LUCA_PASSWORD"]) == (
            defaults.luca_org_code,
            defaults.luca_username,
            defaults.luca_password,
        )
    assert "--host" in services["sandbox"]["command"] and "0.0.0.0" in services["sandbox"]["command"]


def test_compose_postgres_profile_holds_the_history_when_asked() -> None:
    services = compose()["services"]
    pg = services["postgres"]
    assert pg["profiles"] == ["postgres"] and "pg_isready" in pg["healthcheck"]["test"]
    user, database = pg["environment"]["POSTGRES_USER"], pg["environment"]["POSTGRES_DB"]
    documented = re.search(r"SYNC_HISTORY_URL=(postgresql://\S+)", COMPOSE.read_text())
    assert documented and documented.group(1).endswith(f"@postgres:5432/{database}")
    assert documented.group(1).startswith(f"postgresql://{user}:")
    for name in ("web", "worker"):
        # Without the profile the app must still start: the dependency is optional, the URL empty.
        assert services[name]["depends_on"]["postgres"] == {"condition": "service_healthy", "required": False}
        env = {
            k: interpolate(str(v), {"SYNC_API_TOKEN": "t", "REDIS_PASSWORD": "p"})
            for k, v in services[name]["environment"].items()
        }
        assert env["SYNC_HISTORY_URL"] == ""
        url = "postgresql://syncsvc:pw@postgres:5432/syncsvc"
        env = {
            k: interpolate(str(v), {"SYNC_API_TOKEN": "t", "REDIS_PASSWORD": "p", "SYNC_HISTORY_URL": url})
            for k, v in services[name]["environment"].items()
        }
        assert env["SYNC_HISTORY_URL"] == url
    assert "pg-data" in compose()["volumes"]


def test_env_example_does_not_override_the_demo_credentials() -> None:
    # A .env copied from the example must leave the demo profile working: credentials stay commented.
    active = [line for line in (ROOT / ".env.example").read_text().splitlines() if line and not line.startswith("#")]
    names = {line.split("=", 1)[0] for line in active}
    assert not names & {"KATANA_API_KEY", "KATANA_BASE_URL", "LUCA_BASE_URL", "LUCA_PASSWORD", "LUCA_USERNAME"}


def test_worker_grace_covers_the_in_flight_work_and_matches_systemd() -> None:
    worker = compose()["services"]["worker"]
    grace = seconds(worker["stop_grace_period"])
    # Longer than a run lock lives without heartbeat, so a stop never looks like a crash while
    # items are finishing; the systemd unit gives the same time.
    assert grace > 2 * LOCK_TTL_S
    unit = configparser.ConfigParser(interpolation=None, strict=False)
    unit.read_string(WORKER_UNIT.read_text())
    assert float(unit["Service"]["TimeoutStopSec"]) == grace
    # The queue comes from SYNC_INSTANCE through the settings module, never a fixed name.
    assert worker["command"][:4] == ["rq", "worker", "-c", "syncsvc.ops.rq_settings"]


def test_systemd_worker_unit_runs_rq_with_an_environment_file() -> None:
    unit = configparser.ConfigParser(interpolation=None, strict=False)
    unit.read_string(WORKER_UNIT.read_text())
    service = unit["Service"]
    assert service["EnvironmentFile"].startswith("/etc/syncsvc/")
    argv = service["ExecStart"].split()
    assert argv[0].endswith("/rq") and argv[1:4] == ["worker", "-c", "syncsvc.ops.rq_settings"]
    assert service["KillSignal"] == "SIGTERM"
    assert unit["Install"]["WantedBy"] == "multi-user.target"


@pytest.mark.parametrize("unit_path", [WORKER_UNIT, WEB_UNIT], ids=lambda p: p.name)
def test_systemd_units_verify(unit_path: Path, tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    text = unit_path.read_text().replace("/opt/syncsvc/venv/bin", str(Path(sys.executable).parent))
    copy = tmp_path / unit_path.name
    copy.write_text(text)
    argv = [line for line in text.splitlines() if line.startswith("ExecStart=")][0].split("=", 1)[1].split()
    assert Path(argv[0]).exists(), f"{argv[0]} is not installed by requirements.txt"
    if analyze is None:  # not every machine has systemd; the structural checks above still ran
        return
    out = subprocess.run([analyze, "verify", "--man=no", str(copy)], capture_output=True, text=True)
    assert out.returncode == 0 and not out.stderr.strip(), out.stderr
