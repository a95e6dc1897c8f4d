"""Which providers serve a notification, and the message they receive.

The router checks everything about a notification that can be checked before
a request exists: the channel is routed, the recipient is well formed, the
body or template is given and renders, per-message fields are understood.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from norq.errors import MessageError
from norq.message import EMPTY, Message, check_body, check_recipient
from norq.provider import Provider
from norq.templates import Templates

ANY_FIELD = "*"


class Router:
    def __init__(
        self,
        routing: Mapping[str, tuple[str, ...]],
        providers: Mapping[str, Provider],
        templates: Templates,
    ) -> None:
        self._routing = routing
        self._providers = providers
        self._templates = templates
        self._chains = {
            channel: tuple(providers[name] for name in chain) for channel, chain in routing.items()
        }
        self._template_keys = {
            (name, channel) for name in templates.names() for channel in templates.channels_of(name)
        }

    def route(self, channel: str, provider: str | None = None) -> tuple[Provider, ...]:
        """The providers to try, in failover order, for ``channel``."""
        if provider is not None:
            chosen = self._providers.get(provider)
            if chosen is None:
                known = ", ".join(sorted(self._providers)) or "none are configured"
                raise MessageError(f"unknown provider {provider!r}; configured providers: {known}")
            if not chosen.supports(channel):
                raise MessageError(
                    f"provider {provider!r} does not support channel {channel!r}; it serves: "
                    + ", ".join(sorted(chosen.channels))
                )
            return (chosen,)
        chain = self._chains.get(channel)
        if chain is None:
            routed = ", ".join(sorted(self._chains)) or "none"
            raise MessageError(
                f"channel {channel!r} is not routed (routed channels: {routed}); add "
                f"`routing: {{{channel}: <provider>}}` to the config"
            )
        return chain

    def plan(
        self, channel: str, provider: str | None, body: str | None, template: str | None
    ) -> tuple[Provider, ...]:
        """The providers for a notification, after the checks every recipient shares."""
        chain = self.route(channel, provider)
        self.check_content(channel, body, template)
        return chain

    def check_content(self, channel: str, body: str | None, template: str | None) -> None:
        """Checks that hold for every recipient of a notification: run them once."""
        if body is not None and template is not None:
            raise MessageError("pass either body= or template=, not both")
        if template is None:
            if body is None or body == "":
                raise MessageError(
                    f"{channel} notification has no content: pass a non-empty body= or a "
                    "template= from the config"
                )
            check_body(body, source="body=")
            return
        if (template, channel) not in self._template_keys:
            # Reuse the renderer's own message for an unknown template/channel.
            self._templates.render(template, channel, {})

    def compose(
        self,
        channel: str,
        to: object,
        chain: tuple[Provider, ...],
        *,
        body: str | None,
        template: str | None,
        data: Mapping[str, Any] | None,
        fields: Mapping[str, Any],
    ) -> Message:
        """Build and check the message for one recipient; raise MessageError if bad."""
        recipient = check_recipient(channel, to)
        extra: Mapping[str, Any] = fields
        if template is not None:
            rendered = self._templates.render(template, channel, data or EMPTY)
            body = rendered.pop("body", None)
            if body is not None:
                check_body(body, source=f"template {template!r} rendered a body that")
            if rendered:
                extra = {**rendered, **fields}
        message = Message(channel=channel, to=recipient, body=body, fields=extra or EMPTY)
        for provider in chain:
            _check_fields(provider, message)
            provider.check_message(message)
        return message


def _check_fields(provider: Provider, message: Message) -> None:
    accepted = provider.message_fields
    if not message.fields or ANY_FIELD in accepted:
        return
    unknown = set(message.fields).difference(accepted)
    if unknown:
        allowed = ", ".join(sorted(accepted)) or "none"
        raise MessageError(
            f"provider {provider.instance!r} does not understand "
            + ", ".join(repr(name) for name in sorted(unknown))
            + f" (per-message options it accepts: {allowed})"
        )
