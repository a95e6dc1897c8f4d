"""Plugin discovery: built-ins and entry points through one hook."""

from __future__ import annotations

import subprocess
import sys
import types
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import respx

import norq
from norq.plugins import (
    DEFAULT_PLUGINS,
    get_plugin_manager,
    plugin_listing,
    provider_registry,
)
from tests.conftest import AcmeProvider

Register = Callable[[type[norq.Provider]], None]


def test_builtin_providers_come_through_the_same_hook() -> None:
    registry = provider_registry(get_plugin_manager(load_entry_points=False))
    assert registry["console"].plugin == "norq.providers.console"
    assert registry["console"].distribution == "norq"
    assert set(DEFAULT_PLUGINS) <= {name for name, _ in get_plugin_manager().list_name_plugin()}


def test_installed_plugin_is_discovered_through_its_entry_point() -> None:
    # plugins/norq-example is pip-installed by `make test`; nothing registers it by hand.
    registry = provider_registry(get_plugin_manager())
    example = registry["json_webhook"]
    assert (example.plugin, example.distribution, example.version) == (
        "example",
        "norq-example",
        "0.1.0",
    )


@respx.mock
def test_plugin_provider_sends_through_the_shared_executor() -> None:
    route = respx.post("https://hooks.test/notify").mock(
        return_value=httpx.Response(200, json={"id": "w-1"})
    )
    app = norq.Norq.from_dict(
        {
            "providers": {
                "alerts": {
                    "type": "json_webhook",
                    "config": {"url": "https://hooks.test/notify", "token": "tok"},
                }
            },
            "routing": {"chat": "alerts"},
        },
        environ={},
    )
    receipt = app.notify("chat", "#ops", body="deploy done", severity="info")
    assert receipt.message_id == "w-1"
    sent = route.calls.last.request
    assert sent.headers["authorization"] == "Bearer tok"
    assert sent.content == b'{"channel":"chat","to":"#ops","body":"deploy done","severity":"info"}'


def test_norq_load_plugins_restricts_third_party_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NORQ_LOAD_PLUGINS", "")
    registry = provider_registry(get_plugin_manager())
    assert "json_webhook" not in registry
    assert "console" in registry
    monkeypatch.setenv("NORQ_LOAD_PLUGINS", "norq-example")
    assert "json_webhook" in provider_registry(get_plugin_manager())


def test_register_providers_is_called_through_pm_hook_so_wrappers_see_it() -> None:
    seen: list[str] = []

    class Wrapper:
        @norq.hookimpl(wrapper=True)
        def register_providers(self, register: Register) -> Iterator[None]:
            seen.append("before")
            yield
            seen.append("after")

    pm = get_plugin_manager(load_entry_points=False)
    pm.register(Wrapper(), name="wrapper")
    traced: list[str] = []
    undo = pm.add_hookcall_monitoring(lambda name, *_: traced.append(name), lambda *_: None)
    try:
        assert "console" in provider_registry(pm)
    finally:
        undo()
    assert seen == ["before", "after"]
    assert traced == ["register_providers"]


def test_a_plugin_registering_through_a_helper_is_still_credited() -> None:
    def add_all(register: Register) -> None:
        register(AcmeProvider)

    class Plugin:
        @norq.hookimpl
        def register_providers(self, register: Register) -> None:
            add_all(register)

    pm = get_plugin_manager(load_entry_points=False)
    pm.register(Plugin(), name="helpful")
    assert provider_registry(pm)["acme"].plugin == "helpful"


def test_throwaway_plugin_registers_a_provider() -> None:
    class Plugin:
        @norq.hookimpl
        def register_providers(self, register: Register) -> None:
            register(AcmeProvider)

    pm = get_plugin_manager()
    plugin = Plugin()
    pm.register(plugin, name="throwaway")
    try:
        entry = provider_registry(pm)["acme"]
        assert (entry.cls, entry.plugin) == (AcmeProvider, "throwaway")
        listing = {item["name"]: item for item in plugin_listing(pm)}
        assert listing["throwaway"]["providers"] == ["acme"]
        assert listing["throwaway"]["hooks"] == ["register_providers"]
    finally:
        pm.unregister(plugin)


def test_two_plugins_claiming_one_provider_name_is_an_error() -> None:
    class Impostor(AcmeProvider):
        pass

    class First:
        @norq.hookimpl
        def register_providers(self, register: Register) -> None:
            register(AcmeProvider)

    class Second:
        @norq.hookimpl
        def register_providers(self, register: Register) -> None:
            register(Impostor)

    pm = get_plugin_manager(load_entry_points=False)
    pm.register(First(), name="first")
    pm.register(Second(), name="second")
    with pytest.raises(norq.PluginError, match="'acme' is registered twice"):
        provider_registry(pm)


def test_registering_something_that_is_not_a_provider_is_an_error() -> None:
    class Bad:
        @norq.hookimpl
        def register_providers(self, register: Register) -> None:
            register(dict)  # type: ignore[arg-type]

    pm = get_plugin_manager(load_entry_points=False)
    pm.register(Bad(), name="bad")
    with pytest.raises(norq.PluginError, match=r"not a norq\.Provider"):
        provider_registry(pm)


def test_plugin_manager_per_norq_is_independent() -> None:
    first, second = get_plugin_manager(), get_plugin_manager()
    assert first is not second


def test_public_names_are_norq_objects_listed_once() -> None:
    # The list is norq/_api.py; here only what every entry must satisfy.
    from norq import _api

    # Norq ships a pytest plugin (the norq_fake fixture), so pytest rewrites the
    # asserts of its modules and adds names like "@py_builtins" that are no identifiers.
    listed = sorted(n for n in vars(_api) if n.isidentifier() and not n.startswith("_"))
    assert norq.__all__ == [*listed, "__version__"]
    for name in norq.__all__[:-1]:
        value = getattr(norq, name)
        assert value is getattr(_api, name)
        assert not isinstance(value, types.ModuleType), name


def test_the_public_names_load_from_a_zipped_package(tmp_path: Path) -> None:
    # Nothing reads norq's own source files to find its names: a zip (or a
    # build that ships only .pyc files) loads them like a checkout does.
    archive = tmp_path / "norq.zip"
    package = Path(norq.__file__).parent
    with zipfile.ZipFile(archive, "w") as zipped:
        for source in package.rglob("*.py"):
            zipped.write(source, source.relative_to(package.parent))
    code = "import norq; print(norq.__file__, norq.Receipt.__module__, len(norq.__all__))"
    result = subprocess.run(
        [sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(archive)!r}); {code}"],
        capture_output=True,
        text=True,
        check=True,
    )
    where, module, count = result.stdout.split()
    assert where.startswith(str(archive))
    assert (module, int(count)) == ("norq.receipt", len(norq.__all__))


def test_private_and_unknown_names_are_not_exported() -> None:
    with pytest.raises(AttributeError, match="no attribute 'logger'"):
        norq.logger  # noqa: B018
    with pytest.raises(AttributeError):
        norq._public_secret  # type: ignore[attr-defined]  # noqa: B018


def test_exceptions_share_one_base() -> None:
    for name in ("ConfigError", "DeliveryError", "MessageError", "PluginError", "TemplateError"):
        assert issubclass(getattr(norq, name), norq.NorqError)


def test_importing_norq_is_cheap() -> None:
    code = (
        "import sys, norq; norq.__version__; "
        "print(sorted(m for m in ('pydantic', 'httpx', 'jinja2', 'aiohttp', 'yaml') "
        "if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_sending_without_templates_never_imports_jinja2(tmp_path: object) -> None:
    code = (
        "import io, sys, norq\n"
        "n = norq.Norq.from_dict({'providers': {'console': {}}, 'routing': {'sms': 'console'}},"
        " environ={}, console_stream=io.StringIO())\n"
        "n.notify('sms', '+15551234567', body='x')\n"
        "print('jinja2' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
