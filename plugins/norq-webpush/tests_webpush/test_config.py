"""The VAPID key and the subscriptions, checked before any request; the key never quoted."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import given
from hypothesis import strategies as st
from norq_webpush import Subscription

import norq
from tests_webpush.conftest import SUBJECT, Browser, b64url, pem, raw_private, webpush_app

GOOD = Browser.at("https://push.example.net/s/1").subscription


def load(config: dict[str, Any]) -> norq.Norq:
    document = {"providers": {"webpush": {"config": config}}, "routing": {"push": "webpush"}}
    return norq.Norq.from_dict(document, environ={})


def config_error(config: dict[str, Any]) -> str:
    with pytest.raises(norq.ConfigError) as caught:
        load(config)
    return str(caught.value)


def test_the_key_inline_as_base64url_or_pem_or_in_a_file(
    vapid_key: ec.EllipticCurvePrivateKey, tmp_path: Path
) -> None:
    path = tmp_path / "vapid.pem"
    path.write_text(pem(vapid_key))
    keys = {
        load({"vapid_private_key": raw_private(vapid_key), "subject": SUBJECT}),
        load({"vapid_private_key": pem(vapid_key), "subject": SUBJECT}),
        load({"vapid_private_key_file": str(path), "subject": SUBJECT}),
    }
    assert len({app.providers["webpush"].public_key for app in keys}) == 1  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("config", "problem"),
    [
        ({"subject": SUBJECT}, "give the VAPID private key once"),
        ({"vapid_private_key": "not a key at all", "subject": SUBJECT}, "is not readable"),
        (
            {"vapid_private_key_file": "/nonexistent/vapid.pem", "subject": SUBJECT},
            "vapid_private_key_file",
        ),
        ({"vapid_private_key": "KEY", "subject": "ops@example.com"}, "mailto:ops@example.com"),
        ({"vapid_private_key": "KEY", "subject": "mailto:me@localhost"}, "must be a contact"),
        ({"vapid_private_key": "KEY", "subject": SUBJECT, "ttl": -1}, "ttl"),
        ({"vapid_private_key": "KEY", "subject": SUBJECT, "urgency": "urgent"}, "urgency"),
    ],
)
def test_config_errors_say_how_to_fix_them(
    vapid_key: ec.EllipticCurvePrivateKey, config: dict[str, Any], problem: str
) -> None:
    if config.get("vapid_private_key") == "KEY":
        config = {**config, "vapid_private_key": raw_private(vapid_key)}
    message = config_error(config)
    assert problem in message
    assert raw_private(vapid_key) not in message


def test_a_key_of_another_curve_is_refused_without_quoting_it() -> None:
    other = ec.generate_private_key(ec.SECP384R1())
    message = config_error({"vapid_private_key": pem(other), "subject": SUBJECT})
    assert "not a P-256 key" in message or "not readable" in message
    assert pem(other).splitlines()[1] not in message
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert "VAPID private key" in config_error(
        {"vapid_private_key": pem(rsa_key), "subject": SUBJECT}  # type: ignore[arg-type]
    )


def broken(**changes: Any) -> str:
    data = json.loads(GOOD)
    for path, value in changes.items():
        target = data
        *parents, last = path.split("__")
        for parent in parents:
            target = target[parent]
        if value is None:
            del target[last]
        else:
            target[last] = value
    return json.dumps(data)


@pytest.mark.parametrize(
    ("to", "problem"),
    [
        ("https://push.example.net/s/1", "it is not JSON"),
        ("[1, 2]", 'it is not a JSON object with "endpoint" and "keys"'),
        (broken(endpoint=None), 'it has no "endpoint"'),
        (broken(endpoint="ftp://push.example.net/s"), "its endpoint"),
        (broken(keys=None), 'it has no "keys"'),
        (broken(keys__auth=None), "it has no keys.auth"),
        (broken(keys__auth="!!!"), "keys.auth is not base64url"),
        (broken(keys__auth=b64url(b"short")), "keys.auth is 5 bytes, not 16"),
        (broken(keys__p256dh=b64url(b"\x04" + b"\x01" * 64)), "not a point on P-256"),
        (broken(keys__p256dh=b64url(b"\x02" + b"\x01" * 64)), "not an uncompressed P-256 point"),
    ],
)
def test_a_malformed_subscription_is_refused_before_any_request(
    vapid_key: ec.EllipticCurvePrivateKey, to: str, problem: str
) -> None:
    with webpush_app(vapid_key) as app, pytest.raises(norq.MessageError) as refused:
        app.prepare("push", to, body="hi")
    assert problem in str(refused.value)
    assert refused.value.code == "invalid_recipient"


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({"payload": {"a": 1}, "title": "t"}, "payload= is the whole push message"),
        ({"payload": 42}, "payload must be text, a mapping or a list"),
        ({"title": 3}, "title must be text"),
        ({"app_data": ["x"]}, "app_data must be a mapping"),
        ({"ttl": -5}, "ttl must be whole seconds"),
        ({"urgency": "now"}, "urgency must be one of very-low, low, normal, high"),
        ({"topic": "has spaces"}, "topic must be 1 to 32"),
        ({"topic": "x" * 33}, "topic must be 1 to 32"),
        ({"payload": {"bad": {1, 2}}}, "cannot be sent as JSON"),
    ],
)
def test_bad_options_are_refused_before_any_request(
    vapid_key: ec.EllipticCurvePrivateKey, options: dict[str, Any], problem: str
) -> None:
    body = None if "payload" in options else "hi"
    with webpush_app(vapid_key) as app, pytest.raises(norq.MessageError, match=problem):
        app.prepare("push", GOOD, body=body, **options)


def test_a_push_needs_something_to_show(vapid_key: ec.EllipticCurvePrivateKey) -> None:
    with webpush_app(vapid_key) as app:
        assert (
            app.prepare("push", GOOD, title="only a title").request.content
            == b'{"title":"only a title"}'
        )
        data_only = app.prepare("push", GOOD, app_data={"sync": "inbox"}).request.content
        assert data_only == b'{"data":{"sync":"inbox"}}'
        with pytest.raises(norq.MessageError, match="needs a body, a title, app_data= or payload="):
            app.prepare("push", GOOD, tag="nothing shown")


def reason(text: str) -> str | None:
    """Why ``text`` is not a subscription, or None if it is one."""
    try:
        Subscription.parse(text)
    except ValueError as exc:
        return str(exc)
    return None


@given(st.text(max_size=300))
def test_parsing_any_text_either_reads_a_subscription_or_says_why(text: str) -> None:
    why = reason(text)
    assert why is None or why.startswith(("it ", "its "))


@given(
    st.fixed_dictionaries(
        {
            "endpoint": st.sampled_from(["https://push.example.net/s/1", "http://127.0.0.1/x", ""]),
            "keys": st.fixed_dictionaries(
                {"p256dh": st.text(max_size=90), "auth": st.text(max_size=30)}
            ),
        }
    )
)
def test_keys_never_appear_in_the_reason(data: dict[str, Any]) -> None:
    why = reason(json.dumps(data)) or ""
    for key in data["keys"].values():
        if len(key) > 3:
            assert key not in why


def test_a_browser_subscription_is_read() -> None:
    found = Subscription.parse(GOOD)
    assert (len(found.p256dh), len(found.auth)) == (65, 16)
    assert found.audience == "https://push.example.net"
    assert repr(found) == "<Subscription at https://push.example.net>"
