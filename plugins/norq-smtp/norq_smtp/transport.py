"""The ``smtp`` transport: puts a :class:`PreparedEmail` on the wire, sync or async.

Sync sends use the standard library's :mod:`smtplib`, async ones aiosmtplib;
both run the same transaction (:func:`transaction`, MAIL FROM, RCPT TO per
recipient, DATA), so they behave alike. Connections are opened (TLS, EHLO,
AUTH) on first use and kept per server, so a bulk send logs in once and
reuses the connection for every message; async sends keep at most the
server's ``max_connections`` open. A kept connection the server closed while
it was idle is replaced once, transparently: nothing had been handed over.

The transport reports the server's last reply as a :class:`norq.Response`
(reply code, reply text, and the stage in the ``smtp-stage`` header), which
the provider's ``read_send`` reads; it never decides what a reply means.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Generator
from dataclasses import dataclass
from email.utils import formatdate
from typing import TYPE_CHECKING, Any, Literal

import norq
from norq_smtp.prepared import PreparedEmail, SmtpServer
from norq_smtp.replies import RECIPIENT_HEADER, STAGE_HEADER

if TYPE_CHECKING:
    import asyncio
    import smtplib
    import ssl

    import aiosmtplib

Stage = Literal["connect", "auth", "mail", "rcpt", "data"]
Reply = tuple[int, str]


@dataclass(frozen=True, slots=True)
class Command:
    """One step of a mail transaction: what to send at which stage."""

    stage: Stage
    argument: str | bytes


def transaction(email: PreparedEmail, data: bytes) -> Generator[Command, Reply, norq.Response]:
    """MAIL, RCPT per recipient, DATA; stops at the first refusal. Pure.

    Send each yielded command and send back its reply; the return value is
    the reply that ends the transaction. Every recipient must be accepted:
    a message that reaches only some of its recipients is reported failed.
    """
    code, text = yield Command("mail", email.envelope_from)
    if code != 250:
        return reply_response("mail", code, text)
    for address in email.envelope_to:
        code, text = yield Command("rcpt", address)
        if code not in (250, 251):
            return reply_response("rcpt", code, text, recipient=address)
    code, text = yield Command("data", data)
    return reply_response("data", code, text)


def reply_response(stage: Stage, code: int, text: str, *, recipient: str = "") -> norq.Response:
    headers: dict[str, str] = {STAGE_HEADER: stage}
    if recipient:
        headers[RECIPIENT_HEADER] = recipient
    return norq.Response(code, headers, text.encode("utf-8", "replace"))


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _detail(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


class _Stale:
    """A kept connection turned out closed before the message was handed over."""

    def __init__(self, detail: str) -> None:
        self.detail = detail


class SmtpTransport:
    """Sends :class:`PreparedEmail` descriptions; registered as the ``smtp`` transport."""

    def __init__(self, settings: norq.TransportSettings) -> None:
        self._settings = settings
        self._lock = threading.Lock()
        self._idle: dict[SmtpServer, list[smtplib.SMTP]] = {}
        self._contexts: dict[object, ssl.SSLContext] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._aidle: dict[SmtpServer, list[aiosmtplib.SMTP]] = {}
        self._slots: dict[SmtpServer, asyncio.Semaphore] = {}

    def _tls_context(self, server: SmtpServer) -> ssl.SSLContext:
        # Loading the trust store costs milliseconds: once per CA bundle.
        context = self._contexts.get(server.ca_file)
        if context is None:
            import ssl

            cafile = str(server.ca_file) if server.ca_file is not None else None
            context = self._contexts[server.ca_file] = ssl.create_default_context(cafile=cafile)
        return context

    # -- sync -------------------------------------------------------------

    def send(self, request: Any) -> norq.Response | norq.TransportFailure:
        email = _email(request)
        data = _with_date(email)
        with self._lock:
            kept = self._idle.get(email.server, [])
            connection = kept.pop() if kept else None
        if connection is not None:
            result = self._transact(connection, email, data)
            if not isinstance(result, _Stale):
                return result
        opened = self._open(email.server)
        if isinstance(opened, norq.Response | norq.TransportFailure):
            return opened
        result = self._transact(opened, email, data)
        if isinstance(result, _Stale):
            return norq.TransportFailure("connect", f"connection closed early: {result.detail}")
        return result

    def _open(self, server: SmtpServer) -> smtplib.SMTP | norq.Response | norq.TransportFailure:
        import smtplib

        from norq_smtp.bounded import BoundedSMTP, BoundedSMTP_SSL

        timeout = self._settings.connect_timeout
        limit = self._settings.max_response_bytes
        try:
            if server.security == "tls":
                connection: smtplib.SMTP = BoundedSMTP_SSL(
                    server.host,
                    server.port,
                    local_hostname=server.helo_name,
                    timeout=timeout,
                    context=self._tls_context(server),
                    reply_limit=limit,
                )
            else:
                connection = BoundedSMTP(
                    server.host,
                    server.port,
                    local_hostname=server.helo_name,
                    timeout=timeout,
                    reply_limit=limit,
                )
        except smtplib.SMTPConnectError as exc:
            return reply_response("connect", exc.smtp_code, _text(exc.smtp_error))
        except (OSError, smtplib.SMTPException) as exc:
            return norq.TransportFailure("connect", f"{server.host}:{server.port}: {_detail(exc)}")
        if connection.sock is not None:
            connection.sock.settimeout(self._settings.timeout)
        stage: Stage = "connect"
        try:
            connection.ehlo_or_helo_if_needed()
            if server.security == "starttls":
                if not connection.has_extn("starttls"):
                    connection.close()
                    return _not_offered(server, "STARTTLS")
                connection.starttls(context=self._tls_context(server))
                connection.ehlo()
            if server.username is not None and server.password is not None:
                stage = "auth"
                if not connection.has_extn("auth"):
                    connection.close()
                    return _not_offered(server, "AUTH")
                connection.login(server.username, server.password.get_secret_value())
        except smtplib.SMTPResponseException as exc:
            connection.close()
            return reply_response(stage, exc.smtp_code, _text(exc.smtp_error))
        except (OSError, smtplib.SMTPException) as exc:
            connection.close()
            return norq.TransportFailure("connect", f"{server.host}:{server.port}: {_detail(exc)}")
        return connection

    def _transact(
        self, connection: smtplib.SMTP, email: PreparedEmail, data: bytes
    ) -> norq.Response | norq.TransportFailure | _Stale:
        import smtplib

        steps = transaction(email, data)
        command = next(steps)
        try:
            while True:
                reply = _execute(connection, command)
                try:
                    command = steps.send(reply)
                except StopIteration as done:
                    response: norq.Response = done.value
                    break
        except (OSError, smtplib.SMTPServerDisconnected) as exc:
            connection.close()
            return _broken(command.stage, exc)
        self._release(connection, email.server, response.status)
        return response

    def _release(self, connection: smtplib.SMTP, server: SmtpServer, code: int) -> None:
        import smtplib

        if code != 250:
            # A refused transaction leaves the envelope half built; RSET
            # clears it so the connection can carry the next message.
            try:
                reusable = code != 421 and connection.rset()[0] == 250
            except (OSError, smtplib.SMTPException):
                reusable = False
            if not reusable:
                connection.close()
                return
        with self._lock:
            self._idle.setdefault(server, []).append(connection)

    def close(self) -> None:
        import smtplib

        with self._lock:
            kept = [connection for connections in self._idle.values() for connection in connections]
            self._idle.clear()
        for connection in kept:
            try:
                connection.quit()
            except (OSError, smtplib.SMTPException):
                connection.close()
        for clients in self._aidle.values():
            for client in clients:
                _abandon(client)
        self._aidle.clear()

    # -- async ------------------------------------------------------------

    async def asend(self, request: Any) -> norq.Response | norq.TransportFailure:
        email = _email(request)
        data = _with_date(email)
        idle, slot = self._async_pool(email.server)
        async with slot:
            client = idle.pop() if idle else None
            if client is not None:
                result = await self._atransact(client, email, data)
                if not isinstance(result, _Stale):
                    return result
            opened = await self._aopen(email.server)
            if isinstance(opened, norq.Response | norq.TransportFailure):
                return opened
            result = await self._atransact(opened, email, data)
        if isinstance(result, _Stale):
            return norq.TransportFailure("connect", f"connection closed early: {result.detail}")
        return result

    def _async_pool(self, server: SmtpServer) -> tuple[list[aiosmtplib.SMTP], asyncio.Semaphore]:
        import asyncio

        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            # Connections belong to the loop that opened them (a second
            # asyncio.run gets new ones).
            for clients in self._aidle.values():
                for client in clients:
                    _abandon(client)
            self._aidle.clear()
            self._slots.clear()
            self._loop = loop
        slot = self._slots.get(server)
        if slot is None:
            slot = self._slots[server] = asyncio.Semaphore(server.max_connections)
        return self._aidle.setdefault(server, []), slot

    async def _aopen(
        self, server: SmtpServer
    ) -> aiosmtplib.SMTP | norq.Response | norq.TransportFailure:
        import aiosmtplib

        tls = server.security == "tls"
        client = aiosmtplib.SMTP(
            hostname=server.host,
            port=server.port,
            local_hostname=server.helo_name,
            timeout=self._settings.timeout,
            use_tls=tls,
            start_tls=False,
            tls_context=self._tls_context(server) if tls else None,
        )
        try:
            await client.connect(timeout=self._settings.connect_timeout)
        except aiosmtplib.SMTPConnectResponseError as exc:
            return reply_response("connect", exc.code, exc.message)
        except (OSError, aiosmtplib.SMTPException) as exc:
            return norq.TransportFailure("connect", f"{server.host}:{server.port}: {_detail(exc)}")
        stage: Stage = "connect"
        try:
            await client.ehlo()
            if server.security == "starttls":
                if not client.supports_extension("starttls"):
                    client.close()
                    return _not_offered(server, "STARTTLS")
                await client.starttls(tls_context=self._tls_context(server))
                await client.ehlo()
            if server.username is not None and server.password is not None:
                stage = "auth"
                if not client.supports_extension("auth"):
                    client.close()
                    return _not_offered(server, "AUTH")
                await client.login(server.username, server.password.get_secret_value())
        except aiosmtplib.SMTPResponseException as exc:
            client.close()
            return reply_response(stage, exc.code, exc.message)
        except (OSError, aiosmtplib.SMTPException) as exc:
            client.close()
            return norq.TransportFailure("connect", f"{server.host}:{server.port}: {_detail(exc)}")
        return client

    async def _atransact(
        self, client: aiosmtplib.SMTP, email: PreparedEmail, data: bytes
    ) -> norq.Response | norq.TransportFailure | _Stale:
        import aiosmtplib

        steps = transaction(email, data)
        command = next(steps)
        try:
            while True:
                reply = await _aexecute(client, command)
                try:
                    command = steps.send(reply)
                except StopIteration as done:
                    response: norq.Response = done.value
                    break
        except (OSError, aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError) as exc:
            client.close()
            return _broken(command.stage, exc)
        await self._arelease(client, email.server, response.status)
        return response

    async def _arelease(self, client: aiosmtplib.SMTP, server: SmtpServer, code: int) -> None:
        import aiosmtplib

        if code != 250:
            try:
                reusable = code != 421 and client.is_connected and (await client.rset()).code == 250
            except (OSError, aiosmtplib.SMTPException):
                reusable = False
            if not reusable:
                client.close()
                return
        self._aidle.setdefault(server, []).append(client)

    async def aclose(self) -> None:
        import asyncio

        import aiosmtplib

        clients = [client for kept in self._aidle.values() for client in kept]
        self._aidle.clear()
        self._slots.clear()
        same_loop = self._loop is asyncio.get_running_loop()
        for client in clients:
            if not same_loop:
                _abandon(client)
                continue
            try:
                await client.quit()
            except (OSError, aiosmtplib.SMTPException):
                client.close()
        self._loop = None
        self.close()


def _email(request: Any) -> PreparedEmail:
    if not isinstance(request, PreparedEmail):
        raise TypeError(
            f"the smtp transport sends a norq_smtp.PreparedEmail, got {type(request).__name__}"
        )
    return request


def _with_date(email: PreparedEmail) -> bytes:
    # The one header that depends on the clock, so prepare_send stays pure:
    # stamped when the message goes out, as a submission server would.
    return f"Date: {formatdate(usegmt=True)}\r\n".encode("ascii") + email.mime_bytes()


def _not_offered(server: SmtpServer, extension: str) -> norq.TransportFailure:
    fix = (
        "use security: tls if the server expects TLS from the start (port 465)"
        if extension == "STARTTLS"
        else "check that the server allows AUTH on this port and connection"
    )
    return norq.TransportFailure(
        "connect", f"{server.host}:{server.port} does not offer {extension}; {fix}"
    )


def _broken(stage: Stage, exc: BaseException) -> norq.TransportFailure | _Stale:
    if stage != "data":
        return _Stale(f"during {stage.upper()}: {_detail(exc)}")
    # The message was handed over; the server may have queued it.
    kind: Literal["timeout", "lost"] = "timeout" if isinstance(exc, TimeoutError) else "lost"
    return norq.TransportFailure(kind, f"after DATA: {_detail(exc)}")


def _execute(connection: smtplib.SMTP, command: Command) -> Reply:
    import smtplib

    if command.stage == "mail":
        code, text = connection.mail(str(command.argument))
    elif command.stage == "rcpt":
        code, text = connection.rcpt(str(command.argument))
    else:
        try:
            code, text = connection.data(command.argument)
        except smtplib.SMTPDataError as exc:
            return exc.smtp_code, _text(exc.smtp_error)
    return code, _text(text)


async def _aexecute(client: aiosmtplib.SMTP, command: Command) -> Reply:
    import aiosmtplib

    try:
        if command.stage == "mail":
            answer = await client.mail(str(command.argument))
        elif command.stage == "rcpt":
            answer = await client.rcpt(str(command.argument))
        else:
            answer = await client.data(command.argument)
    except aiosmtplib.SMTPResponseException as exc:
        return exc.code, exc.message
    return answer.code, answer.message


def _abandon(client: aiosmtplib.SMTP) -> None:
    # The client's loop is gone or not this one: drop the socket without
    # the QUIT round trip.
    with contextlib.suppress(RuntimeError):
        client.close()
