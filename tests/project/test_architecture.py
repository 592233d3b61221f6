"""The import graph of the library: layers that only import downward, and no circle.

docs/architecture.md draws the layers; this test is the same picture as data. Every import counts:
module level, inside functions (lazy imports) and under ``TYPE_CHECKING``.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, Iterator, Set, Tuple


ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "eventwriter"

# Lower numbers are lower layers. A module may import its own layer or a lower one, never a higher.
LAYERS = {
    "eventwriter._proto": 0,
    "eventwriter.crc": 1,
    "eventwriter.record": 1,
    "eventwriter.wire": 1,
    "eventwriter.protos": 1,
    "eventwriter.metadata": 1,
    "eventwriter.tensor_codec": 1,
    "eventwriter.stamps": 2,
    "eventwriter.arrays": 2,
    "eventwriter.storage": 3,
    "eventwriter.summaries": 4,
    "eventwriter.logdir": 4,
    "eventwriter.event_file": 5,
    "eventwriter.projector": 5,
    "eventwriter.reader": 5,
    "eventwriter.frames": 6,
    "eventwriter.interface": 6,
    "eventwriter.run_files": 6,
    "eventwriter.null_writer": 6,
    "eventwriter.writer": 7,
    "eventwriter.distributed": 8,
    "eventwriter.maintenance": 8,
    "eventwriter": 9,  # the package's __init__: the public face
    "eventwriter.__main__": 10,
    "eventwriter.cli": 10,
    "eventwriter.integrations": 10,
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def library_modules() -> Dict[str, Path]:
    return {module_name(p): p for p in PACKAGE.rglob("*.py") if "_proto" not in p.parts}


def layer_of(module: str) -> Tuple[str, int]:
    best = ""
    for prefix in LAYERS:
        if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > len(best):
            best = prefix
    if not best:
        raise AssertionError(f"{module} is in no layer of tests/project/test_architecture.py: add it (and to docs/architecture.md)")
    return best, LAYERS[best]


def imports_of(module: str, path: Path, known: Set[str]) -> Iterator[Tuple[str, int]]:
    """``(imported eventwriter module, line)`` for every import in the file, wherever it stands."""
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "eventwriter":
                    yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "eventwriter":
                continue
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                yield (sub if sub in known or sub == "eventwriter._proto" else target), node.lineno


def graph() -> Dict[str, Set[Tuple[str, int]]]:
    modules = library_modules()
    known = set(modules)
    return {name: set(imports_of(name, path, known)) for name, path in modules.items()}


def test_every_module_imports_only_its_own_layer_or_lower():
    upward = []
    for module, targets in graph().items():
        _, mine = layer_of(module)
        for target, line in targets:
            if target.startswith("eventwriter._proto"):
                continue
            owner, theirs = layer_of(target)
            if theirs > mine:
                upward.append(f"{module}:{line} imports {target} (layer {theirs} > {mine})")
    assert not upward, "imports pointing up a layer:\n" + "\n".join(sorted(upward))


def test_the_import_graph_has_no_circle():
    edges = {m: {t for t, _ in ts if t != m} for m, ts in graph().items()}
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: list = []
    circles = []

    def strongconnect(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in edges.get(node, ()):
            if nxt not in edges:
                continue
            if nxt not in index:
                strongconnect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            strongconnect(node)
    assert not circles, "modules that import each other (directly or through others): " + "; ".join(" <-> ".join(c) for c in circles)


def test_about_twenty_top_level_modules():
    top = sorted(p.stem for p in PACKAGE.glob("*.py"))
    assert len(top) <= 21, f"{len(top)} top-level modules: {top}"
