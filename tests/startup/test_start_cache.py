"""The start cache: an unchanged configuration is not checked again; any change to what the
check read (the file, a configuration it starts, an action file, the package) is a miss;
a corrupt entry or a folder that cannot be written never stops a start."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import statemachine_engine
from statemachine_engine.config import CachedStart, StartCache, default_cache_dir, load_config
from statemachine_engine.config import _cache as cache_module

FLIP = """\
metadata: {name: Flip}
initial_state: a
states: [a, b, stopped]
events: [go, stop]
transitions:
  - {from: a, to: b, event: go}
  - {from: b, to: a, event: go}
  - {from: "*", to: stopped, event: stop}
"""


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "flip.yaml").write_text(FLIP)
    (tmp_path / "actions").mkdir()
    (tmp_path / "actions" / "greet_action.py").write_text("# v1\n")
    return tmp_path


@pytest.fixture
def cache(tmp_path: Path) -> StartCache:
    return StartCache(tmp_path / "cache")


def stored(cache: StartCache, folder: Path, **key: object) -> tuple[str, CachedStart]:
    """An entry for flip.yaml, as a start that checked it stores it."""
    value = CachedStart(load_config(folder / "flip.yaml"), ("a warning line",))
    k = cache.key("flip.yaml", actions_dir="actions", **key)  # type: ignore[arg-type]
    cache.store(k, value, files=["flip.yaml"], actions_dir="actions")
    return k, value


def test_an_unchanged_configuration_is_a_hit(cache: StartCache, folder: Path) -> None:
    k, value = stored(cache, folder)
    assert cache.load(k) == value
    assert cache.load(cache.key("flip.yaml", actions_dir="actions")) == value


def test_the_entry_is_kept_in_the_users_cache_folder(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(folder / "xdg"))
    assert default_cache_dir() == folder / "xdg" / "statemachine-engine"
    k, _ = stored(StartCache(), folder)
    assert (folder / "xdg" / "statemachine-engine" / f"{k}.pickle").is_file()
    assert (folder / "xdg" / "statemachine-engine").stat().st_mode & 0o777 == 0o700
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(folder / "home"))
    assert default_cache_dir() == folder / "home" / ".cache" / "statemachine-engine"


def test_a_changed_configuration_is_a_miss(cache: StartCache, folder: Path) -> None:
    k, _ = stored(cache, folder)
    (folder / "flip.yaml").write_text(FLIP.replace("b, stopped]", "b, c, stopped]"))
    assert cache.load(k) is None


def test_a_configuration_changed_back_is_a_hit_again(cache: StartCache, folder: Path) -> None:
    k, value = stored(cache, folder)
    (folder / "flip.yaml").write_text(FLIP + "# a comment\n")
    assert cache.load(k) is None
    (folder / "flip.yaml").write_text(FLIP)
    assert cache.load(k) == value


def test_a_configuration_it_depends_on_is_checked_too(cache: StartCache, folder: Path) -> None:
    (folder / "child.yaml").write_text(FLIP)
    value = CachedStart(load_config(folder / "flip.yaml"))
    k = cache.key("flip.yaml")
    cache.store(k, value, files=["flip.yaml", "child.yaml"])
    assert cache.load(k) == value
    (folder / "child.yaml").write_text(FLIP + "# changed\n")
    assert cache.load(k) is None
    (folder / "child.yaml").unlink()
    assert cache.load(k) is None


@pytest.mark.parametrize("change", ["edit", "add", "remove", "add in a subfolder"])
def test_any_change_among_the_action_files_is_a_miss(
    cache: StartCache, folder: Path, change: str
) -> None:
    k, _ = stored(cache, folder)
    actions = folder / "actions"
    if change == "edit":
        (actions / "greet_action.py").write_text("# v2\n")
    elif change == "add":
        (actions / "wave_action.py").write_text("")
    elif change == "remove":
        (actions / "greet_action.py").unlink()
    else:
        (actions / "more").mkdir()
        (actions / "more" / "wave_action.py").write_text("")
    assert cache.load(k) is None


def test_a_file_that_is_not_an_action_file_does_not_matter(cache: StartCache, folder: Path) -> None:
    k, value = stored(cache, folder)
    (folder / "actions" / "helpers.py").write_text("")
    assert cache.load(k) == value


def test_another_package_version_is_another_entry(
    cache: StartCache, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    k, _ = stored(cache, folder)
    monkeypatch.setattr(statemachine_engine, "__version__", "99.0")
    assert cache.key("flip.yaml", actions_dir="actions") != k


def test_an_edit_of_the_checker_is_another_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "pkg"
    (root / "tools").mkdir(parents=True)
    rule = root / "tools" / "_rule.py"
    rule.write_text("A = 1\n")
    monkeypatch.setattr(cache_module, "_PACKAGE_ROOT", root)
    before = cache_module._source_signature()
    rule.write_text("A = 22\n")
    assert cache_module._source_signature() != before


@pytest.mark.parametrize(
    "key",
    [
        {"initial_context": ["job_id"]},
        {"durable": True},
    ],
)
def test_the_flags_the_check_depends_on_are_part_of_the_key(
    cache: StartCache, folder: Path, key: dict[str, object]
) -> None:
    k, _ = stored(cache, folder)
    assert cache.key("flip.yaml", actions_dir="actions", **key) != k  # type: ignore[arg-type]


def test_another_working_folder_or_path_is_another_entry(
    cache: StartCache, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    k, _ = stored(cache, folder)
    assert cache.key(folder / "flip.yaml", actions_dir="actions") != k
    (folder / "sub").mkdir()
    monkeypatch.chdir(folder / "sub")
    assert cache.key("../flip.yaml", actions_dir="../actions") != k


@pytest.mark.parametrize("garbage", [b"", b"not a pickle", b"\x80\x05K\x01.", b"\x80\x05}\x94."])
def test_a_corrupt_entry_is_ignored_and_written_again(
    cache: StartCache, folder: Path, garbage: bytes
) -> None:
    k, value = stored(cache, folder)
    entry = cache.directory / f"{k}.pickle"
    entry.write_bytes(garbage)
    assert cache.load(k) is None
    cache.store(k, value, files=["flip.yaml"], actions_dir="actions")
    assert cache.load(k) == value


def test_a_folder_that_cannot_be_created_is_skipped_silently(folder: Path) -> None:
    (folder / "a-file").write_text("")
    cache = StartCache(folder / "a-file" / "cache")  # mkdir fails: NotADirectoryError
    k, _ = stored(cache, folder)
    assert cache.load(k) is None


def test_a_folder_others_may_write_to_is_not_used(cache: StartCache, folder: Path) -> None:
    cache.directory.mkdir(mode=0o700)
    os.chmod(cache.directory, 0o777)
    k, _ = stored(cache, folder)
    assert list(cache.directory.iterdir()) == []
    assert cache.load(k) is None


def test_an_entry_in_a_folder_others_may_write_to_is_not_read(
    cache: StartCache, folder: Path
) -> None:
    k, _ = stored(cache, folder)
    os.chmod(cache.directory, 0o777)
    assert cache.load(k) is None


def test_an_entry_others_may_write_to_is_not_read(cache: StartCache, folder: Path) -> None:
    k, _ = stored(cache, folder)
    os.chmod(cache.directory / f"{k}.pickle", 0o666)
    assert cache.load(k) is None


def test_a_file_edited_while_it_was_checked_is_not_kept(cache: StartCache, folder: Path) -> None:
    before = {"flip.yaml": cache.digest("flip.yaml")}
    value = CachedStart(load_config(folder / "flip.yaml"))  # the check reads this version
    (folder / "flip.yaml").write_text(FLIP + "# saved by the editor meanwhile\n")
    k = cache.key("flip.yaml")
    cache.store(k, value, files=["flip.yaml"], before=before)
    assert cache.load(k) is None
    cache.store(k, value, files=["flip.yaml"], before={"flip.yaml": cache.digest("flip.yaml")})
    assert cache.load(k) == value


def test_the_least_recently_used_entries_beyond_the_bound_are_removed(
    cache: StartCache, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cache_module, "MAX_ENTRIES", 3)
    value = CachedStart(load_config(folder / "flip.yaml"))
    keys = [f"{i:032x}" for i in range(4)]
    for age, k in enumerate(keys[:3]):
        cache.store(k, value, files=["flip.yaml"])
        os.utime(cache.directory / f"{k}.pickle", ns=(age * 10**9, age * 10**9))
    assert cache.load(keys[0]) == value  # used: now the most recent
    cache.store(keys[3], value, files=["flip.yaml"])
    assert sorted(p.stem for p in cache.directory.glob("*.pickle")) == sorted(
        [keys[0], keys[2], keys[3]]
    )
