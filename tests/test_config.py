from __future__ import annotations

from pathlib import Path
from typing import Any

import pluggy
import pytest

import norq
from norq.config import discover_config_path
from tests.conftest import ACME_SECRET, AcmeProvider, acme_config


def load(
    pm: pluggy.PluginManager, document: Any, environ: dict[str, str] | None = None
) -> norq.Norq:
    return norq.Norq.from_dict(document, plugin_manager=pm, environ=environ or {})


def config_errors(pm: pluggy.PluginManager, document: Any, **kw: Any) -> list[tuple[str, str]]:
    with pytest.raises(norq.ConfigError) as caught:
        load(pm, document, **kw)
    return caught.value.errors


def test_minimal_config_builds_providers_and_routes(plugin_manager: pluggy.PluginManager) -> None:
    app = load(plugin_manager, acme_config())
    assert isinstance(app.providers["acme"], AcmeProvider)
    assert app.routing == {"sms": ("acme",)}


def test_type_defaults_to_instance_name_and_two_accounts_coexist(
    plugin_manager: pluggy.PluginManager,
) -> None:
    document = {
        "providers": {
            "acme": {"config": {"api_key": "k1"}},
            "acme_eu": {"type": "acme", "config": {"api_key": "k2", "base_url": "https://eu"}},
        },
        "routing": {"sms": ["acme", "acme_eu"]},
    }
    app = load(plugin_manager, document)
    assert app.routing["sms"] == ("acme", "acme_eu")
    assert app.providers["acme_eu"].instance == "acme_eu"
    assert app.providers["acme_eu"].config.base_url == "https://eu"  # type: ignore[attr-defined]


def test_interpolation_fills_config_from_environment(plugin_manager: pluggy.PluginManager) -> None:
    document = acme_config()
    document["providers"]["acme"]["config"] = {"api_key": "${KEY}", "sender": "${S:-Norq}"}
    app = load(plugin_manager, document, environ={"KEY": "from-env"})
    assert app.providers["acme"].config.api_key.get_secret_value() == "from-env"  # type: ignore[attr-defined]


def test_missing_variable_names_variable_and_yaml_path(
    plugin_manager: pluggy.PluginManager,
) -> None:
    document = acme_config()
    document["providers"]["acme"]["config"]["api_key"] = "${ACME_KEY}"
    errors = config_errors(plugin_manager, document)
    assert errors[0][0] == "providers.acme.config.api_key"
    assert "ACME_KEY is not set" in errors[0][1]


def test_provider_config_errors_carry_the_dotted_path(plugin_manager: pluggy.PluginManager) -> None:
    errors = config_errors(
        plugin_manager, {"providers": {"acme": {"config": {"sender": [5]}}}, "routing": {}}
    )
    paths = dict(errors)
    assert paths["providers.acme.config.api_key"] == "required, but missing"
    assert "providers.acme.config.sender" in paths


def test_unknown_key_in_provider_config_lists_allowed_keys(
    plugin_manager: pluggy.PluginManager,
) -> None:
    document = acme_config()
    document["providers"]["acme"]["config"]["api_kee"] = "x"
    errors = dict(config_errors(plugin_manager, document))
    assert "api_key" in errors["providers.acme.config.api_kee"]
    assert errors["providers.acme.config.api_kee"].startswith("unknown key")


def test_unknown_key_in_provider_entry(plugin_manager: pluggy.PluginManager) -> None:
    document = acme_config()
    document["providers"]["acme"]["confg"] = {}
    errors = dict(config_errors(plugin_manager, document))
    assert "config" in errors["providers.acme.confg"]


def test_unknown_top_level_key_is_reported_with_other_errors(
    plugin_manager: pluggy.PluginManager,
) -> None:
    document = acme_config(routes={"sms": "acme"})
    document["routing"] = {"sms": "nobody"}
    errors = dict(config_errors(plugin_manager, document))
    assert "unknown top-level key" in errors["routes"]
    assert "'nobody'" in errors["routing.sms"]


def test_unknown_provider_type_lists_installed_types(plugin_manager: pluggy.PluginManager) -> None:
    errors = dict(config_errors(plugin_manager, {"providers": {"x": {"type": "carrier-pigeon"}}}))
    assert "unknown provider type 'carrier-pigeon'" in errors["providers.x.type"]
    assert "acme" in errors["providers.x.type"]
    assert "console" in errors["providers.x.type"]


def test_channel_routed_to_provider_that_does_not_support_it(
    plugin_manager: pluggy.PluginManager,
) -> None:
    document = acme_config()
    document["routing"] = {"push": "acme"}
    errors = dict(config_errors(plugin_manager, document))
    assert "does not support channel 'push'" in errors["routing.push"]
    assert "email, sms" in errors["routing.push"]


@pytest.mark.parametrize(
    ("route", "reason"),
    [([], "empty list"), (["acme", "acme"], "listed twice"), ("ghost", "not a configured")],
)
def test_bad_routes(plugin_manager: pluggy.PluginManager, route: Any, reason: str) -> None:
    document = acme_config()
    document["routing"] = {"sms": route}
    assert reason in dict(config_errors(plugin_manager, document))["routing.sms"]


def test_retry_override_replaces_provider_defaults(plugin_manager: pluggy.PluginManager) -> None:
    document = acme_config()
    document["providers"]["acme"]["retry"] = {"max_retries": 5, "backoff": 0.1}
    retry = load(plugin_manager, document).providers["acme"].retry
    assert (retry.max_retries, retry.backoff, retry.multiplier) == (5, 0.1, 2.0)


def test_invalid_retry_override(plugin_manager: pluggy.PluginManager) -> None:
    document = acme_config()
    document["providers"]["acme"]["retry"] = {"max_retries": -1}
    assert "providers.acme.retry.max_retries" in dict(config_errors(plugin_manager, document))


def test_every_error_is_reported_at_once(plugin_manager: pluggy.PluginManager) -> None:
    document = {
        "providers": {"acme": {"config": {}}, "bad": {"type": "nope"}},
        "routing": {"sms": "ghost"},
        "templates": {"otp": {"sms": {"body": "{{ unclosed"}}},
    }
    paths = {path for path, _ in config_errors(plugin_manager, document)}
    assert paths == {
        "providers.acme.config.api_key",
        "providers.bad.type",
        "routing.sms",
        "templates.otp.sms.body",
    }


def test_error_message_lists_one_line_per_problem(plugin_manager: pluggy.PluginManager) -> None:
    with pytest.raises(norq.ConfigError) as caught:
        load(plugin_manager, {"providers": {"acme": {"config": {}}}, "routing": {"sms": "x"}})
    lines = str(caught.value).splitlines()
    assert lines[0].startswith("providers.acme.config.api_key: ")
    assert lines[1].startswith("routing.sms: ")


def test_top_level_must_be_a_mapping(plugin_manager: pluggy.PluginManager) -> None:
    with pytest.raises(norq.ConfigError, match="top level must be a mapping"):
        load(plugin_manager, ["providers"])


# -- YAML files ---------------------------------------------------------------


def write(tmp_path: Path, text: str, name: str = "norq.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_from_yaml_loads_a_file(tmp_path: Path, plugin_manager: pluggy.PluginManager) -> None:
    path = write(
        tmp_path,
        "providers:\n  acme:\n    config: {api_key: k}\nrouting:\n  sms: acme\n",
    )
    app = norq.Norq.from_yaml(path, plugin_manager=plugin_manager, environ={})
    assert app.config.source == str(path)
    assert app.routing == {"sms": ("acme",)}


def test_yaml_syntax_error_gives_file_and_line(
    tmp_path: Path, plugin_manager: pluggy.PluginManager
) -> None:
    path = write(tmp_path, "providers:\n  acme:\n    config: {api_key: k\nrouting: {}\n")
    with pytest.raises(norq.ConfigError, match=rf"{path}:4:\d+: YAML syntax error"):
        norq.Norq.from_yaml(path, plugin_manager=plugin_manager, environ={})


def test_duplicate_yaml_keys_are_rejected(
    tmp_path: Path, plugin_manager: pluggy.PluginManager
) -> None:
    path = write(tmp_path, "routing:\n  sms: acme\n  sms: console\n")
    with pytest.raises(norq.ConfigError, match=r":3:\d+: YAML syntax error: duplicate key 'sms'"):
        norq.Norq.from_yaml(path, plugin_manager=plugin_manager, environ={})


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(norq.ConfigError, match="config file not found"):
        norq.Norq.from_yaml(tmp_path / "absent.yaml")


def test_empty_file_is_an_empty_config(
    tmp_path: Path, plugin_manager: pluggy.PluginManager
) -> None:
    app = norq.Norq.from_yaml(write(tmp_path, ""), plugin_manager=plugin_manager, environ={})
    assert app.providers == {}
    assert app.routing == {}


def test_templates_dir_is_relative_to_the_config_file(
    tmp_path: Path, plugin_manager: pluggy.PluginManager
) -> None:
    (tmp_path / "tpl").mkdir()
    (tmp_path / "tpl" / "welcome.email.j2").write_text("Hello {{ name }}")
    (tmp_path / "tpl" / "welcome.email.subject.j2").write_text("Welcome, {{ name }}")
    path = write(
        tmp_path,
        "providers: {acme: {config: {api_key: k}}}\nrouting: {email: acme}\ntemplates_dir: tpl\n",
    )
    app = norq.Norq.from_yaml(path, plugin_manager=plugin_manager, environ={})
    rendered = app.config.templates.render("welcome", "email", {"name": "Ada"})
    assert rendered == {"body": "Hello Ada", "subject": "Welcome, Ada"}


def test_template_defined_twice_is_an_error(
    tmp_path: Path, plugin_manager: pluggy.PluginManager
) -> None:
    (tmp_path / "tpl").mkdir()
    (tmp_path / "tpl" / "otp.sms.j2").write_text("{{ code }}")
    path = write(
        tmp_path,
        "templates_dir: tpl\ntemplates:\n  otp:\n    sms: {body: 'code {{ code }}'}\n",
    )
    with pytest.raises(norq.ConfigError, match=r"templates\.otp\.sms: defined both"):
        norq.Norq.from_yaml(path, plugin_manager=plugin_manager, environ={})


def test_badly_named_template_file(tmp_path: Path, plugin_manager: pluggy.PluginManager) -> None:
    (tmp_path / "tpl").mkdir()
    (tmp_path / "tpl" / "otp.j2").write_text("x")
    path = write(tmp_path, "templates_dir: tpl\n")
    with pytest.raises(norq.ConfigError, match=r"NAME\.CHANNEL\.j2"):
        norq.Norq.from_yaml(path, plugin_manager=plugin_manager, environ={})


# -- environment-variable fallback ---------------------------------------------


def test_env_fallback_registers_and_routes_undeclared_provider(
    plugin_manager: pluggy.PluginManager,
) -> None:
    app = load(plugin_manager, {}, environ={"NORQ_ACME_API_KEY": "k", "NORQ_ACME_SENDER": "Ops"})
    assert app.providers["acme"].config.sender == "Ops"  # type: ignore[attr-defined]
    assert app.routing == {"email": ("acme",), "sms": ("acme",)}
    assert app.config.from_env == ("acme",)


def test_env_fallback_needs_a_required_variable(plugin_manager: pluggy.PluginManager) -> None:
    app = load(plugin_manager, {}, environ={"NORQ_ACME_SENDER": "Ops"})
    assert "acme" not in app.providers


def test_env_fallback_errors_name_the_variable(plugin_manager: pluggy.PluginManager) -> None:
    environ = {"NORQ_ACME_API_KEY": "k", "NORQ_ACME_DEFAULT_PRIORITY": "high"}
    errors = dict(config_errors(plugin_manager, {}, environ=environ))
    assert "integer" in errors["env NORQ_ACME_DEFAULT_PRIORITY"]


def test_declared_provider_ignores_env_fallback(plugin_manager: pluggy.PluginManager) -> None:
    app = load(plugin_manager, acme_config(), environ={"NORQ_ACME_API_KEY": "other"})
    assert app.providers["acme"].config.api_key.get_secret_value() == ACME_SECRET  # type: ignore[attr-defined]
    assert app.config.from_env == ()


def test_yaml_routing_wins_over_env_fallback_routes(plugin_manager: pluggy.PluginManager) -> None:
    document = {"providers": {"console": {}}, "routing": {"sms": "console"}}
    app = load(plugin_manager, document, environ={"NORQ_ACME_API_KEY": "k"})
    assert app.routing == {"sms": ("console",), "email": ("acme",)}


# -- discovery ------------------------------------------------------------------


def test_discovery_prefers_norq_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "routing: {}\n")
    assert discover_config_path({"NORQ_CONFIG": "/etc/other.yaml"}) == Path("/etc/other.yaml")
    assert discover_config_path({}) == Path("norq.yaml")


def test_discovery_without_any_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert discover_config_path({}) is None
    app = norq.Norq.discover(environ={})
    assert app.providers == {}


def test_webhooks_public_url_is_read_and_normalised(plugin_manager: pluggy.PluginManager) -> None:
    document = {**acme_config(), "webhooks": {"public_url": "https://hooks.example.com/twilio/"}}
    app = load(plugin_manager, document)
    assert app.config.webhooks.public_url == "https://hooks.example.com/twilio"
    assert load(plugin_manager, acme_config()).config.webhooks.public_url is None


@pytest.mark.parametrize(
    ("public_url", "problem"),
    [
        ("hooks.example.com/twilio", "not an http(s) URL"),
        ("ftp://hooks.example.com", "not an http(s) URL"),
        ("https://hooks.example.com/twilio?x=1", "it has a query"),
    ],
)
def test_a_bad_webhooks_public_url_is_a_config_error(
    plugin_manager: pluggy.PluginManager, public_url: str, problem: str
) -> None:
    document = {**acme_config(), "webhooks": {"public_url": public_url}}
    [(path, message)] = config_errors(plugin_manager, document)
    assert path == "webhooks.public_url"
    assert problem in message


def test_an_unknown_webhooks_key_is_a_config_error(plugin_manager: pluggy.PluginManager) -> None:
    document = {**acme_config(), "webhooks": {"public_uri": "https://hooks.example.com"}}
    [(path, message)] = config_errors(plugin_manager, document)
    assert path.startswith("webhooks")
    assert "public_url" in message
