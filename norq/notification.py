"""One notification as the caller asks for it: the value that travels the whole path.

A :class:`Notification` is checked once, when it is built (:class:`norq.MessageError`
for bad input), and the router, the delivery flow, the dry run and the CLI all
take it as it is. Checks that need the configuration (is the channel routed,
does the template exist, does the provider accept these fields) are the
router's. ``to`` is ``None`` only for the shared part of a bulk send, which
:meth:`Notification.for_recipient` addresses once per recipient.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from norq.errors import MessageError
from norq.message import EMPTY, check_address, check_body

# Jinja2's expression and statement delimiters, as written in a template.
_TEMPLATE_SYNTAX = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.DOTALL)

#: The keyword arguments that say what to send; any other is a per-message option.
CONTENT_KEYWORDS = frozenset({"body", "template", "data", "provider"})


@dataclass(frozen=True, slots=True)
class Notification:
    """Channel, recipient, content (``body``, or ``template`` + ``data``) and options.

    ``fields`` are per-message options the provider understands
    (``media_urls``, ``subject``); ``provider`` skips the routing.
    """

    channel: str
    to: str | None
    body: str | None = None
    template: str | None = None
    data: Mapping[str, Any] = field(default_factory=lambda: EMPTY)
    fields: Mapping[str, Any] = field(default_factory=lambda: EMPTY)
    provider: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.channel, str) or not self.channel:
            raise MessageError(f"channel must be a non-empty string, got {self.channel!r}")
        if self.body is not None and self.template is not None:
            raise MessageError("pass either body= or template=, not both")
        if self.template is None:
            # Options alone may be the content (a data-only push, a template
            # stored at the provider such as SendGrid's template_id): the router
            # and the providers decide, so only options are needed here.
            if self.body == "" or (self.body is None and not self.fields):
                raise MessageError(
                    f"{self.channel} notification has no content: pass a non-empty body=, a "
                    "template= from the config, or the options that stand for one (SendGrid: "
                    "template_id=)"
                )
            if self.body is not None:
                check_body(self.body, source="body=")
                _check_not_a_template(self.body)
        for name in ("template", "provider"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise MessageError(f"{name}= must be a string, got {type(value).__name__}")
        for name in ("data", "fields"):
            value = getattr(self, name)
            if value is None:
                object.__setattr__(self, name, EMPTY)
            elif not isinstance(value, Mapping):
                raise MessageError(f"{name}= must be a mapping, got {type(value).__name__}")
        if self.to is not None:
            check_address(self.to)

    @classmethod
    def from_keywords(
        cls, channel: str | None, to: str | None, content: Mapping[str, Any]
    ) -> Notification:
        """The notification a verb's keyword arguments describe (``notify(channel, to, ...)``).

        ``content`` holds ``body``, ``template``, ``data`` and ``provider``;
        every other keyword is a per-message option for the provider.
        """
        if channel is None:
            raise MessageError(
                "pass a channel, or notification= to send a multi-channel notification"
            )
        get = content.get
        fields = {key: value for key, value in content.items() if key not in CONTENT_KEYWORDS}
        data = get("data") or EMPTY
        return cls(channel, to, get("body"), get("template"), data, fields, get("provider"))

    def for_recipient(
        self,
        to: str,
        data: Mapping[str, Any] | None = None,
        fields: Mapping[str, Any] | None = None,
    ) -> Notification:
        """This notification for ``to``; its own ``data`` and ``fields`` win over the shared."""
        merged_data = {**self.data, **data} if data else self.data
        merged_fields = {**self.fields, **fields} if fields else self.fields
        return Notification(
            self.channel,
            to,
            body=self.body,
            template=self.template,
            data=merged_data,
            fields=merged_fields,
            provider=self.provider,
        )


def _check_not_a_template(body: str) -> None:
    """A body is sent as written; one that looks like a template would reach every
    recipient with its ``{{ ... }}`` unfilled, so it is refused with the way to fill it."""
    if "{" not in body:
        return
    found = _TEMPLATE_SYNTAX.search(body)
    if found is not None:
        raise MessageError(
            f"the body holds template syntax ({found[0][:40]}), but a body is sent exactly as "
            "written, never filled in from data: put the text under templates: in the config "
            "and send it with template=NAME (norq send: --template NAME), whose variables "
            "come from data (and from the columns of a --csv file)"
        )
