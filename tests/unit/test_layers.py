"""The import rule: domain <- clients, store <- jobs <- web <- ops (docs/architecture.md).

A module may import its own layer and the layers below it, never one above it; clients and store
are peers that do not import each other. Checked on the source (AST), so an import hidden inside
a function counts too.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Rank of each layer; a module may import only ranks <= its own (and not a peer of equal rank
# in another layer, see PEERS).
LAYERS: dict[str, int] = {
    # The top-level modules (settings, defaults, net, logsetup) sit with the domain: settings
    # raise the domain's ConfigError and mapping reads the settings.
    "syncsvc.base": 0,
    "syncsvc.domain": 0,
    "syncsvc.clients": 2,
    "syncsvc.store": 2,
    "jobs": 3,
    "syncsvc.web": 4,
    "syncsvc.ops": 5,
}
PACKAGES = ("syncsvc.domain", "syncsvc.clients", "syncsvc.store", "syncsvc.web", "syncsvc.ops", "jobs")


def layer_of(module: str) -> str | None:
    for pkg in PACKAGES:
        if module == pkg or module.startswith(pkg + "."):
            return pkg
    if module == "syncsvc.__main__":
        return "syncsvc.ops"  # `python -m syncsvc` is the CLI
    if module == "syncsvc" or module.startswith("syncsvc."):
        return "syncsvc.base"
    return None


def modules() -> dict[str, Path]:
    out = {}
    for top in ("syncsvc", "jobs"):
        for path in (ROOT / top).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            out[name.removesuffix(".__init__")] = path
    return out


def imports_of(path: Path, module: str) -> set[str]:
    found = set()
    is_pkg = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base[: len(base) - node.level + (1 if is_pkg else 0)]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            found.add(name)
            found.update(f"{name}.{alias.name}" for alias in node.names)
    return found


def violations() -> list[str]:
    bad = []
    for module, path in sorted(modules().items()):
        own = layer_of(module)
        assert own is not None
        for imported in sorted(imports_of(path, module)):
            other = layer_of(imported)
            if other is None or other == own:
                continue
            if other == "syncsvc.base" and imported.count(".") > 1:
                continue  # `from syncsvc.x import name` names: judged by the module itself
            peers = {own, other} <= {"syncsvc.base", "syncsvc.domain"}
            if LAYERS[other] > LAYERS[own] or (LAYERS[other] == LAYERS[own] and other != own and not peers):
                bad.append(f"{module} ({own}) imports {imported} ({other})")
    return sorted(set(bad))


def test_no_module_imports_a_layer_above_its_own() -> None:
    assert violations() == []


def test_the_rule_catches_an_upward_import(tmp_path: Path) -> None:
    # The checker itself must be able to fail: a domain module importing the web layer.
    probe = tmp_path / "probe.py"
    probe.write_text("from syncsvc.web.app import create_app\nimport jobs.engine\n")
    found = {layer_of(name) for name in imports_of(probe, "syncsvc.domain.probe")}
    assert "syncsvc.web" in found and "jobs" in found
    assert all(LAYERS[x] > LAYERS["syncsvc.domain"] for x in found if x and x != "syncsvc.base")
    # ... and a peer import between clients and store is refused as well
    assert LAYERS["syncsvc.clients"] == LAYERS["syncsvc.store"]
