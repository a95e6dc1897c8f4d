"""The docs runner's world, installed in every Python process an example starts.

``NORQ_DOCS_WORLD`` (JSON, set by tests/docs) says where the sandbox is. The
``http`` and ``http2`` transports then send requests for the providers' real
hosts (FCM's and APNs' too) to it,
and the ``smtp`` transport delivers to its SMTP server, so an example written for production
runs as written against the sandbox (mail is handed over without TLS or AUTH,
which the sandbox's SMTP server does not ask for). Everything else about the
request is left as the example built it.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from typing import Any

_PROVIDER_HOSTS = re.compile(
    r"^https://(?:[a-z0-9-]+\.)*"
    r"(?:(?:twilio|sendgrid|nexmo|vonage|slack|googleapis)\.com|push\.apple\.com|telegram\.org)"
    r"(?::443)?(?=/|$)"
)


def _install(world: dict[str, Any]) -> None:
    from norq.plugins import get_plugin_manager, transport_registry

    sandbox = world["url"]
    factories = transport_registry(get_plugin_manager())

    def aimed(request: Any) -> Any:
        url = _PROVIDER_HOSTS.sub(sandbox, request.url, count=1)
        return request if url == request.url else dataclasses.replace(request, url=url)

    _wrap(factories["http"], aimed)
    if "http2" in factories:
        _wrap(factories["http2"], aimed)
    if "smtp" in factories:
        host, port = world["smtp"]

        def delivered_locally(request: Any) -> Any:
            # The sandbox's SMTP server takes mail without TLS or AUTH.
            server = dataclasses.replace(
                request.server, host=host, port=port, security="none", username=None, password=None
            )
            return dataclasses.replace(request, server=server)

        _wrap(factories["smtp"], delivered_locally)


def _wrap(transport: Any, rewrite: Any) -> None:
    send, asend = transport.send, transport.asend

    def send_there(self: Any, request: Any) -> Any:
        return send(self, rewrite(request))

    async def asend_there(self: Any, request: Any) -> Any:
        return await asend(self, rewrite(request))

    transport.send, transport.asend = send_there, asend_there


if os.environ.get("NORQ_DOCS_WORLD"):
    _install(json.loads(os.environ["NORQ_DOCS_WORLD"]))
