"""Reading values out of a JSON response with ``$.field`` paths.

The supported syntax is the small part of JSONPath that response extraction
needs: ``$`` followed by ``.name``, ``["name"]`` or ``[index]`` steps, e.g.
``$.sid``, ``$.data[0].id`` or ``$["message-id"]``.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any

Step = str | int

_NAME = re.compile(r"\.([A-Za-z_][A-Za-z0-9_\-]*)")
_INDEX = re.compile(r"\[(-?\d+)\]")
_QUOTED = re.compile(r"""\[(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')\]""")


class PathError(ValueError):
    """A ``$.field`` path is malformed."""


@lru_cache(maxsize=256)
def parse_path(path: str) -> tuple[Step, ...]:
    """Split ``$.a[0]["b"]`` into ``("a", 0, "b")``; raise :class:`PathError` if malformed."""
    if not path.startswith("$"):
        raise PathError(f"path {path!r} must start with '$'")
    steps: list[Step] = []
    position = 1
    while position < len(path):
        for pattern in (_NAME, _INDEX, _QUOTED):
            match = pattern.match(path, position)
            if match is None:
                continue
            if pattern is _INDEX:
                steps.append(int(match.group(1)))
            elif pattern is _NAME:
                steps.append(match.group(1))
            else:
                raw = match.group(1) if match.group(1) is not None else match.group(2)
                steps.append(re.sub(r"\\(.)", r"\1", raw))
            position = match.end()
            break
        else:
            raise PathError(
                f"path {path!r} is malformed at position {position}: {path[position:]!r}"
            )
    return tuple(steps)


_MISSING = object()


def extract(document: Any, path: str) -> Any:
    """The value at ``path`` in ``document``, or ``None`` when any step is absent."""
    value = document
    for step in parse_path(path):
        if isinstance(step, int):
            if not isinstance(value, list) or not -len(value) <= step < len(value):
                return None
            value = value[step]
        else:
            if not isinstance(value, dict):
                return None
            value = value.get(step, _MISSING)
            if value is _MISSING:
                return None
    return value


def parse_json(body: bytes) -> Any:
    """The decoded JSON body, or ``None`` when the body is empty or not JSON."""
    if not body:
        return None
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
