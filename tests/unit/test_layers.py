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


def refused(own: str, imported: str) -> bool:
    """Whether a module of layer ``own`` may not import ``imported`` (the rule, in one place)."""
    other = layer_of(imported)
    if other is None or other == own:
        return False
    if other == "syncsvc.base" and imported.count(".") > 1:
        return False  # `from syncsvc.x import name` names: judged by the module itself
    peers = {own, other} <= {"syncsvc.base", "syncsvc.domain"}
    return LAYERS[other] > LAYERS[own] or (LAYERS[other] == LAYERS[own] and not peers)


def violations() -> list[str]:
    bad = []
    for module, path in sorted(modules().items()):
        own = layer_of(module)
        assert own is not None
        for imported in sorted(imports_of(path, module)):
            if refused(own, imported):
                bad.append(f"{module} ({own}) imports {imported} ({layer_of(imported)})")
    return sorted(set(bad))


def test_no_module_imports_a_layer_above_its_own() -> None:
    assert violations() == []


def test_the_rule_catches_an_upward_import(tmp_path: Path) -> None:
    # The checker itself must be able to fail: a domain module importing the web layer and jobs,
    # and a client importing the store (peers that must not import each other).
    probe = tmp_path / "probe.py"
    probe.write_text("from syncsvc.web.app import create_app\nimport jobs.engine\n")
    assert {"syncsvc.web.app", "jobs.engine"} <= imports_of(probe, "syncsvc.domain.probe")
    assert refused("syncsvc.domain", "syncsvc.web.app") and refused("syncsvc.domain", "jobs.engine")
    assert refused("syncsvc.clients", "syncsvc.store.cache")
    assert not refused("jobs", "syncsvc.store.cache") and not refused("syncsvc.base", "syncsvc.domain.errors")


# -- public surfaces ---------------------------------------------------------------------------

SURFACED = ("syncsvc.domain", "syncsvc.clients", "syncsvc.store", "syncsvc.web", "syncsvc.ops", "jobs")


def public_surface() -> dict[str, set[str]]:
    """module -> public names, from each package's PUBLIC (read from the source, not imported)."""
    out: dict[str, set[str]] = {}
    for pkg in SURFACED:
        init = ROOT / Path(*pkg.split(".")) / "__init__.py"
        for node in ast.walk(ast.parse(init.read_text())):
            if isinstance(node, ast.AnnAssign | ast.Assign) and "PUBLIC" in ast.unparse(node)[:20]:
                value = ast.literal_eval(node.value)  # type: ignore[arg-type]
                out.update({module: set(names) for module, names in value.items()})
    return out


def surface_violations(checked: dict[str, Path] | None = None) -> list[str]:
    public = public_surface()
    bad = []
    for module, path in sorted((checked or modules()).items()):
        own = layer_of(module)
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and not node.level:
                target = layer_of(node.module)
                if target is None or target == own or target not in SURFACED:
                    continue
                for alias in node.names:
                    as_module = f"{node.module}.{alias.name}"
                    if node.module in SURFACED and as_module in public:  # `from jobs import guard`
                        continue
                    if alias.name not in public.get(node.module, set()):
                        bad.append(f"{module} imports {as_module}, not in {target}.PUBLIC")
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    target = layer_of(alias.name)
                    if target and target != own and target in SURFACED and alias.name not in public:
                        bad.append(f"{module} imports {alias.name}, not in {target}.PUBLIC")
    return bad


def test_packages_import_each_other_only_through_the_public_surface() -> None:
    # A new cross-package import of a name meant to be public: add it to that package's PUBLIC.
    assert surface_violations() == []


def test_every_public_name_exists() -> None:
    import importlib

    for module, names in public_surface().items():
        loaded = importlib.import_module(module)
        missing = [name for name in names if not hasattr(loaded, name)]
        assert missing == [], f"{module} does not define {missing}"


def test_the_surface_rule_catches_a_private_import(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text("from syncsvc.store.cache import CreateClaim\nfrom jobs import guard\nimport jobs.engine\n")
    assert surface_violations({"syncsvc.web.probe": probe}) == [
        "syncsvc.web.probe imports syncsvc.store.cache.CreateClaim, not in syncsvc.store.PUBLIC",
        "syncsvc.web.probe imports jobs.engine, not in jobs.PUBLIC",
    ]
