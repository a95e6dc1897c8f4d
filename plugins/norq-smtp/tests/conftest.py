"""Fixtures: a certificate authority made for the test run, and SMTP servers on 127.0.0.1."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from smtp_testserver import Recorder, SmtpServer, StartServer, free_port


@pytest.fixture(scope="session")
def certificate_authority() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def ca_file(certificate_authority: trustme.CA, tmp_path: Path) -> Path:
    path = tmp_path / "ca.pem"
    certificate_authority.cert_pem.write_to_path(str(path))
    return path


@pytest.fixture
def smtp_server(certificate_authority: trustme.CA, ca_file: Path) -> Iterator[StartServer]:
    """Start SMTP servers on 127.0.0.1: ``smtp_server(security=..., auth=...)``."""
    controllers: list[Controller] = []

    def start(*, security: str = "none", auth: bool = False) -> SmtpServer:
        recorder = Recorder()
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        certificate_authority.issue_cert("127.0.0.1", "localhost").configure_cert(context)
        kwargs: dict[str, Any] = {}
        if security == "starttls":
            kwargs.update(tls_context=context, require_starttls=True)
        elif security == "tls":
            kwargs.update(ssl_context=context)
        if auth:
            kwargs.update(
                authenticator=recorder.authenticate,
                auth_required=True,
                # aiosmtpd counts only STARTTLS as TLS; implicit TLS is TLS too.
                auth_require_tls=security == "starttls",
            )
        port = free_port()
        controller = Controller(recorder, hostname="127.0.0.1", port=port, **kwargs)
        controller.start()
        controllers.append(controller)
        return SmtpServer(
            "127.0.0.1", port, recorder, security, ca_file if security != "none" else None, auth
        )

    yield start
    for controller in controllers:
        controller.stop()
