"""The media package's shape: one-way imports, no private names across modules, small files."""

from __future__ import annotations

import ast
import importlib.util
import pathlib

# found, not imported: a cycle must fail this test, not the collection of it
PACKAGE = pathlib.Path(importlib.util.find_spec("sensenova_widget.media").submodule_search_locations[0])
ALLOWED_OUTSIDE = {"errors", "protocol"}  # media knows nothing of the client, the widget or captions


def imports_of(path: pathlib.Path) -> list[tuple[str, list[str]]]:
    """(module imported, names taken from it) for every relative import of the file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = "." * node.level + (node.module or "")
            found.append((base, [alias.name for alias in node.names]))
    return found


def test_media_modules_import_one_way_and_no_private_names():
    files = sorted(PACKAGE.glob("*.py"))
    assert {f.stem for f in files} >= {"values", "caches", "pixels", "sources", "encode", "mp4", "parts"}
    graph: dict[str, set[str]] = {}
    for path in files:
        graph[path.stem] = set()
        for base, names in imports_of(path):
            if base.startswith(".."):
                assert base[2:] in ALLOWED_OUTSIDE, f"{path.name} imports {base}"
            elif base == ".":
                graph[path.stem] |= set(names)
            else:
                graph[path.stem].add(base[1:])
            private = [n for n in names if n.startswith("_")]
            assert not private, f"{path.name} takes private names {private} from {base}"
        assert len(path.read_text().splitlines()) < 400, path.name
    done: set[str] = set()

    def visit(module: str, trail: tuple[str, ...]) -> None:
        assert module not in trail, f"import cycle: {' -> '.join(trail + (module,))}"
        if module not in done:
            for imported in graph.get(module, ()):
                visit(imported, trail + (module,))
            done.add(module)

    for module in graph:
        visit(module, ())
    assert "__init__" not in set().union(*graph.values())  # no submodule climbs back to the package
