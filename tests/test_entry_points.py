"""Third-party plugins are real distributions, found by pluggy through the ``norq`` entry points.

Each test builds a wheel, installs it with pip into a directory of its own,
puts that directory on ``sys.path`` and lets ``get_plugin_manager()`` find it,
as it would find a plugin installed from a package index.
"""

from __future__ import annotations

import base64
import hashlib
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import respx

import norq
from norq.plugins import get_plugin_manager, plugin_listing, provider_registry

PLUGIN_SECRET = "wheel-sms-S3CRET/+="

# A plugin as a third party writes it: its own pydantic Config, an alias, a
# secret, a choice and a validator.
PLUGIN_SOURCE = """
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

import norq


class WheelSmsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_by_name=True)

    api_key: SecretStr = Field(description="API key from the dashboard")
    sender: str = Field(alias="from", description="Sender number")
    region: Literal["eu", "us"] = Field(default="eu", description="Data centre")

    @field_validator("sender")
    @classmethod
    def _plus(cls, value: str) -> str:
        if not value.startswith("+"):
            raise ValueError("must start with + (E.164)")
        return value


class WheelSmsProvider(norq.Provider[WheelSmsConfig]):
    name = "wheelsms"
    channels = frozenset({"sms"})
    env_prefix = "WHEELSMS"

    def prepare_send(self, message: norq.Message) -> norq.PreparedRequest:
        return norq.PreparedRequest(
            method="POST",
            url=f"https://{self.config.region}.wheelsms.test/send",
            headers=(("X-Key", self.config.api_key.get_secret_value()),),
            json={"from": self.config.sender, "to": message.to, "text": message.body},
            message_id_path="$.id",
            retry=self.retry,
        )


@norq.hookimpl
def register_providers(register):
    register(WheelSmsProvider)
"""


def build_wheel(
    directory: Path, dist: str, version: str, module: str, source: str, entry_points: str
) -> Path:
    """A minimal, valid wheel: the module, METADATA, WHEEL, entry_points.txt and RECORD."""
    info = f"{dist.replace('-', '_')}-{version}.dist-info"
    files = {
        f"{module}/__init__.py": source,
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: norq-tests\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
        f"{info}/entry_points.txt": entry_points,
    }
    record = []
    for name, text in files.items():
        digest = hashlib.sha256(text.encode()).digest()
        encoded = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        record.append(f"{name},sha256={encoded},{len(text.encode())}")
    record.append(f"{info}/RECORD,,")
    files[f"{info}/RECORD"] = "\n".join(record) + "\n"
    wheel = directory / f"{dist.replace('-', '_')}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return wheel


def pip_install(wheel: Path, site: Path) -> None:
    subprocess.run(
        [
            *(sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index"),
            *("--disable-pip-version-check", "--target", str(site), str(wheel)),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )


WHEELSMS = (
    "norq-wheelsms",
    "1.2.0",
    "norq_wheelsms",
    PLUGIN_SOURCE,
    "[norq]\nwheelsms = norq_wheelsms\n",
)


@pytest.fixture(scope="module")
def wheelsms_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """norq-wheelsms installed once per module; tests put it on sys.path themselves."""
    directory = tmp_path_factory.mktemp("wheelsms")
    pip_install(build_wheel(directory, *WHEELSMS), directory / "site")
    return directory / "site"


@pytest.fixture
def wheelsms(wheelsms_site: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.syspath_prepend(str(wheelsms_site))
    yield wheelsms_site
    sys.modules.pop("norq_wheelsms", None)


Install = Callable[..., Path]


@pytest.fixture
def install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Install]:
    """pip-install a wheel into a fresh directory on sys.path; forget its modules after."""
    site = tmp_path / "site"
    monkeypatch.syspath_prepend(str(site))
    modules: list[str] = []

    def install_wheel(dist: str, version: str, module: str, source: str, entry_points: str) -> Path:
        pip_install(build_wheel(tmp_path, dist, version, module, source, entry_points), site)
        modules.append(module)
        return site

    yield install_wheel
    for module in modules:
        sys.modules.pop(module, None)


DOCUMENT = {
    "providers": {
        "texts": {
            "type": "wheelsms",
            "config": {"api_key": PLUGIN_SECRET, "from": "+15005550006", "region": "us"},
        }
    },
    "routing": {"sms": "texts"},
}


@respx.mock
def test_an_installed_plugin_with_a_pydantic_config_is_routed_to(wheelsms: Path) -> None:
    route = respx.post("https://us.wheelsms.test/send").mock(
        return_value=httpx.Response(200, json={"id": "w-42"})
    )
    app = norq.Norq.from_dict(DOCUMENT, environ={})
    receipt = app.notify("sms", "+15551234567", body="hello from a wheel")
    assert (receipt.ok, receipt.provider, receipt.message_id) == (True, "texts", "w-42")
    sent = route.calls.last.request
    assert sent.headers["x-key"] == PLUGIN_SECRET
    assert (
        sent.content == b'{"from":"+15005550006","to":"+15551234567","text":"hello from a wheel"}'
    )
    # Its secret is found for redaction like a built-in provider's.
    assert PLUGIN_SECRET in app.config.secret_values()
    assert PLUGIN_SECRET not in app.redactor.text(f"X-Key: {PLUGIN_SECRET}")


def test_pluggy_reports_the_plugins_distribution_and_version(wheelsms: Path) -> None:
    pm = get_plugin_manager()
    entry = provider_registry(pm)["wheelsms"]
    assert (entry.plugin, entry.distribution, entry.version) == (
        "wheelsms",
        "norq-wheelsms",
        "1.2.0",
    )
    listing = {item["name"]: item for item in plugin_listing(pm)}
    assert listing["wheelsms"]["package"] == "norq-wheelsms"
    assert listing["wheelsms"]["providers"] == ["wheelsms"]
    assert listing["norq.providers.twilio"]["package"] == "norq"


def test_the_plugins_config_errors_are_norqs_config_errors(wheelsms: Path) -> None:
    document = {"providers": {"texts": {"type": "wheelsms", "config": {"from": "15005550006"}}}}
    with pytest.raises(norq.ConfigError) as caught:
        norq.Norq.from_dict(document, environ={})
    assert dict(caught.value.errors) == {
        "providers.texts.config.api_key": "required, but missing",
        "providers.texts.config.from": "must start with + (E.164)",
    }


def test_the_plugin_is_configured_from_the_environment_with_its_alias(wheelsms: Path) -> None:
    environ = {"NORQ_WHEELSMS_API_KEY": "k", "NORQ_WHEELSMS_FROM": "+15005550006"}
    app = norq.Norq.from_dict({}, environ=environ)
    assert app.providers["wheelsms"].config.sender == "+15005550006"  # type: ignore[attr-defined]
    assert app.routing == {"sms": ("wheelsms",)}


@pytest.mark.parametrize(
    ("allowed", "loaded"),
    [
        (None, True),
        ("norq-wheelsms", True),  # the distribution name
        ("norq_wheelsms", True),  # spelt as PEP 503 allows
        ("wheelsms", True),  # the entry-point name
        ("norq-example", False),
        ("", False),  # empty: no third-party plugin at all
    ],
)
def test_norq_load_plugins_restricts_what_pluggy_loads(
    wheelsms: Path, monkeypatch: pytest.MonkeyPatch, allowed: str | None, loaded: bool
) -> None:
    if allowed is None:
        monkeypatch.delenv("NORQ_LOAD_PLUGINS", raising=False)
    else:
        monkeypatch.setenv("NORQ_LOAD_PLUGINS", allowed)
    registry = provider_registry(get_plugin_manager())
    assert ("wheelsms" in registry) is loaded
    assert "twilio" in registry  # built-ins always load
    assert ("json_webhook" in registry) is (allowed in (None, "norq-example"))


def test_each_plugin_manager_loads_afresh_without_caches(
    install: Install, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NORQ_LOAD_PLUGINS", raising=False)
    assert "wheelsms" not in provider_registry(get_plugin_manager())
    install(
        "norq-wheelsms",
        "1.2.0",
        "norq_wheelsms",
        PLUGIN_SOURCE,
        "[norq]\nwheelsms = norq_wheelsms\n",
    )
    assert "wheelsms" in provider_registry(get_plugin_manager())


def test_a_broken_plugin_names_itself(install: Install, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NORQ_LOAD_PLUGINS", raising=False)
    install(
        "norq-broken",
        "0.1",
        "norq_broken",
        "import a_module_that_does_not_exist\n",
        "[norq]\nbroken = norq_broken\n",
    )
    with pytest.raises(norq.PluginError) as caught:
        get_plugin_manager()
    message = str(caught.value)
    assert "plugin 'broken' (entry point 'norq_broken' from norq-broken 0.1)" in message
    assert "a_module_that_does_not_exist" in message
    assert "NORQ_LOAD_PLUGINS" in message
    monkeypatch.setenv("NORQ_LOAD_PLUGINS", "norq-example")
    assert "json_webhook" in provider_registry(get_plugin_manager())
