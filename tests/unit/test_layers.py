"""The package's layers point down: each module imports only from its own layer and the layers below it.

docs/architecture.md draws the layers; this test is what keeps the drawing true. Imports are read from the source
(every `import` and `from … import`, including those inside functions and under TYPE_CHECKING), so a lazy import
that points up fails as surely as a top-level one.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "shared" / "certdeploy"

# What each layer may import besides itself, lowest layer first.
_BELOW: dict[str, frozenset[str]] = {
    "domain": frozenset(),
    "ports": frozenset({"domain"}),
    "app": frozenset({"domain", "ports"}),
    "adapters": frozenset({"domain", "ports"}),
    "api": frozenset({"domain", "ports", "app"}),
    "bootstrap": frozenset({"domain", "ports", "app", "adapters", "api"}),
    "fc": frozenset({"domain", "ports", "app", "api", "bootstrap"}),
    "local": frozenset({"domain", "ports", "app", "adapters", "api", "fc", "bootstrap"}),
    "cli": frozenset({"domain", "ports", "app", "adapters", "api", "fc", "bootstrap", "local"}),
}


def _layer(module: str) -> str | None:
    """`certdeploy.app.jobs` → `app`; None for modules outside the package."""
    parts = module.split(".")
    if parts[0] != "certdeploy" or len(parts) < 2:
        return None
    return parts[1]


def _module_name(path: Path) -> str:
    relative = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = relative.parts[:-1] if relative.name == "__init__" else relative.parts
    return ".".join(parts)


def _imported_modules(source: str, module: str, *, is_package: bool = False) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in `source`, the text of `module`."""
    package = module if is_package else module.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            found.append((node.lineno, target))
    return found


def _sources() -> list[Path]:
    return sorted(path for path in PACKAGE.rglob("*.py") if "migrations" not in path.parts)


def test_every_module_belongs_to_a_known_layer() -> None:
    unknown = {
        _layer(_module_name(path))
        for path in _sources()
        if path.parent != PACKAGE and _layer(_module_name(path)) not in _BELOW
    }
    assert not unknown, f"modules outside the known layers {sorted(_BELOW)}: {sorted(map(str, unknown))}"


@pytest.mark.parametrize("path", _sources(), ids=lambda path: str(path.relative_to(PACKAGE)))
def test_imports_point_down(path: Path) -> None:
    layer = _layer(_module_name(path))
    if layer not in _BELOW:
        return
    allowed = _BELOW[layer] | {layer}
    upward = [
        f"line {line}: {target}"
        for line, target in _imported_modules(
            path.read_text(encoding="utf-8"), _module_name(path), is_package=path.name == "__init__.py"
        )
        if (imported := _layer(target)) is not None and imported not in allowed
    ]
    assert not upward, f"{layer} may import only {sorted(allowed)}; {path.name} imports " + ", ".join(upward)


def test_the_check_sees_upward_imports_in_every_form() -> None:
    """The walker itself: absolute, relative and function-local imports all resolve to the module they name."""
    source = (
        "import certdeploy.adapters.sql\n"
        "from ..bootstrap import container\n"
        "def f():\n"
        "    from certdeploy.local.runner import Runner\n"
    )
    assert [target for _, target in _imported_modules(source, "certdeploy.app.probe")] == [
        "certdeploy.adapters.sql",
        "certdeploy.bootstrap",
        "certdeploy.local.runner",
    ]
