"""``${VAR}`` substitution in configuration values.

- ``${VAR}`` is replaced by the environment variable ``VAR``; unset is an error.
- ``${VAR:-default}`` uses ``default`` when ``VAR`` is unset or empty.
- ``$${...}`` is the literal text ``${...}``.

Substitution is a single left-to-right pass, so text that came from the
environment is never scanned again: a secret containing ``${X}`` or ``$$``
arrives unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_TOKEN = re.compile(
    r"""
    \$\$\{                                   # escaped: literal ${
    | \$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)   # ${NAME
      (?::-(?P<default>[^}]*))?               #   optional :-default
      \}                                      # }
    | \$\{                                   # anything else after ${ is malformed
    """,
    re.VERBOSE,
)


class InterpolationError(ValueError):
    """A ``${...}`` reference cannot be resolved; the message names the variable."""


def interpolate(text: str, environ: Mapping[str, str]) -> str:
    """Substitute every ``${...}`` in ``text`` from ``environ``."""
    if "$" not in text:
        return text

    def substitute(match: re.Match[str]) -> str:
        token = match.group(0)
        if token == "$${":
            return "${"
        name = match.group("name")
        if name is None:
            raise InterpolationError(
                f"malformed reference at {text[match.start() : match.start() + 20]!r}: write "
                "${NAME} or ${NAME:-default} (NAME: letters, digits, _), or $${ for a literal ${"
            )
        default = match.group("default")
        value = environ.get(name)
        if value is None or (value == "" and default is not None):
            if default is None:
                raise InterpolationError(
                    f"environment variable {name} is not set; set it, or give a default "
                    f"with ${{{name}:-default}}"
                )
            return default
        return value

    return _TOKEN.sub(substitute, text)
