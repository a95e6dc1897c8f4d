"""Running the sandbox: in the foreground for ``norq sandbox``, or in a thread for tests.

In-process use, for tests and the demo::

    from norq_sandbox import SandboxServer

    with SandboxServer(step_delay=0.01) as sandbox:
        sandbox.url                      # "http://127.0.0.1:<free port>"
        sandbox.faults.add("503", count=2)
        ...                              # send through Norq with base_url=sandbox.url
        sandbox.requests()               # every API request received
        sandbox.messages()               # every message accepted, newest first
"""

from __future__ import annotations

import asyncio
import errno
import socket
import threading
import time
from dataclasses import replace
from types import TracebackType
from typing import Any

import uvicorn

from norq_sandbox import fcm
from norq_sandbox.apis import fault_plans
from norq_sandbox.asgi import create_app
from norq_sandbox.clock import SandboxClock
from norq_sandbox.faults import FaultPlan
from norq_sandbox.outbox import OutboxMessage
from norq_sandbox.push_accounts import APNS_KEY_ID, APNS_TEAM_ID, subscription_json
from norq_sandbox.records import LoggedRequest, Records
from norq_sandbox.settings import SandboxSettings
from norq_sandbox.state import SandboxState
from norq_sandbox.twilio_resources import SandboxMessage

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


class _Server(uvicorn.Server):
    """uvicorn, but open event streams are ended first so shutdown is prompt."""

    def __init__(self, config: uvicorn.Config, records: Records) -> None:
        super().__init__(config)
        self._records = records

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self._records.end_watches()
        await asyncio.sleep(0)
        await super().shutdown(sockets)


def bind(
    host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, *, fallback: bool = False
) -> socket.socket:
    """A listening socket on ``host:port``; with ``fallback``, a free port if that one is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY on accepted sockets
    # whose protocol says TCP, and without it every response waits ~40 ms.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        if not (fallback and exc.errno == errno.EADDRINUSE):
            sock.close()
            raise
        sock.bind((host, 0))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def _config(
    state: SandboxState, log_level: str, smtp_socket: socket.socket | None, host: str
) -> uvicorn.Config:
    return uvicorn.Config(
        create_app(state, smtp_socket, host=host),
        log_level=log_level,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=2,
        server_header=False,
    )


def _url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class SandboxServer:
    """A sandbox running in a background thread of this process.

    Binds ``host:port`` at construction (``port=0``, the default, picks a free
    one; ``fallback=True`` falls back to a free port if ``port`` is taken), so
    :attr:`url` is known before :meth:`start`; the SMTP server binds
    ``host:smtp_port`` the same way (:attr:`smtp_port`). Use it as a context
    manager.
    """

    def __init__(
        self,
        settings: SandboxSettings | None = None,
        *,
        host: str = DEFAULT_HOST,
        port: int = 0,
        smtp_port: int = 0,
        fallback: bool = False,
        **overrides: Any,
    ) -> None:
        settings = settings or SandboxSettings()
        if overrides:
            settings = replace(settings, **overrides)
        self.settings = settings
        self.state = SandboxState.create(settings, fault_plans())
        self._socket = bind(host, port, fallback=fallback)
        try:
            self._smtp_socket = bind(host, smtp_port, fallback=fallback)
        except OSError:
            self._socket.close()
            raise
        self.url = _url(self._socket)
        self.smtp_host = host
        self.smtp_port: int = self._smtp_socket.getsockname()[1]
        config = _config(self.state, "warning", self._smtp_socket, host)
        self._server = _Server(config, self.state.records)
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    # -- the handle tests use ---------------------------------------------------

    @property
    def records(self) -> Records:
        return self.state.records

    @property
    def faults(self) -> FaultPlan:
        """Twilio's fault plan; :meth:`faults_for` has every API's."""
        return self.state.faults

    def faults_for(self, api: str) -> FaultPlan:
        """The fault plan of one API: ``twilio``, ``sendgrid``, ``vonage``, ``slack``, ``telegram``,
        ``fcm``, ``apns``, ``webpush`` or ``smtp``."""
        return self.state.plan(api)

    def outbox(self, api: str | None = None) -> list[OutboxMessage]:
        """Emails, chat messages, pushes and Vonage SMS accepted (only ``api``'s if given),
        newest first."""
        return self.state.records.outbox(api)

    @property
    def clock(self) -> SandboxClock:
        """The sandbox's clock: ``clock.advance(seconds)`` releases scheduled messages early."""
        return self.state.records.clock

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def messages(self) -> list[SandboxMessage]:
        """Every message accepted, newest first."""
        return self.state.records.messages()

    def message(self, sid: str) -> SandboxMessage | None:
        return self.state.records.get(sid)

    def requests(
        self, method: str | None = None, path_suffix: str | None = None
    ) -> list[LoggedRequest]:
        """The API requests received, oldest first, optionally filtered."""
        return [
            record
            for record in self.state.records.requests()
            if (method is None or record.method == method)
            and (path_suffix is None or record.path.endswith(path_suffix))
        ]

    def requests_to(self, api: str) -> list[LoggedRequest]:
        """The requests (SMTP transactions included) one emulated API received, oldest first."""
        return [record for record in self.state.records.requests() if record.api == api]

    def sends(self) -> list[LoggedRequest]:
        """The create-message requests received (attempts, faulted or not)."""
        return self.requests("POST", "/Messages.json")

    # -- push: the credentials its push services accept ---------------------------

    def fcm_service_account(self) -> dict[str, Any]:
        """A service account key file (as JSON) this sandbox's FCM and token endpoint accept."""
        return self.state.push.fcm_service_account(self.url + fcm.TOKEN_PATH)

    def apns_signing_key(self) -> tuple[str, str, str]:
        """The ``.p8`` key text, key id and team id this sandbox's APNs accepts."""
        return self.state.push.apns_signing_key(), APNS_KEY_ID, APNS_TEAM_ID

    def webpush_subscription(self) -> dict[str, Any]:
        """A new browser subscription to this sandbox's Web Push service (its JSON form)."""
        return subscription_json(self.url, self.state.push.subscribe())

    def unregister_push(self, token: str) -> None:
        """A push to this FCM or APNs token, or Web Push subscription id, is answered "gone"."""
        self.state.push.unregister(token)

    def expire_push_tokens(self) -> None:
        """Every FCM access token and APNs provider token given out so far is refused from now."""
        self.state.push.expire_tokens()

    def reset(self) -> None:
        """Forget messages and requests, clear every fault and zero the fault counters."""
        for plan in self.state.plans.values():
            plan.reset()
        self.state.limits.reset()
        self.state.records.reset()
        self.state.push.reset()

    def wait_for_status(
        self, sid: str, statuses: str | tuple[str, ...], timeout: float = 5.0
    ) -> SandboxMessage:
        """Block until message ``sid`` reaches one of ``statuses``; raise TimeoutError if not."""
        wanted = (statuses,) if isinstance(statuses, str) else statuses
        deadline = time.monotonic() + timeout
        while True:
            message = self.state.records.get(sid)
            if message is not None and message.status in wanted:
                return message
            if time.monotonic() >= deadline:
                seen = message.status if message else "no such message"
                raise TimeoutError(f"{sid} did not reach {wanted} in {timeout}s (now: {seen})")
            time.sleep(0.01)

    # -- lifecycle --------------------------------------------------------------

    def start(self, timeout: float = 10.0) -> SandboxServer:
        if self._thread is not None:
            raise RuntimeError("this sandbox is already running")
        self._thread = threading.Thread(target=self._run, name=f"norq-sandbox-{self.port}")
        self._thread.daemon = True
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if self._error is not None or not self._thread.is_alive():
                raise RuntimeError(f"the sandbox did not start: {self._error!r}")
            if time.monotonic() >= deadline:
                self.stop()
                raise TimeoutError(f"the sandbox did not start within {timeout}s")
            time.sleep(0.005)
        return self

    def _run(self) -> None:
        try:
            asyncio.run(self._server.serve(sockets=[self._socket]))
        except BaseException as exc:
            self._error = exc

    def stop(self, timeout: float = 10.0) -> None:
        """Shut down: end event streams and journeys, close the port, join the thread."""
        if self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout)
            if self._thread.is_alive():
                self._server.force_exit = True
                self._thread.join(timeout)
            self._thread = None
        self._socket.close()
        self._smtp_socket.close()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<SandboxServer {self.url}>"


def serve(
    state: SandboxState, sock: socket.socket, smtp_sock: socket.socket | None, host: str
) -> None:
    """Run a sandbox in the foreground on ``sock`` (bound to ``host``; SMTP on
    ``smtp_sock``) until interrupted (``norq sandbox``)."""
    server = _Server(_config(state, "warning", smtp_sock, host), state.records)
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        # uvicorn has shut down cleanly and re-raised the signal; nothing is left to do.
        pass
    finally:
        sock.close()
        if smtp_sock is not None:
            smtp_sock.close()
