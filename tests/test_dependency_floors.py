"""No dependency floor admits a release with a known security advisory.

Each entry is the first release that fixes every advisory known for the
package, for the parts Norq uses. When a new advisory is published, raise
the entry here and the floor in pyproject.toml together.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).parents[1]

FIXED_IN = {
    # CVE-2024-56201, CVE-2024-56326 (3.1.5); CVE-2025-27516, the sandbox escape
    # through |attr that let a template read the environment (3.1.6).
    "jinja2": "3.1.6",
    # CVE-2025-69223, decompression bombs (3.13.3); CVE-2026-22815 and nine
    # more (3.13.4); CVE-2026-34993, CVE-2026-47265 (3.14.0); CVE-2026-54273
    # to -54280 (3.14.1); CVE-2026-59881, CVE-2026-69243 (3.14.2); CVE-2026-69244 (3.14.3).
    "aiohttp": "3.14.3",
    # CVE-2024-47874 (0.40.0), CVE-2025-54121 (0.47.2), CVE-2025-62727
    # (0.49.1), CVE-2026-48710 (1.0.1), CVE-2026-48817, -54282, -54283 (1.3.1).
    "starlette": "1.3.1",
    # CVE-2024-27305, SMTP smuggling (1.4.5); CVE-2024-34083, STARTTLS command injection (1.4.6).
    "aiosmtpd": "1.4.6",
    # CVE-2025-43859, lenient chunked bodies: request smuggling behind a proxy
    # (0.16.0). The sandbox serves HTTP through uvicorn, which parses with h11.
    "h11": "0.16.0",
    # CVE-2026-32597, unknown `crit` header extensions accepted (2.12.0); five
    # more, JWK-as-HMAC-secret among them (2.13.0); thirteen published in
    # September 2026, one critical (2.15.0). norq-fcm and norq-apns sign with it.
    "pyjwt": "2.15.0",
    # CVE-2026-34073 (46.0.6), CVE-2026-39892 (46.0.7), CVE-2026-69247, a
    # Bleichenbacher oracle in PKCS#7 decryption (50.0.0). It reads the push keys.
    "cryptography": "50.0.0",
    # CVE-2025-57804, CRLF in header fields: request splitting (4.3.0);
    # CVE-2026-71554, several Host headers forwarded (4.4.1). APNs' HTTP/2.
    "h2": "4.4.1",
}


def _requirements() -> list[tuple[str, Requirement]]:
    found = []
    for path in [ROOT / "pyproject.toml", *sorted(ROOT.glob("plugins/*/pyproject.toml"))]:
        project = tomllib.loads(path.read_text("utf-8"))["project"]
        lists = [project.get("dependencies", [])]
        lists += project.get("optional-dependencies", {}).values()
        where = str(path.relative_to(ROOT))
        found += [(where, Requirement(text)) for texts in lists for text in texts]
    return found


def _floor(requirement: Requirement) -> Version | None:
    floors = [Version(spec.version) for spec in requirement.specifier if spec.operator == ">="]
    return max(floors, default=None)


REQUIREMENTS = _requirements()


@pytest.mark.parametrize(
    ("where", "requirement"),
    [(where, req) for where, req in REQUIREMENTS if req.name.lower() in FIXED_IN],
    ids=lambda value: str(value),
)
def test_the_floor_excludes_every_release_with_a_known_advisory(
    where: str, requirement: Requirement
) -> None:
    fixed = Version(FIXED_IN[requirement.name.lower()])
    floor = _floor(requirement)
    assert floor is not None, f"{where}: {requirement} has no lower bound"
    assert floor >= fixed, (
        f"{where}: {requirement} admits releases before {fixed}, which have known advisories"
    )


def test_every_package_with_an_advisory_is_still_required() -> None:
    # An entry for a package no longer required would check nothing.
    required = {req.name.lower() for _, req in REQUIREMENTS}
    assert set(FIXED_IN) <= required
