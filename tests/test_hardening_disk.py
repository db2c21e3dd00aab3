"""Hardening II, class 10: the conversation store and the caption cache never follow a symbolic
link (SQLite would write through it, a chmod would change what it points at) and never change
the mode of a file they did not create."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

import sensenova_widget as snw
from sensenova_widget.captions.cache import ResultCache, make_private, open_cache
from sensenova_widget.conversation.store import ConversationStore, StoreError
from sensenova_widget.sqlite_files import SIDE_SUFFIXES


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def victim(tmp_path: Path, name: str = "victim.txt") -> Path:
    """A file the user cares about, readable by others on purpose."""
    path = tmp_path / "elsewhere" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text("precious\n")
    path.chmod(0o644)
    return path


def link_layouts(tmp_path: Path, db_name: str):
    """(folder, what to link, its target) for each way a link can stand in for the database."""
    target = victim(tmp_path)
    yield "the database", db_name, target
    yield "a dangling link", db_name, tmp_path / "elsewhere" / "not-yet.sqlite"
    for suffix in SIDE_SUFFIXES:
        yield f"its {suffix} file", db_name + suffix, target


def plant(folder: Path, name: str, target: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    link = folder / name
    if link.is_symlink():
        link.unlink()
    link.symlink_to(target)
    return link


def assert_links_refused(tmp_path: Path, db_name: str, openers, error: type[Exception]) -> None:
    """Each layout of `link_layouts` planted in a fresh folder; every opener refuses it, and what
    the link points at is neither created, written nor chmodded."""
    for number, (what, name, target) in enumerate(link_layouts(tmp_path, db_name)):
        folder = tmp_path / f"place{number}"
        plant(folder, name, target)
        for opening in openers:
            with pytest.raises(error, match="symbolic link"):
                opening(folder)
        assert not (tmp_path / "elsewhere" / "not-yet.sqlite").exists(), what
        untouched = target.name == "not-yet.sqlite" or (
            target.read_text() == "precious\n" and mode(target) == 0o644
        )
        assert untouched, what


def test_the_store_refuses_a_symbolic_link_for_its_database_or_side_files(tmp_path):
    client = snw.Client(api_key="k" * 16, base_url="http://127.0.0.1:9")
    openers = (ConversationStore, lambda folder: snw.Conversation(client, name="x", store=folder))
    assert_links_refused(tmp_path, "conversations.sqlite", openers, StoreError)


def test_the_cache_refuses_a_symbolic_link_for_its_database_or_side_files(tmp_path):
    openers = (
        lambda folder: ResultCache(folder / "captions.sqlite"),
        lambda folder: make_private(folder / "captions.sqlite"),
    )
    assert_links_refused(tmp_path, "captions.sqlite", openers, OSError)


def test_the_default_cache_refuses_a_link_planted_at_its_place(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    from sensenova_widget.captions.cache import default_cache_path

    target = victim(tmp_path)
    plant(default_cache_path().parent, default_cache_path().name, target)
    with pytest.raises(OSError, match="symbolic link"):
        open_cache(True)
    assert mode(target) == 0o644 and target.read_text() == "precious\n"


def test_files_and_folders_made_by_someone_else_keep_their_modes(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    shared.chmod(0o755)
    store = ConversationStore(shared)  # an existing folder: not ours to tighten
    store.close()
    assert mode(shared) == 0o755 and mode(shared / "conversations.sqlite") == 0o600  # the file we made
    team = tmp_path / "team.sqlite"
    ConversationStore(team).close()
    team.chmod(0o640)  # the owner shares it with a group on purpose
    reopened = ConversationStore(team)
    reopened.close()
    assert mode(team) == 0o640
    cache = tmp_path / "team-cache" / "captions.sqlite"
    ResultCache(cache).close()
    cache.chmod(0o640)
    ResultCache(cache).close()
    assert mode(cache) == 0o640


@pytest.mark.skipif(os.geteuid() != 0, reason="making a file owned by another user needs root")
def test_the_default_cache_does_not_tighten_a_file_another_user_owns(tmp_path):
    path = tmp_path / "cache" / "captions.sqlite"
    ResultCache(path).close()
    path.chmod(0o644)
    os.chown(path, 65534, 65534)
    make_private(path)
    assert mode(path) == 0o644
    os.chown(path, os.getuid(), os.getgid())
    make_private(path)  # the user's own file, left readable by an older version: tightened
    assert mode(path) == 0o600
