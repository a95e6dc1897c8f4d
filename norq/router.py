"""Which providers serve a notification, and the message each of them receives.

The router checks what a :class:`~norq.notification.Notification` needs from
the configuration before a request exists: the channel is routed, the
template exists and renders, the recipient is in the format its providers
declare, per-message fields are understood. The notification checked its own
shape (a recipient at all, body or template).

Each provider of a failover chain gets the message composed for it: the
template rendered with its markup's escaping (``Provider.text_escape``) and
checked by it alone (its recipient format, ``message_fields`` and
``check_message``). A provider that cannot take this message is skipped, not
a reason to refuse it: only the providers that will send check the message.
It is refused when none can take it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from norq.errors import MessageError, TemplateError
from norq.formats import AddressFormat
from norq.message import EMPTY, Message, check_body
from norq.notification import Notification
from norq.provider import Provider
from norq.templates import Escape, Templates

ANY_FIELD = "*"


@dataclass(frozen=True, slots=True)
class Leg:
    """A provider of the chain and the message composed for it."""

    provider: Provider
    message: Message


@dataclass(frozen=True, slots=True)
class Skip:
    """A provider of the chain that cannot take this message, and why."""

    provider: Provider
    error: MessageError


@dataclass(frozen=True, slots=True)
class Composed:
    """A notification composed for each provider of its chain, in failover order.

    Built by :meth:`Router.compose`, which guarantees at least one :class:`Leg`.
    """

    channel: str
    to: str
    steps: tuple[Leg | Skip, ...]

    @property
    def first(self) -> Leg:
        """The leg that is sent first."""
        return next(step for step in self.steps if isinstance(step, Leg))


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
        """The providers for a notification, after the checks every recipient shares.

        At least one provider of the chain must take the notification's
        options; the others are skipped for each message.
        """
        chain = self.route(notification.channel, notification.provider)
        refusals = [_refusal(provider, notification) for provider in chain]
        if all(refusals):
            raise _none_can(chain, [error for error in refusals if error is not None])
        template = notification.template
        if template is not None and (template, notification.channel) not in self._template_keys:
            # Reuse the renderer's own message for an unknown template/channel.
            self._templates.render(template, notification.channel, {})
        return chain

    def compose(self, notification: Notification, chain: tuple[Provider, ...]) -> Composed:
        """The message for each provider of ``chain`` that can take it; MessageError if none can.

        A template is rendered once per escaping in the chain (most chains
        share one), and each provider checks its own message.
        """
        channel, to = notification.channel, notification.to
        if to is None:
            raise MessageError(f"{channel} notification has no recipient", code="invalid_recipient")
        rendered: dict[Escape | None, Message] = {}
        formats: dict[int, MessageError | None] = {}
        steps: list[Leg | Skip] = []
        for provider in chain:
            try:
                # Each provider owns its recipients' format; a chain usually shares one.
                address_format = provider.recipient_format(channel)
                if address_format is not None:
                    key = id(address_format)
                    if key not in formats:
                        formats[key] = _refused_by(address_format, to)
                    refusal = formats[key]
                    if refusal is not None:
                        raise refusal
                escape = provider.text_escape(notification.fields)
                message = rendered.get(escape)
                if message is None:
                    # A template that does not render fails for every provider: raised.
                    message = rendered[escape] = self._message(notification, to, escape)
                _check_fields(provider, message.fields)
                provider.check_message(message)
            except TemplateError:
                raise
            except MessageError as exc:
                steps.append(Skip(provider, exc))
            else:
                steps.append(Leg(provider, message))
        if not any(isinstance(step, Leg) for step in steps):
            raise _none_can(chain, [step.error for step in steps if isinstance(step, Skip)])
        return Composed(channel, to, tuple(steps))

    def _message(self, notification: Notification, to: str, escape: Escape | None) -> Message:
        body = notification.body
        extra: Mapping[str, Any] = notification.fields
        if notification.template is not None:
            rendered = self._templates.render(
                notification.template, notification.channel, notification.data, escape
            )
            body = rendered.pop("body", None)
            if body is not None:
                check_body(body, source=f"template {notification.template!r} rendered a body that")
            if rendered:
                extra = {**rendered, **notification.fields}
        return Message(
            channel=notification.channel,
            to=to,
            body=body,
            fields=extra or EMPTY,
            template=notification.template,
            data=notification.data,
        )


def _refused_by(address_format: AddressFormat, to: str) -> MessageError | None:
    """Why ``to`` is not in ``address_format``, or ``None``."""
    try:
        address_format.check_recipient(to)
    except MessageError as exc:
        return exc
    return None


def _refusal(provider: Provider, notification: Notification) -> MessageError | None:
    """Why ``provider`` cannot take any message of ``notification``, or ``None``."""
    try:
        _check_fields(provider, notification.fields)
    except MessageError as exc:
        return exc
    return None


def _none_can(chain: tuple[Provider, ...], errors: list[MessageError]) -> MessageError:
    """The first provider's refusal, and the others' when they differ."""
    first = errors[0]
    others = [
        f"{provider.instance}: {error}"
        for provider, error in zip(chain[1:], errors[1:], strict=True)
        if str(error) != str(first)
    ]
    if not others:
        return first
    return MessageError(
        f"{first}; no other provider of the failover chain can take it either ("
        + "; ".join(others)
        + ")",
        code=first.code,
    )


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
