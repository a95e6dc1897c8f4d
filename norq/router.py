"""Which providers serve a notification, and the message they receive.

The router checks what a :class:`~norq.notification.Notification` needs from
the configuration before a request exists: the channel is routed, the
template exists and renders, the recipient is in the format its providers
declare, per-message fields are understood. The notification checked its own
shape (a recipient at all, body or template).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from norq.errors import MessageError
from norq.message import EMPTY, Message, check_body
from norq.notification import Notification
from norq.provider import Provider
from norq.templates import Templates

ANY_FIELD = "*"


class Router:
    def __init__(
        self,
        routing: Mapping[str, tuple[str, ...]],
        providers: Mapping[str, Provider],
        templates: Templates,
        *,
        origin: str = "",
    ) -> None:
        # Where the config came from, said when a channel is not routed: the
        # usual cause is a missing file or a misspelt variable, not the routing.
        self._origin = origin
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
            looked = f". {self._origin}" if self._origin else ""
            raise MessageError(
                f"channel {channel!r} is not routed (routed channels: {routed}); add "
                f"`routing: {{{channel}: <provider>}}` to the config{looked}"
            )
        return chain

    def plan(self, notification: Notification) -> tuple[Provider, ...]:
        """The providers for a notification, after the checks every recipient shares."""
        chain = self.route(notification.channel, notification.provider)
        for provider in chain:
            _check_fields(provider, notification.fields)
        template = notification.template
        if template is not None and (template, notification.channel) not in self._template_keys:
            # Reuse the renderer's own message for an unknown template/channel.
            self._templates.render(template, notification.channel, {})
        return chain

    def compose(self, notification: Notification, chain: tuple[Provider, ...]) -> Message:
        """Build and check the message for an addressed notification; MessageError if bad."""
        channel, to = notification.channel, notification.to
        if to is None:
            raise MessageError(f"{channel} notification has no recipient", code="invalid_recipient")
        checked = None
        for provider in chain:
            # Each provider owns its recipients' format; a chain usually shares one.
            address_format = provider.recipient_format(channel)
            if address_format is not None and address_format is not checked:
                address_format.check_recipient(to)
                checked = address_format
        body = notification.body
        extra: Mapping[str, Any] = notification.fields
        if notification.template is not None:
            rendered = self._templates.render(notification.template, channel, notification.data)
            body = rendered.pop("body", None)
            if body is not None:
                check_body(body, source=f"template {notification.template!r} rendered a body that")
            if rendered:
                extra = {**rendered, **notification.fields}
        message = Message(
            channel=channel,
            to=to,
            body=body,
            fields=extra or EMPTY,
            template=notification.template,
            data=notification.data,
        )
        for provider in chain:
            _check_fields(provider, message.fields)
            provider.check_message(message)
        return message


def _check_fields(provider: Provider, fields: Mapping[str, Any]) -> None:
    accepted = provider.message_fields
    if not fields or ANY_FIELD in accepted:
        return
    unknown = set(fields).difference(accepted)
    if unknown:
        allowed = ", ".join(sorted(accepted)) or "none"
        raise MessageError(
            f"provider {provider.instance!r} does not understand "
            + ", ".join(repr(name) for name in sorted(unknown))
            + f" (per-message options it accepts: {allowed})"
        )
