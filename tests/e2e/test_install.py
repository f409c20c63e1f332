"""`pip install .` works from a clean copy: the wheel holds syncsvc and jobs, declares the pins of
requirements.txt, and its `syncsvc` command and the worker's job module run outside the source tree.

The fresh venv gets the dependencies by a .pth line pointing at this interpreter's site-packages
(so the test installs nothing from the network), and the wheel itself with --no-deps.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("pyproject.toml", "requirements.txt", "README.md", "syncsvc", "jobs")


def _pins() -> set[str]:
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    return {line.split("#")[0].strip() for line in lines if line.split("#")[0].strip()}


def _clean_copy(dest: Path) -> Path:
    """The files a clone has (no caches, no build/ or egg-info left by an earlier build)."""
    dest.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build")
    for name in SOURCES:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=ignore)
        else:
            shutil.copy2(src, dest / name)
    (dest / "sandbox").mkdir()  # a clone has it; the wheel must still leave it out
    (dest / "sandbox" / "__init__.py").write_text("")
    return dest


def _run(argv: list[str], cwd: Path, **kw: object) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    out = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, env=env, timeout=240, **kw)  # type: ignore[call-overload]
    assert out.returncode == 0, f"{argv}\n{out.stdout}\n{out.stderr}"
    return out  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("wheel")
    src = _clean_copy(base / "src")
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(base / "dist"), str(src)], cwd=base)
    (built,) = (base / "dist").glob("syncsvc-*.whl")
    return built


def _venv(where: Path) -> Path:
    _run([sys.executable, "-m", "venv", "--without-pip", str(where)], cwd=where.parent)
    python = where / "bin" / "python"
    purelib = _run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=where)
    # Dependencies come from the tested environment, after the venv's own site-packages.
    Path(purelib.stdout.strip(), "tested-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python


def test_wheel_holds_the_service_and_the_job_modules_only(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == {"syncsvc", "jobs"}
    for module in ("syncsvc/web/app.py", "syncsvc/ops/cli.py", "syncsvc/store/history/postgres.py", "jobs/tasks.py"):
        assert module in names
    metadata = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    declared = {line.split(":", 1)[1].strip() for line in metadata.splitlines() if line.startswith("Requires-Dist:")}
    assert declared == _pins()
    entry_points = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "syncsvc = syncsvc.ops.cli:main" in entry_points


def test_installed_wheel_runs_outside_the_source_tree(wheel: Path, tmp_path: Path) -> None:
    python = _venv(tmp_path / "venv")
    _run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps", str(wheel)],
        cwd=tmp_path,
    )
    work = tmp_path / "elsewhere"
    work.mkdir()
    # Every pinned requirement is satisfied by what the installed package sees.
    _run([sys.executable, "-m", "pip", "--python", str(python), "check"], cwd=work)
    helped = _run([str(tmp_path / "venv" / "bin" / "syncsvc"), "--help"], cwd=work)
    assert "Katana MRP -> Luca Koza" in helped.stdout and "serve" in helped.stdout
    probe = (
        "import jobs.tasks, syncsvc, syncsvc.ops.rq_settings as r; "
        "print(jobs.tasks.__file__); print(syncsvc.__file__); print(r.QUEUES)"
    )
    out = _run([str(python), "-c", probe], cwd=work, input="")
    venv = str((tmp_path / "venv").resolve())
    files = out.stdout.splitlines()
    assert files[0].startswith(venv) and files[1].startswith(venv), out.stdout
    assert "sync" in files[2]
    missing = subprocess.run([str(python), "-c", "import sandbox"], cwd=work, capture_output=True, text=True)
    assert missing.returncode != 0
    # The console's templates and static files travel with the package.
    console = _run([str(python), "-c", "import syncsvc.web.console as c, os; print(os.path.dirname(c.__file__))"],
                   cwd=work, input="").stdout.strip()  # fmt: skip
    for name in ("templates/console/runs.html", "static/live.js", "static/console.css"):
        assert os.path.isfile(os.path.join(console, name)), name


def test_editable_install_from_a_clean_copy(tmp_path: Path) -> None:
    src = _clean_copy(tmp_path / "src")
    python = _venv(tmp_path / "venv")
    _run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps", "-e", str(src)],
        cwd=tmp_path,
    )
    out = _run([str(python), "-c", "import syncsvc.ops.cli as c; print(c.__file__)"], cwd=tmp_path)
    assert out.stdout.strip().startswith(str(src.resolve()))
    helped = _run([str(tmp_path / "venv" / "bin" / "syncsvc"), "--help"], cwd=tmp_path)
    assert "demo" in helped.stdout
