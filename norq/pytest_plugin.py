"""Norq's pytest plugin, registered through the ``pytest11`` entry point: the ``norq_fake`` fixture.

Loaded by pytest in every project that installs Norq, so it imports nothing
of Norq until a test asks for the fixture.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from norq.fake import NotificationFake


@pytest.fixture
def norq_fake() -> Iterator[NotificationFake]:
    """Every Norq in the process takes notifications into this fake, for one test.

    See :class:`norq.testing.NotificationFake` for its assertions and scripted failures.
    """
    from norq.fake import fake_notifications

    with fake_notifications() as fake:
        yield fake
