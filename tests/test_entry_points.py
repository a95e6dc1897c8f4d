"""The start-up-friendly entry-point scanner agrees with importlib.metadata."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from norq.errors import PluginError
from norq.plugins import (
    _entry_points,
    _EntryPoint,
    _load_entry_point,
    _load_entry_point_plugins_cached,
    _NeedsImportlibMetadata,
    _normalize,
    _parse_entry_points,
    _scan_entry_points,
)

GROUP = "norq_test_group"  # no real distribution uses it, so only the fakes below count


def importlib_view(group: str) -> list[_EntryPoint]:
    """What importlib.metadata reports, in the scanner's shape."""
    found = []
    for entry in importlib.metadata.entry_points(group=group):
        dist = entry.dist
        assert dist is not None
        found.append(_EntryPoint(entry.name, entry.value, dist.name, dist.version))
    return found


def make_info(
    root: Path,
    dirname: str,
    *,
    name: str | None,
    version: str = "1.0",
    entry_points: str | None = None,
) -> Path:
    """A ``*.dist-info`` or ``*.egg-info`` directory, with METADATA or PKG-INFO."""
    info = root / dirname
    info.mkdir(parents=True)
    metadata = "METADATA" if dirname.endswith(".dist-info") else "PKG-INFO"
    if name is not None:
        (info / metadata).write_text(
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
            "Summary: a fake\n\nName: not-a-header\nVersion: 9.9\n"
        )
    if entry_points is not None:
        (info / "entry_points.txt").write_text(entry_points)
    return info


@pytest.fixture
def fake_path(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """sys.path with room in front for fake directories; the plugin cache cleared around."""
    path = list(sys.path)
    monkeypatch.setattr(sys, "path", path)
    _load_entry_point_plugins_cached.cache_clear()
    yield path
    _load_entry_point_plugins_cached.cache_clear()


# --- the real environment ------------------------------------------------------------


def test_real_environment_matches_importlib_metadata() -> None:
    scanned = _scan_entry_points("norq")  # raises if it had to fall back
    assert scanned == importlib_view("norq")
    assert _EntryPoint("example", "norq_example", "norq-example", "0.1.0") in scanned


@pytest.mark.parametrize("group", ["console_scripts", "pytest11", "hatch"])
def test_real_environment_other_groups_match_too(group: str) -> None:
    assert _scan_entry_points(group) == importlib_view(group)


def test_importing_norq_plugins_does_not_import_importlib_metadata() -> None:
    code = (
        "import sys, norq.plugins as p; p._entry_points('norq'); "
        "print('importlib.metadata' not in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[1],
        env={**os.environ, "PYTHONPATH": ""},
    )
    assert result.stdout.strip() == "True", result.stderr


# --- fake distributions on sys.path --------------------------------------------------


def test_dist_info_and_egg_info_sections_and_comments(tmp_path: Path, fake_path: list[str]) -> None:
    make_info(
        tmp_path,
        "alpha_pkg-1.2.dist-info",
        name="alpha.pkg",
        version="1.2",
        entry_points=(
            "[console_scripts]\nalpha = alpha.cli:main\n\n"
            f"[{GROUP}]\n# a comment\n\n"
            "  one  =  alpha_mod  \n"
            "two = alpha_mod:Outer.Inner [fast, extra]\n"
            "[other]\nthree = not_ours\n"
        ),
    )
    make_info(
        tmp_path,
        "Eggy-0.2.egg-info",
        name="Eggy",
        version="0.2",
        entry_points=f"[{GROUP}]\neggy = eggy_mod:plugin\n",
    )
    fake_path.insert(0, str(tmp_path))
    scanned = _scan_entry_points(GROUP)
    assert scanned == importlib_view(GROUP)
    assert sorted(scanned) == [
        _EntryPoint("eggy", "eggy_mod:plugin", "Eggy", "0.2"),
        _EntryPoint("one", "alpha_mod", "alpha.pkg", "1.2"),
        _EntryPoint("two", "alpha_mod:Outer.Inner [fast, extra]", "alpha.pkg", "1.2"),
    ]


def test_semicolon_comments_and_lines_without_equals_are_skipped(
    tmp_path: Path, fake_path: list[str]
) -> None:
    # importlib.metadata would raise on these lines (configparser accepts ';' comments).
    make_info(
        tmp_path,
        "semi-1.0.dist-info",
        name="semi",
        entry_points=f"[{GROUP}]\n; a comment\nnot a pair\nok = semi_mod\n",
    )
    fake_path.insert(0, str(tmp_path))
    assert _scan_entry_points(GROUP) == [_EntryPoint("ok", "semi_mod", "semi", "1.0")]


def test_first_distribution_on_sys_path_wins_by_normalized_name(
    tmp_path: Path, fake_path: list[str]
) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    make_info(first, "Foo_Bar-1.0.dist-info", name="Foo_Bar", entry_points=f"[{GROUP}]\nf = one\n")
    make_info(
        second,
        "foo_bar-2.0.dist-info",
        name="foo-bar",
        version="2.0",
        entry_points=f"[{GROUP}]\nf = two\n",
    )
    make_info(second, "foo.bar-3.0.egg-info", name="foo.bar", entry_points=f"[{GROUP}]\nf = 3\n")
    make_info(second, "other-1.0.dist-info", name="other", entry_points=f"[{GROUP}]\no = other\n")
    fake_path[:0] = [str(tmp_path / "missing"), str(first), str(second)]
    scanned = _scan_entry_points(GROUP)
    assert scanned == importlib_view(GROUP)
    assert sorted(scanned) == [
        _EntryPoint("f", "one", "Foo_Bar", "1.0"),
        _EntryPoint("o", "other", "other", "1.0"),
    ]


def test_a_distribution_without_entry_points_still_shadows_later_ones(
    tmp_path: Path, fake_path: list[str]
) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    make_info(first, "shadow-1.0.dist-info", name="shadow")  # no entry_points.txt
    (first / "legacy-1.0.egg-info").write_text("Name: legacy\nVersion: 1.0\n")  # a file
    make_info(second, "shadow-2.0.dist-info", name="shadow", entry_points=f"[{GROUP}]\ns = s\n")
    make_info(second, "legacy-2.0.dist-info", name="legacy", entry_points=f"[{GROUP}]\nl = l\n")
    fake_path[:0] = [str(first), str(second)]
    assert _scan_entry_points(GROUP) == importlib_view(GROUP) == []


def test_name_and_version_fall_back_to_the_directory_name(
    tmp_path: Path, fake_path: list[str]
) -> None:
    make_info(tmp_path, "nometa-0.3.dist-info", name=None, entry_points=f"[{GROUP}]\nn = n\n")
    # Headers without a Version; the description below them must not be read as one.
    info = make_info(
        tmp_path, "noversion-0.4.dist-info", name=None, entry_points=f"[{GROUP}]\nv = v\n"
    )
    (info / "METADATA").write_text("Name: NoVersion\n\nVersion: 9.9\n")
    fake_path.insert(0, str(tmp_path))
    assert sorted(_scan_entry_points(GROUP)) == [
        _EntryPoint("n", "n", "nometa", "0.3"),
        _EntryPoint("v", "v", "NoVersion", "0.4"),
    ]


def test_a_zip_on_sys_path_falls_back_to_importlib_metadata(
    tmp_path: Path, fake_path: list[str]
) -> None:
    archive = tmp_path / "bundle.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("zipped-1.0.dist-info/METADATA", "Name: zipped\nVersion: 1.0\n")
        zf.writestr("zipped-1.0.dist-info/entry_points.txt", f"[{GROUP}]\nz = zmod\n")
    plain = tmp_path / "plain"
    make_info(plain, "plain-1.0.dist-info", name="plain", entry_points=f"[{GROUP}]\np = pmod\n")
    fake_path[:0] = [str(plain), str(archive)]
    with pytest.raises(_NeedsImportlibMetadata):
        _scan_entry_points(GROUP)
    assert _entry_points(GROUP) == importlib_view(GROUP)
    assert {e.name for e in _entry_points(GROUP)} == {"p", "z"}


def test_an_unpacked_egg_on_sys_path_falls_back_to_importlib_metadata(
    tmp_path: Path, fake_path: list[str]
) -> None:
    egg = tmp_path / "eggd-1.0-py3.11.egg"
    make_info(egg, "EGG-INFO", name="eggd", entry_points=f"[{GROUP}]\ne = emod\n")
    fake_path.insert(0, str(egg))
    with pytest.raises(_NeedsImportlibMetadata):
        _scan_entry_points(GROUP)
    assert (
        _entry_points(GROUP) == importlib_view(GROUP) == [_EntryPoint("e", "emod", "eggd", "1.0")]
    )


class TextDistribution(importlib.metadata.Distribution):
    """A distribution whose metadata files are given as strings."""

    def __init__(self, files: dict[str, str]) -> None:
        self.files_text = files

    def read_text(self, filename: str) -> str | None:
        return self.files_text.get(filename)

    def locate_file(self, path: Any) -> Any:
        raise NotImplementedError


def test_a_custom_distribution_finder_falls_back_to_importlib_metadata(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    dist = TextDistribution(
        {
            "METADATA": "Name: found-by-finder\nVersion: 4.2\n",
            "entry_points.txt": f"[{GROUP}]\nx = x\n",
        }
    )

    class Finder:
        def find_spec(self, *args: object) -> None:
            return None

        def find_distributions(self, *args: object) -> list[importlib.metadata.Distribution]:
            return [dist]

    monkeypatch.setattr(sys, "meta_path", [*sys.meta_path, Finder()])
    with pytest.raises(_NeedsImportlibMetadata):
        _scan_entry_points(GROUP)
    assert _entry_points(GROUP) == [_EntryPoint("x", "x", "found-by-finder", "4.2")]


# --- loading ----------------------------------------------------------------------------


def test_loading_matches_importlib_metadata(tmp_path: Path, fake_path: list[str]) -> None:
    (tmp_path / "ep_fake_mod.py").write_text(
        "class Outer:\n    class Inner:\n        pass\nplugin = object()\n"
    )
    fake_path.insert(0, str(tmp_path))
    try:
        for value in [
            "ep_fake_mod",
            "ep_fake_mod:plugin",
            "ep_fake_mod : Outer.Inner",
            "ep_fake_mod:Outer.Inner [fast, extra]",
        ]:
            expected = importlib.metadata.EntryPoint("x", value, GROUP).load()
            assert _load_entry_point(value) is expected
    finally:
        sys.modules.pop("ep_fake_mod", None)


def test_norq_group_plugins_load_with_their_distribution(
    tmp_path: Path, fake_path: list[str]
) -> None:
    (tmp_path / "ep_norq_mod.py").write_text("class Plugin:\n    pass\n")
    make_info(
        tmp_path,
        "ep_norq_dist-2.5.dist-info",
        name="ep-norq-dist",
        version="2.5",
        entry_points="[norq]\nepfake = ep_norq_mod:Plugin [speed]\n",
    )
    fake_path.insert(0, str(tmp_path))
    try:
        loaded = {name: rest for name, *rest in _load_entry_point_plugins_cached(None)}
        plugin, dist_name, version = loaded["epfake"]
        assert plugin is sys.modules["ep_norq_mod"].Plugin
        assert (dist_name, version) == ("ep-norq-dist", "2.5")
        assert loaded["example"][1:] == ["norq-example", "0.1.0"]
        only = _load_entry_point_plugins_cached("ep-norq-dist")
        assert [name for name, *_ in only] == ["epfake"]
        assert _load_entry_point_plugins_cached("") == []
    finally:
        sys.modules.pop("ep_norq_mod", None)


def test_a_broken_entry_point_names_itself(tmp_path: Path, fake_path: list[str]) -> None:
    make_info(
        tmp_path,
        "broken-1.0.dist-info",
        name="broken",
        entry_points="[norq]\nbroken = ep_no_such_module_anywhere:thing\n",
    )
    fake_path.insert(0, str(tmp_path))
    with pytest.raises(PluginError, match=r"'broken' \(entry point 'ep_no_such_module_anywhere:"):
        _load_entry_point_plugins_cached(None)


# --- the entry_points.txt parser ---------------------------------------------------------


def test_normalize_is_pep_503() -> None:
    assert _normalize("Foo_Bar") == _normalize("foo-bar") == _normalize("FOO.-_bar") == "foo-bar"


# Names as packaging tools write them; values anything on one line.
names = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-", min_size=1
)
values = st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), max_size=40)
blank = st.sampled_from(["", " ", "\t", "  \t "])


@given(
    pairs=st.lists(st.tuples(names, values, blank, blank, blank), max_size=8),
    noise=st.lists(st.tuples(names, values), max_size=4),
)
def test_parser_round_trips_and_agrees_with_importlib(
    pairs: list[tuple[str, str, str, str, str]], noise: list[tuple[str, str]]
) -> None:
    lines = ["[console_scripts]", *(f"{n} = {v}" for n, v in noise), "", f"[{GROUP}]"]
    for i, (name, value, lead, mid, trail) in enumerate(pairs):
        if i % 3 == 0:
            lines.append(f"{lead}# comment {value}")
        lines.append(f"{lead}{name}{mid}={mid}{value}{trail}")
    lines += ["", "[after]", *(f"{n}={v}" for n, v in noise)]
    text = "\n".join(lines) + "\n"

    parsed = _parse_entry_points(text, GROUP)
    assert parsed == [(name, value.strip()) for name, value, *_ in pairs]

    dist = TextDistribution({"entry_points.txt": text})
    reference = [(e.name, e.value) for e in dist.entry_points.select(group=GROUP)]
    assert parsed == reference
