"""The caption cache: durable at once, shared across threads and processes, keyed by what matters."""

import os
import sqlite3
import stat
import threading

import pytest
from process_helpers import run_in_processes

from sensenova_widget.captions.cache import (
    CachedReply,
    ResultCache,
    cache_key,
    default_cache_path,
    open_cache,
)
from sensenova_widget.captions.pacing import AIMDLimit, RateLimiter


def test_key_changes_with_each_ingredient_and_ignores_unset_params():
    where = {"endpoint": "https://api.example/v1", "encoding": {"max_side": 2048, "jpeg_quality": 85}}

    def key(hashes, prompt, model, params, **changed):
        return cache_key(hashes, prompt, model, params, **{**where, **changed})

    base = key(["h1"], "Describe.", "m", {"temperature": 0.5})
    assert base == key(["h1"], "Describe.", "m", {"temperature": 0.5, "top_p": None})
    assert (
        len(
            {
                base,
                key(["h2"], "Describe.", "m", {"temperature": 0.5}),
                key(["h1", "h1"], "Describe.", "m", {"temperature": 0.5}),
                key(["h1"], "Describe!", "m", {"temperature": 0.5}),
                key(["h1"], "Describe.", "m2", {"temperature": 0.5}),
                key(["h1"], "Describe.", "m", {"temperature": 0.6}),
                key(["h1"], "Describe.", "m", {"temperature": 0.5}, endpoint="http://127.0.0.1:8000/v1"),
                key(
                    ["h1"],
                    "Describe.",
                    "m",
                    {"temperature": 0.5},
                    encoding={"max_side": 1024, "jpeg_quality": 85},
                ),
                key(
                    ["h1"],
                    "Describe.",
                    "m",
                    {"temperature": 0.5},
                    encoding={"max_side": 2048, "jpeg_quality": 70},
                ),
            }
        )
        == 9
    )


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def lax_umask():
    """The common umask 022, under which a plainly created file is world-readable (0644)."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_the_cache_its_side_files_and_the_folder_made_for_it_are_private(tmp_path, lax_umask):
    path = tmp_path / "made" / "for" / "captions.sqlite"
    with ResultCache(path) as cache:
        cache.put("k", CachedReply("a private picture"))
        files = [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]
        assert all(f.exists() for f in files)
        assert [oct(_mode(f)) for f in files] == [oct(0o600)] * 3
    assert _mode(path.parent) == 0o700
    assert _mode(tmp_path) == stat.S_IMODE(
        tmp_path.stat().st_mode
    )  # a folder that was there is left as it is


def test_the_default_cache_is_private_even_when_an_older_version_made_it_readable(
    tmp_path, monkeypatch, lax_umask
):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    path = default_cache_path()
    path.parent.mkdir(parents=True)
    path.parent.chmod(0o755)
    ResultCache(path).close()
    path.chmod(0o644)
    with open_cache(True) as cache:
        cache.put("k", CachedReply("a private picture"))
        assert _mode(path) == 0o600 and _mode(path.parent) == 0o700
        assert _mode(path.with_name(path.name + "-wal")) == 0o600


def test_put_is_visible_to_another_connection_at_once(tmp_path):
    path = tmp_path / "c.sqlite"
    with ResultCache(path) as cache:
        cache.put("k", CachedReply("a red square", "stop", 5, 3, 8), model="m")
        # A second, independent connection (as after a crash and restart) sees the row already.
        row = sqlite3.connect(path).execute("SELECT text, total_tokens, model FROM captions").fetchone()
        assert row == ("a red square", 8, "m")
        assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with ResultCache(path) as again:
        assert again.get("k") == CachedReply("a red square", "stop", 5, 3, 8)
        assert again.get("other") is None
        assert len(again) == 1
        again.clear()
        assert len(again) == 0


def test_threads_share_one_cache(tmp_path):
    with ResultCache(tmp_path / "c.sqlite") as cache:

        def write(t):
            for i in range(50):
                cache.put(f"{t}-{i}", CachedReply(f"text {t} {i}"))

        threads = [threading.Thread(target=write, args=(t,)) for t in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(cache) == 400
        assert cache.get("7-49").text == "text 7 49"


def test_lookups_from_many_threads_while_they_write(tmp_path):
    """Each lookup runs on a read connection of its own (kept for the next): none sees a half-made
    row, each sees every row committed before it, and `close` closes them all."""
    path = tmp_path / "c.sqlite"
    with ResultCache(path) as cache:
        found = []

        def look(t):
            for i in range(100):
                cache.put(f"{t}-{i}", CachedReply(f"text {t} {i}"))
                assert cache.get(f"{t}-{i}") == CachedReply(f"text {t} {i}")
                hit = cache.get(f"{t}-{i - 20}") if i >= 20 else None
                found.append(hit is None or hit.text == f"text {t} {i - 20}")

        threads = [threading.Thread(target=look, args=(t,)) for t in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert all(found) and len(cache) == 800
        assert cache.get("7-99") == CachedReply("text 7 99")
    assert not path.with_name(path.name + "-wal").exists()  # every connection closed: the log folded in


def _write_many(path, prefix):
    with ResultCache(path) as cache:
        for i in range(100):
            cache.put(f"{prefix}-{i}", CachedReply(prefix))


def test_processes_share_one_cache_file(tmp_path):
    path = tmp_path / "shared.sqlite"
    ResultCache(path).close()
    run_in_processes(_write_many, [(path, p) for p in ("a", "b")], timeout=60)
    with ResultCache(path) as cache:
        assert len(cache) == 200


def test_open_cache_choices(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_path() == tmp_path / "xdg" / "sensenova-widget" / "captions.sqlite"
    assert open_cache(False) is None and open_cache(None) is None
    with open_cache(True) as cache:
        assert cache.path == default_cache_path() and cache.path.exists()
    with open_cache(str(tmp_path / "x.sqlite")) as cache:
        assert open_cache(cache) is cache
    with pytest.raises(TypeError, match="expected True .* False .* a file path"):
        open_cache(3)


def test_aimd_halves_once_per_window_and_grows_back_by_one():
    limit = AIMDLimit(16)
    started = limit.epoch
    limit.on_rate_limited(started)
    assert limit.limit == 8
    limit.on_rate_limited(started)  # a second 429 from the same window is the same signal
    assert limit.limit == 8
    limit.on_rate_limited(limit.epoch)
    assert limit.limit == 4 and limit.decreases == 2 and limit.lowest == 4
    for _ in range(4):
        limit.on_success()
    assert limit.limit == 5
    for _ in range(200):
        limit.on_success()
    assert limit.limit == 16
    for _ in range(10):
        limit.on_rate_limited()
    assert limit.limit == 1
    with pytest.raises(ValueError, match="maximum=0"):
        AIMDLimit(0)


def test_rate_limiter_spaces_starts_evenly():
    limiter = RateLimiter(600)  # one start per 0.1 s
    delays = [limiter.reserve() for _ in range(5)]
    assert delays[0] == pytest.approx(0, abs=0.01)
    assert [round(b - a, 2) for a, b in zip(delays, delays[1:])] == [0.1] * 4
    stop = threading.Event()
    stop.set()
    assert limiter.wait(stop) is False  # a stopped batch does not use its slot
    for bad in (0, -1, "60", True):
        with pytest.raises(ValueError, match="rpm="):
            RateLimiter(bad)
