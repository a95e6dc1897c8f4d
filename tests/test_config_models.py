"""Config models are pydantic models; Norq turns their errors into plain, located sentences."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

import pluggy
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator

import norq
from norq.config import load_config
from norq.plugins import get_plugin_manager, provider_registry
from norq.provider import secrets_in

Register = Callable[[type[norq.Provider]], None]


class Inner(norq.ProviderConfig):
    level: Literal["low", "high"] = "low"
    tags: list[str] = Field(default_factory=list)


class SampleConfig(norq.ProviderConfig):
    name: str
    token: SecretStr | None = None
    count: int = 1
    ratio: float = 0.5
    enabled: bool = False
    choice: Literal[1, 2] = 1
    either: int | str = 0
    other: str | int = 0
    inner: Inner = Inner()
    labels: dict[str, int] = Field(default_factory=dict)

    @field_validator("count")
    @classmethod
    def _at_most_ten(cls, value: int) -> int:
        if not 1 <= value <= 10:
            raise ValueError("must be from 1 to 10")
        return value

    @model_validator(mode="after")
    def _not_forbidden(self) -> SampleConfig:
        if self.name == "forbidden" and self.enabled:
            raise ValueError("a forbidden sample cannot be enabled; set enabled: false")
        return self


class SampleProvider(norq.Provider[SampleConfig]):
    name = "sample"
    channels = frozenset({"sms"})
    env_prefix = "SAMPLE"

    def prepare_send(self, message: norq.Message) -> norq.PreparedRequest:
        return norq.PreparedRequest(method="POST", url="https://sample.test", retry=self.retry)


class SamplePlugin:
    @norq.hookimpl
    def register_providers(self, register: Register) -> None:
        register(SampleProvider)


@pytest.fixture
def pm() -> Iterator[pluggy.PluginManager]:
    manager = get_plugin_manager(load_entry_points=False)
    plugin = SamplePlugin()
    manager.register(plugin, name="sample-plugin")
    try:
        yield manager
    finally:
        manager.unregister(plugin)


def load(pm: pluggy.PluginManager, config: Any, **document: Any) -> norq.Norq:
    document.setdefault("providers", {"sample": {"config": config}})
    return norq.Norq.from_dict(document, plugin_manager=pm, environ={})


def errors_of(pm: pluggy.PluginManager, config: Any, **document: Any) -> dict[str, str]:
    with pytest.raises(norq.ConfigError) as caught:
        load(pm, config, **document)
    return dict(caught.value.errors)


def test_the_provider_receives_its_typed_config(pm: pluggy.PluginManager) -> None:
    provider = load(pm, {"name": "n", "inner": {"level": "high"}}).providers["sample"]
    assert SampleProvider.Config is SampleConfig  # taken from Provider[SampleConfig]
    assert isinstance(provider.config, SampleConfig)
    assert provider.config.inner.level == "high"


def test_every_problem_is_reported_at_once_in_plain_words(pm: pluggy.PluginManager) -> None:
    errors = errors_of(
        pm,
        {
            "count": 0,
            "ratio": "half",
            "enabled": "maybe",
            "inner": {"level": "medium", "tags": ["ok", []]},
            "labels": {"a": "one"},
            "colour": "blue",
        },
    )
    p = "providers.sample.config"
    assert errors == {
        f"{p}.colour": "unknown key; allowed keys: name, token, count, ratio, enabled, choice, "
        "either, other, inner, labels",
        f"{p}.name": "required, but missing",
        f"{p}.count": "must be from 1 to 10",
        f"{p}.ratio": "expected a number, got text",
        f"{p}.enabled": "expected true or false, got text",
        f"{p}.inner.level": "must be 'low' or 'high'",
        f"{p}.inner.tags[1]": "expected a string, got a list",
        f"{p}.labels.a": "expected an integer, got text",
    }


def test_a_rule_across_keys_is_reported_at_the_section(pm: pluggy.PluginManager) -> None:
    assert errors_of(pm, {"name": "forbidden", "enabled": True}) == {
        "providers.sample.config": "a forbidden sample cannot be enabled; set enabled: false"
    }


# -- the edge cases the home-made validator got wrong (issue 11) ------------------------


def test_the_order_of_a_union_does_not_change_the_value(pm: pluggy.PluginManager) -> None:
    config = load(pm, {"name": "n", "either": "5", "other": "5"}).providers["sample"].config
    assert (config.either, config.other) == ("5", "5")
    config = load(pm, {"name": "n", "either": 5, "other": 5}).providers["sample"].config
    assert (config.either, config.other) == (5, 5)


def test_a_numeric_literal_accepts_its_text_from_an_env_variable(
    pm: pluggy.PluginManager,
) -> None:
    document = {"providers": {"sample": {"config": {"name": "n", "choice": "${CHOICE}"}}}}
    app = norq.Norq.from_dict(document, plugin_manager=pm, environ={"CHOICE": "2"})
    assert app.providers["sample"].config.choice == 2  # type: ignore[attr-defined]
    assert errors_of(pm, {"name": "n", "choice": "3"}) == {
        "providers.sample.config.choice": "must be 1 or 2"
    }


def test_a_boolean_is_not_a_number(pm: pluggy.PluginManager) -> None:
    assert errors_of(pm, {"name": "n", "count": True, "ratio": False}) == {
        "providers.sample.config.count": "expected an integer, got true/false",
        "providers.sample.config.ratio": "expected a number, got true/false",
    }


def test_a_yaml_number_is_accepted_as_text(pm: pluggy.PluginManager) -> None:
    assert load(pm, {"name": 447700900000}).providers["sample"].config.name == "447700900000"  # type: ignore[attr-defined]


def test_a_locally_defined_config_with_postponed_annotations_works() -> None:
    Level = Literal["a", "b"]

    class LocalConfig(norq.ProviderConfig):
        level: Level = "a"

    class LocalProvider(norq.Provider[LocalConfig]):
        name = "local"
        channels = frozenset({"sms"})

        def prepare_send(self, message: norq.Message) -> norq.PreparedRequest:
            raise NotImplementedError

    class Plugin:
        @norq.hookimpl
        def register_providers(self, register: Register) -> None:
            register(LocalProvider)

    manager = get_plugin_manager(load_entry_points=False)
    manager.register(Plugin(), name="local")
    registry = provider_registry(manager)
    config = load_config({"providers": {"local": {"config": {"level": "b"}}}}, registry)
    assert config.providers["local"].config.level == "b"  # type: ignore[attr-defined]


def _unresolvable_model() -> type[BaseModel]:
    class Broken(norq.ProviderConfig):
        value: NotDefinedAnywhere  # type: ignore[name-defined]  # noqa: F821

    return Broken


def test_a_config_naming_an_unknown_type_is_a_plugin_error_at_registration() -> None:
    class BrokenProvider(norq.Provider):
        name = "broken"
        channels = frozenset({"sms"})
        Config = _unresolvable_model()

        def prepare_send(self, message: norq.Message) -> norq.PreparedRequest:
            raise NotImplementedError

    class Plugin:
        @norq.hookimpl
        def register_providers(self, register: Register) -> None:
            register(BrokenProvider)

    manager = get_plugin_manager(load_entry_points=False)
    manager.register(Plugin(), name="broken-plugin")
    with pytest.raises(norq.PluginError, match="names a type pydantic cannot resolve"):
        provider_registry(manager)


def test_a_validator_raising_type_error_becomes_a_config_error() -> None:
    class TypeErrorConfig(norq.ProviderConfig):
        key: str

        @field_validator("key")
        @classmethod
        def _buggy(cls, value: str) -> str:
            raise TypeError(f"cannot handle {value}")

    class Buggy(norq.Provider[TypeErrorConfig]):
        name = "buggy"
        channels = frozenset({"sms"})

        def prepare_send(self, message: norq.Message) -> norq.PreparedRequest:
            raise NotImplementedError

    class Plugin:
        @norq.hookimpl
        def register_providers(self, register: Register) -> None:
            register(Buggy)

    manager = get_plugin_manager(load_entry_points=False)
    manager.register(Plugin(), name="buggy-plugin")
    with pytest.raises(norq.ConfigError) as caught:
        load(manager, {"key": "hunter2-secret"}, providers={"buggy": {"config": {"key": "x2"}}})
    ((path, reason),) = caught.value.errors
    assert path == "providers.buggy.config"
    assert "failed with TypeError" in reason
    assert "x2" not in str(caught.value)


def test_a_plain_base_model_still_gets_unknown_keys_reported() -> None:
    class Loose(BaseModel):  # extra="ignore", pydantic's default
        url: str

    class LooseProvider(norq.Provider[Loose]):
        name = "loose"
        channels = frozenset({"sms"})

        def prepare_send(self, message: norq.Message) -> norq.PreparedRequest:
            raise NotImplementedError

    class Plugin:
        @norq.hookimpl
        def register_providers(self, register: Register) -> None:
            register(LooseProvider)

    manager = get_plugin_manager(load_entry_points=False)
    manager.register(Plugin(), name="loose-plugin")
    errors = errors_of(manager, None, providers={"loose": {"config": {"url": "u", "ulr": "v"}}})
    assert errors == {"providers.loose.config.ulr": "unknown key; allowed keys: url"}


# -- one section's error does not hide another's (issue 15, item 8) -----------------------


def test_structural_errors_do_not_hide_the_other_sections(pm: pluggy.PluginManager) -> None:
    document = {
        "executor": {"timeout": "soon", "max_conections": 4},
        "webhooks": {"public_url": "hooks.example.com"},
        "providers": {
            "sample": {"config": {"count": 0}, "retyr": {"max_retries": 1}},
            "other": {"type": "sample", "config": {"name": "n"}, "retry": "often"},
        },
        "routing": {"sms": ["sample", "ghost"], "email": 5},
        "templates": {"otp": {"sms": {"body": "{{ unclosed"}}},
    }
    paths = list(errors_of(pm, None, **document))
    assert paths == [
        "executor.timeout",
        "executor.max_conections",
        "webhooks.public_url",
        "providers.sample.retyr",
        "providers.sample.config.name",
        "providers.sample.config.count",
        "providers.other.retry",
        "routing.email",
        "routing.sms",
        "templates.otp.sms.body",
    ]


def test_a_section_of_the_wrong_kind_is_reported_with_the_rest(
    pm: pluggy.PluginManager,
) -> None:
    errors = errors_of(pm, {"count": 0}, executor=["fast"], routing="sample")
    assert errors == {
        "executor": "expected a mapping, got a list",
        "providers.sample.config.name": "required, but missing",
        "providers.sample.config.count": "must be from 1 to 10",
        "routing": "expected a mapping of channels, got text",
    }


# -- where: file:line:col ----------------------------------------------------------------


def test_errors_from_a_yaml_file_carry_file_line_and_column(
    tmp_path: Path, pm: pluggy.PluginManager
) -> None:
    path = tmp_path / "norq.yaml"
    path.write_text(
        "executor:\n  timeout: soon\nproviders:\n  sample:\n    config:\n      count: 0\n"
    )
    with pytest.raises(norq.ConfigError) as caught:
        norq.Norq.from_yaml(path, plugin_manager=pm, environ={})
    assert str(caught.value).splitlines() == [
        f"{path}:2:3: executor.timeout: expected a number, got text",
        # A missing key is placed at the mapping that lacks it.
        f"{path}:5:5: providers.sample.config.name: required, but missing",
        f"{path}:6:7: providers.sample.config.count: must be from 1 to 10",
    ]
    assert caught.value.locations["executor.timeout"] == f"{path}:2:3"


# -- secrets -----------------------------------------------------------------------------


class SmtpAuth(BaseModel):
    username: str
    password: str  # not typed SecretStr: found by its name


class FuturePluginsConfig(BaseModel):
    """What SendGrid, Vonage, Slack and SMTP plugins would declare."""

    api_key: SecretStr
    api_secret: SecretStr
    bot_token: str
    smtp: SmtpAuth
    fallbacks: list[SecretStr] = Field(default_factory=list)
    headers: dict[str, str] = Field(default_factory=dict)
    region: str = "eu"
    key_sid: str = "not-a-secret"


def test_every_secret_in_any_provider_config_is_found() -> None:
    config = FuturePluginsConfig(
        api_key=SecretStr("SG.key"),
        api_secret=SecretStr("vonage-secret"),
        bot_token="xoxb-slack",
        smtp=SmtpAuth(username="mailer", password="smtp-pass"),
        fallbacks=[SecretStr("spare-1")],
        headers={"Authorization": "Bearer header-token", "X-Trace": "on"},
    )
    assert sorted(secrets_in(config)) == sorted(
        ["SG.key", "vonage-secret", "xoxb-slack", "smtp-pass", "spare-1", "Bearer header-token"]
    )


def test_secrets_never_show_in_the_models_repr() -> None:
    text = repr(SampleConfig(name="n", token=SecretStr("s3cr3t-value")))
    assert "s3cr3t" not in text


# Hypothesis also tries the code's own string constants ("a number"), which an
# error may rightly contain; the "§" keeps the value from being error wording.
@given(st.text(min_size=8, max_size=40).filter(lambda text: text.strip() == text).map("§".__add__))
def test_rejected_values_are_never_repeated_in_errors(value: str) -> None:
    # A secret pasted into the wrong key must not end up in a log.
    manager = get_plugin_manager(load_entry_points=False)
    manager.register(SamplePlugin(), name="sample-plugin")
    for key in ("count", "ratio", "enabled", "inner", "labels", "choice", "token"):
        wrong: Any = {"x": value} if key == "token" else value
        try:
            load(manager, {"name": "n", key: wrong})
        except norq.ConfigError as exc:  # some text is a valid number: nothing to check then
            assert value not in str(exc)  # noqa: PT017
            assert value not in repr(exc.errors)  # noqa: PT017
