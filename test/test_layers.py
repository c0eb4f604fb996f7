"""The import arrows between components are the ones ``docs/contracts.md`` allows, and no module
imports another module's private names."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {
    "servers": "zeroserve.servers",
    "controller": "zeroserve.controller",
    "router": "zeroserve.router",
    "logger": "zeroserve.logger",
    "monitoring": "zeroserve.monitoring",
    "zeroserve": "zeroserve",
}


def _allowed_arrows() -> dict[str, set[str]]:
    """The table under 'Layers' in docs/contracts.md: component -> components it may import."""
    text = (ROOT / "docs" / "contracts.md").read_text()
    section = text.split("## Layers", 1)[1].split("\n## ", 1)[0]
    arrows: dict[str, set[str]] = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 2 or not cells[0].startswith("`zeroserve."):
            continue
        name = cells[0].split("`")[1].removeprefix("zeroserve.")
        if cells[1] == "every component":
            arrows[name] = {"*"}
        else:
            arrows[name] = set(re.findall(r"`([a-z]+)`", cells[1]))
    return arrows


def _component(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "zeroserve" or len(parts) == 1:
        return None
    return parts[1]


def _modules() -> Iterator[tuple[Path, str]]:
    for folder, package in FOLDERS.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            if "generated" in path.parts:
                continue
            rel = path.relative_to(ROOT / folder).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            yield path, ".".join([package, *parts])


def _imports(path: Path) -> Iterator[tuple[int, str, list[str]]]:
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module, [alias.name for alias in node.names]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, []


def test_the_table_names_every_component() -> None:
    arrows = _allowed_arrows()
    found = {_component(module) for _, module in _modules()} - {None}
    assert found <= set(arrows) | {"__main__"}, found - set(arrows)


def test_imports_follow_the_allowed_arrows() -> None:
    arrows = _allowed_arrows()
    wrong = []
    for path, module in _modules():
        source = _component(module)
        if source is None or source == "__main__":
            continue
        for line, target_module, _ in _imports(path):
            target = _component(target_module)
            if target is None or target == source:
                continue
            allowed = arrows[source]
            if "*" not in allowed and target not in allowed:
                wrong.append(f"{path.relative_to(ROOT)}:{line}: {source} -> {target} ({target_module})")
    assert not wrong, "imports against docs/contracts.md's layers:\n" + "\n".join(wrong)


def test_no_module_imports_another_modules_private_names() -> None:
    wrong = []
    for path, _ in _modules():
        for line, target_module, names in _imports(path):
            if not target_module.startswith("zeroserve"):
                continue
            private = [name for name in names if name.startswith("_") and not name.startswith("__")]
            if private:
                wrong.append(f"{path.relative_to(ROOT)}:{line}: {target_module} {private}")
    assert not wrong, "private names imported across modules:\n" + "\n".join(wrong)


@pytest.mark.parametrize(
    ("module", "component"),
    [("zeroserve.servers.rest.app", "servers"), ("zeroserve.local.engine", "local"), ("zeroserve", None)],
)
def test_component_of_a_module(module: str, component: str | None) -> None:
    assert _component(module) == component
