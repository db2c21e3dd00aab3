"""The package's shape (issue "One house"): imports flow one way, no module takes another's private
names or calls another object's private methods, and every file stays readable in one sitting."""

from __future__ import annotations

import ast
import importlib.util
import pathlib

# found, not imported: a cycle must fail this test, not the collection of it
ROOT = pathlib.Path(importlib.util.find_spec("sensenova_widget").submodule_search_locations[0])
MAX_LINES = 600
MEDIA = "sensenova_widget.media"
ALLOWED_PRIVATE_ATTRIBUTES = {
    "_getframe",
    "_exit",
    "_asdict",
    "_replace",
    "_fields",
    "_make",
}  # stdlib's own API


def module_name(path: pathlib.Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in ROOT.rglob("*.py")}


def imported(path: pathlib.Path, tree: ast.AST) -> list[tuple[str, list[str]]]:
    """(module, names taken) for each import of the package's own modules, at any depth of the file."""
    here = module_name(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            target = ".".join(base + ([node.module] if node.module else []))
            names = [alias.name for alias in node.names]
            submodules = [f"{target}.{n}" for n in names if f"{target}.{n}" in MODULES]
            found += [(s, []) for s in submodules]
            if target in MODULES and target != module_name(path):
                found.append((target, [n for n in names if f"{target}.{n}" not in MODULES]))
        elif isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names if alias.name in MODULES]
    return found


def import_graph() -> dict[str, set[str]]:
    """Each module's imports of the package's own modules (a package re-exporting its submodules
    is not an edge: it is how a package shows its public names)."""
    graph: dict[str, set[str]] = {}
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text())
        graph[name] = set()
        for target, names in imported(path, tree):
            private = [n for n in names if n.startswith("_") and not n.startswith("__")]
            assert not private, f"{name} takes private names {private} from {target}"
            if not (path.name == "__init__.py" and target.startswith(name + ".")):
                graph[name].add(target)
    return graph


def test_no_import_cycle_and_no_private_names_across_modules():
    graph = import_graph()
    done: set[str] = set()

    def visit(module: str, trail: tuple[str, ...]) -> None:
        assert module not in trail, f"import cycle: {' -> '.join(trail + (module,))}"
        if module not in done:
            for target in graph.get(module, ()):
                visit(target, trail + (module,))
            done.add(module)

    for module in graph:
        visit(module, ())


def test_no_call_or_read_of_another_objects_private_names():
    offences = []
    for name, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Attribute)
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
                and node.attr not in ALLOWED_PRIVATE_ATTRIBUTES
                and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
            ):
                offences.append(f"{name}:{node.lineno} .{node.attr}")
    assert not offences, offences


def test_every_file_is_readable_in_one_sitting():
    long = {name: n for name, p in MODULES.items() if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, long


def test_media_knows_nothing_of_the_client_the_widget_or_captions():
    """The media layer sits at the bottom of the flow: it may use errors and protocol only."""
    media = {name: targets for name, targets in import_graph().items() if name.startswith(MEDIA)}
    assert {name.rsplit(".", 1)[-1] for name in media} >= {
        "values",
        "caches",
        "pixels",
        "sources",
        "encode",
        "mp4",
        "parts",
        "strings",
    }
    for name, targets in media.items():
        outside = {t for t in targets if not t.startswith(MEDIA)}
        assert outside <= {"sensenova_widget.errors", "sensenova_widget.protocol"}, (name, outside)
        assert MEDIA not in targets or name == MEDIA, f"{name} climbs back to the package"
        assert len(MODULES[name].read_text().splitlines()) < 400, name


def definitions() -> dict[str, list[str]]:
    """Every name the package defines (module-level or in a class: functions, classes, assigned
    names and `self.x =` attributes), with where: `module:line`."""
    found: dict[str, list[str]] = {}
    for module, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names = [node.name]
            elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    if isinstance(target, ast.Name):
                        names.append(target.id)
                    elif isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name):
                        names.append(target.attr if target.value.id == "self" else "")
            for name in filter(None, names):
                found.setdefault(name, []).append(f"{module}:{node.lineno}")
    return found


# Names that meant two things (issue 21, section 2 point 4): each is defined once now.
ONE_MEANING = (
    "Outcome",
    "Dialect",
    "image_mime",
    "media_kind",
    "markdown_html",
    "user_turn",
    "assistant_turn",
)
# Second ways of doing one thing (issue 21, section 2 point 7), removed: `PreparedRequest`,
# `dialects.Dialect`, `Client.prepare`, `Conversation.turns` (each `Turn`'s answers say how every
# reply ended) and `edit(text, turn=)` (any turn, the last by default) are the one way.
REMOVED = (
    "Prepared",
    "Native",
    "build_body",
    "ending",
    "last_reply",
    "last_error",
    "last_outcome",
    "outcomes",
    "edit_last",
    "StoredTurn",
    "saved_turn",
)


def test_each_name_that_had_two_meanings_is_defined_once():
    found = definitions()
    twice = {name: found.get(name, []) for name in ONE_MEANING if len(found.get(name, [])) > 1}
    assert not twice, twice


def test_the_second_ways_are_gone():
    found = definitions()
    left = {name: found[name] for name in REMOVED if name in found}
    assert not left, left


def test_modules_live_in_the_folder_of_their_concept():
    """The package's top holds only what every folder reads; everything else lives in the folder
    of its concept (client, media, conversation, panel, magic, captions, emulator)."""
    top = sorted(p.stem for p in ROOT.glob("*.py"))
    assert top == ["__init__", "errors", "params", "protocol", "render", "sqlite_files"]
    folders = sorted(p.name for p in ROOT.iterdir() if (p / "__init__.py").exists())
    assert folders == ["captions", "client", "conversation", "emulator", "magic", "media", "panel"]
