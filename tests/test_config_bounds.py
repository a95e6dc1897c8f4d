"""A config file that is hostile or broken ends in a ConfigError naming it, never a crash."""

from __future__ import annotations

from pathlib import Path

import pluggy
import pytest

import norq
from norq.config import MAX_DEPTH, MAX_VALUES

GOOD = "providers: {acme: {config: {api_key: k}}}\nrouting: {sms: acme}\n"


def load(path: Path, pm: pluggy.PluginManager) -> norq.Norq:
    return norq.Norq.from_yaml(path, plugin_manager=pm, environ={})


def write(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "norq.yaml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, "utf-8")
    return path


def alias_bomb(levels: int, width: int = 9) -> str:
    """YAML's "billion laughs": each level lists the previous one ``width`` times."""
    lines = ["x0: &x0 [lol]"]
    for level in range(1, levels + 1):
        refs = ", ".join([f"*x{level - 1}"] * width)
        lines.append(f"x{level}: &x{level} [{refs}]")
    return "anchors:\n" + "".join(f"  {line}\n" for line in lines)


def test_an_alias_bomb_is_refused_without_expanding_it(
    tmp_path: Path, plugin_manager: pluggy.PluginManager
) -> None:
    # 9 ** 9 (387 million) values from about 500 bytes; expanded, that is gigabytes.
    path = write(tmp_path, alias_bomb(9))
    assert path.stat().st_size < 600

    with pytest.raises(norq.ConfigError) as refused:
        load(path, plugin_manager)

    message = str(refused.value)
    assert message.startswith(f"{path}: ")
    assert f"more than {MAX_VALUES:,} values" in message
    assert "aliases" in message


def test_an_alias_inside_its_own_anchor_is_refused(
    tmp_path: Path, plugin_manager: pluggy.PluginManager
) -> None:
    path = write(tmp_path, GOOD + "anchors: &loop [a, *loop]\n")

    with pytest.raises(norq.ConfigError) as refused:
        load(path, plugin_manager)

    assert str(refused.value).startswith(f"{path}:3:")
    assert "an alias refers to a node that contains it" in str(refused.value)


def test_aliases_within_the_bound_work_as_yaml_says(
    tmp_path: Path, plugin_manager: pluggy.PluginManager
) -> None:
    path = write(
        tmp_path,
        "providers:\n"
        "  acme: {config: &shared {api_key: k, sender: Ops}}\n"
        "  backup: {type: acme, config: *shared}\n"
        "routing: {sms: [acme, backup]}\n",
    )
    app = load(path, plugin_manager)
    assert app.providers["backup"].config.sender == "Ops"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "text",
    [
        "routing: " + "[" * 100_000 + "]" * 100_000 + "\n",
        "routing: " + "{a: " * 100_000 + "b" + "}" * 100_000 + "\n",
        "routing:\n" + "".join(" " * (2 * level) + "- \n" for level in range(1, 3000)),
    ],
    ids=["flow-lists", "flow-mappings", "block"],
)
def test_nesting_beyond_the_depth_is_refused_with_file_and_line(
    tmp_path: Path, plugin_manager: pluggy.PluginManager, text: str
) -> None:
    path = write(tmp_path, text)

    with pytest.raises(norq.ConfigError) as refused:
        load(path, plugin_manager)

    message = str(refused.value)
    assert message.startswith(f"{path}:1:") or message.startswith(f"{path}:")
    assert f"nested more than {MAX_DEPTH} levels deep" in message


def test_nesting_within_the_depth_loads(
    tmp_path: Path, plugin_manager: pluggy.PluginManager
) -> None:
    deep = "[" * (MAX_DEPTH - 2) + "]" * (MAX_DEPTH - 2)
    path = write(tmp_path, GOOD + f"executor: {{timeout: 5}}\nextra: {deep}\n")
    with pytest.raises(norq.ConfigError, match="extra: unknown top-level key"):
        load(path, plugin_manager)


def test_a_deeply_nested_dict_is_a_config_error_too(plugin_manager: pluggy.PluginManager) -> None:
    document: dict[str, object] = {}
    inner = document
    for _ in range(100_000):
        inner["a"] = {}
        inner = inner["a"]  # type: ignore[assignment]
    with pytest.raises(norq.ConfigError, match=f"nested more than {MAX_DEPTH} levels deep"):
        norq.Norq.from_dict({"routing": document}, plugin_manager=plugin_manager, environ={})


def test_a_file_that_is_not_utf8_names_the_file_line_and_byte(
    tmp_path: Path, plugin_manager: pluggy.PluginManager
) -> None:
    path = write(
        tmp_path, GOOD.encode() + "templates:\n  hi: {sms: {body: Café}}\n".encode("latin-1")
    )

    with pytest.raises(norq.ConfigError) as refused:
        load(path, plugin_manager)

    assert str(refused.value) == (f"{path}:4:23: not UTF-8 (byte 0xe9); save the file as UTF-8")


def test_a_template_file_that_is_not_utf8_is_a_config_error(
    tmp_path: Path, plugin_manager: pluggy.PluginManager
) -> None:
    (tmp_path / "tpl").mkdir()
    (tmp_path / "tpl" / "hi.sms.j2").write_bytes("Café {{ name }}".encode("latin-1"))
    path = write(tmp_path, GOOD + "templates_dir: tpl\n")

    with pytest.raises(norq.ConfigError) as refused:
        load(path, plugin_manager)

    assert "hi.sms.j2:1:4: not UTF-8 (byte 0xe9); save the file as UTF-8" in str(refused.value)
