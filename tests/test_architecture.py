"""docs/architecture.md's dependency order holds in the source: no part imports a part above it
(not even inside a function), except the imports the document names and justifies.

The order and the exceptions are read from the document itself (its ``dependency-order`` block
and its table of exceptions), so the picture and the code cannot drift apart: a new upward
import fails here until it is removed or named in the document, and a named exception that the
code no longer needs fails too.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO / "src" / "statdl"
DOC = REPO / "docs" / "architecture.md"
FACADE = "statdl"  # the package's __init__: `import statdl`, `from statdl import name`


def documented_order() -> dict[str, int]:
    """Part -> rank, from the ``dependency-order`` block (bottom line first in the file: rank 0
    is the top line, so the block reads top to bottom as the layers are drawn)."""
    text = DOC.read_text()
    match = re.search(r"```text dependency-order\n(.*?)```", text, re.S)
    assert match, "docs/architecture.md has no ```text dependency-order block"
    lines = [ln.split("#")[0].split() for ln in match.group(1).splitlines()]
    lines = [ln for ln in lines if ln]
    return {part: len(lines) - i for i, ln in enumerate(lines) for part in ln}


def documented_exceptions() -> set[tuple[str, str]]:
    """(importing part, imported part) pairs from the exceptions table's first two columns."""
    text = DOC.read_text()
    section = text.split("### Upward imports, named", 1)
    assert len(section) == 2, "docs/architecture.md has no '### Upward imports, named' section"
    body = re.split(r"^#{2,3} ", section[1], maxsplit=1, flags=re.M)[0]  # up to the next heading
    pairs = re.findall(r"^\| `([\w.]+)` \| `([\w.]+)` \|", body, re.M)
    return set(pairs)


def part_of(module: str) -> str:
    """``statdl.layers.core`` -> ``layers``; ``statdl.utils`` -> ``utils``; ``statdl`` -> facade."""
    rest = module.split(".")[1:]
    return rest[0] if rest else FACADE


def _is_module(dotted: str) -> bool:
    path = SOURCE.joinpath(*dotted.split(".")[1:])
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def imports_in(source: str, package: list[str]) -> list[tuple[str, int]]:
    """Every statdl module that ``source``, a file of ``package`` (``["statdl", "layers"]``),
    imports (absolute or relative, at any depth), with its line."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(a.name, node.lineno) for a in node.names
                      if a.name.split(".")[0] == "statdl"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if module.split(".")[0] != "statdl":
                continue
            for alias in node.names:  # `from . import threads` imports a module by name
                candidate = f"{module}.{alias.name}"
                found.append((candidate if _is_module(candidate) else module, node.lineno))
    return found


def imports_of(path: Path) -> list[tuple[str, int]]:
    rel = path.relative_to(SOURCE.parent).with_suffix("")
    return imports_in(path.read_text(), list(rel.parts[:-1]))


def import_edges() -> dict[tuple[str, str], list[str]]:
    """(importing part, imported part) -> the places, for imports between different parts."""
    edges: dict[tuple[str, str], list[str]] = {}
    for path in sorted(SOURCE.rglob("*.py")):
        rel = path.relative_to(SOURCE.parent).with_suffix("")
        dotted = ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
        here = part_of(dotted)
        for module, line in imports_of(path):
            there = part_of(module)
            if there != here:
                edges.setdefault((here, there), []).append(
                    f"{path.relative_to(REPO)}:{line} imports {module}")
    return edges


def test_every_part_of_the_package_is_placed_in_the_documented_order():
    order = documented_order()
    parts = {p.stem for p in SOURCE.glob("*.py") if p.stem != "__init__"}
    parts |= {p.parent.name for p in SOURCE.glob("*/__init__.py")}
    missing = sorted(parts - set(order))
    assert not missing, f"parts missing from docs/architecture.md's dependency-order: {missing}"
    assert not sorted(set(order) - parts - {FACADE}), "the order names parts that do not exist"


def test_no_part_imports_a_part_above_it_unless_the_document_names_it():
    order, named = documented_order(), documented_exceptions()
    upward = {edge: places for edge, places in import_edges().items()
              if order.get(edge[1], 10**6) >= order.get(edge[0], -1) and edge not in named}
    assert not upward, "imports against docs/architecture.md's dependency order:\n" + "\n".join(
        f"  {a} -> {b}: {places[0]}" + (f" (+{len(places) - 1} more)" if len(places) > 1 else "")
        for (a, b), places in sorted(upward.items()))


def test_every_named_exception_is_still_needed_and_really_upward():
    order, named, edges = documented_order(), documented_exceptions(), import_edges()
    stale = sorted(edge for edge in named if edge not in edges)
    assert not stale, f"exceptions named in docs/architecture.md that the code no longer has: {stale}"
    downward = sorted(edge for edge in named if order[edge[1]] < order[edge[0]])
    assert not downward, f"named as exceptions but downward (allowed anyway): {downward}"


@pytest.mark.parametrize("source, expected", [
    ("from ..saving import x", "statdl.saving"),
    ("from .. import threads", "statdl.threads"),
    ("from .losses import get_loss", "statdl.training.losses"),
    ("from statdl import layers as L", "statdl.layers"),
    ("import statdl as sd", "statdl"),
    ("from .. import __version__", "statdl"),
    ("import numpy", None),
])
def test_the_import_parser_resolves_relative_and_absolute_forms(source, expected):
    # as if written inside a function of statdl/training/x.py, where `..` is statdl
    found = [m for m, _ in imports_in(f"def f():\n    {source}\n", ["statdl", "training"])]
    assert found == ([expected] if expected else [])
