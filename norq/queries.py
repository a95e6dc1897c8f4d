"""Status queries: one message's status, and listings followed page by page.

The provider describes each request and reads each answer
(``prepare_status`` / ``read_status``, ``prepare_list`` / ``read_page``), the
executor sends them; a failed query raises :class:`norq.QueryError`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

from norq.errors import MessageError, QueryError
from norq.provider import MessageQuery, MessageStatus, Provider

if TYPE_CHECKING:
    from norq.executor import Executor
    from norq.receipt import Outcome
    from norq.request import PreparedRequest
    from norq.throttle import Throttle


def status(
    executor: Executor, provider: Provider, message_id: str, throttle: Throttle | None = None
) -> MessageStatus:
    """Fetch one message's current status from ``provider``."""
    outcome = executor.send(provider.prepare_status(message_id), throttle=throttle)
    _raise_for_query(outcome, f"fetching {message_id} from {provider.instance}")
    return provider.read_status(outcome.data)


def messages(
    executor: Executor,
    provider: Provider,
    query: MessageQuery,
    limit: int | None,
    throttle: Throttle | None = None,
) -> Iterator[MessageStatus]:
    """Sent messages matching ``query``, fetched page by page as they are consumed.

    A bad query raises here; the first page is fetched on the first ``next()``.
    """
    return _pages(executor, provider, provider.prepare_list(query), limit, throttle)


def _pages(
    executor: Executor,
    provider: Provider,
    request: PreparedRequest | None,
    limit: int | None,
    throttle: Throttle | None,
) -> Iterator[MessageStatus]:
    produced = 0
    while request is not None:
        if limit is not None and produced >= limit:
            return  # do not fetch a page nobody will read
        outcome = executor.send(request, throttle=throttle)
        _raise_for_query(outcome, f"listing messages from {provider.instance}")
        page = provider.read_page(outcome.data)
        for item in page.items:
            if limit is not None and produced >= limit:
                return
            produced += 1
            yield item
        request = page.next_request


def query_provider(providers: Mapping[str, Provider], name: str | None) -> Provider:
    """The provider named ``name``, or the only configured one that supports queries."""
    if name is not None:
        found = providers.get(name)
        if found is None:
            known = ", ".join(sorted(providers)) or "none are configured"
            raise MessageError(f"unknown provider {name!r}; configured providers: {known}")
        return found
    capable = [p for p in providers.values() if _supports_queries(p)]
    if len(capable) == 1:
        return capable[0]
    if not capable:
        raise MessageError("no configured provider supports status queries")
    names = ", ".join(p.instance for p in capable)
    raise MessageError(f"several providers support status queries ({names}); pick one")


def _supports_queries(provider: Provider) -> bool:
    return type(provider).prepare_status is not Provider.prepare_status


def _raise_for_query(outcome: Outcome, what: str) -> None:
    if outcome.ok:
        return
    error = outcome.error
    detail = f"{error.code}: {error.message}" if error else "failed"
    raise QueryError(f"{what} failed: {detail}", error)
