"""The sample Django project's tests run as Django's test runner would run them."""

from __future__ import annotations

import os
from collections.abc import Iterator

import django
import pytest
from django.test.utils import setup_test_environment, teardown_test_environment

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.django_project.shopsite.settings")
django.setup()


@pytest.fixture(scope="package", autouse=True)
def django_test_environment() -> Iterator[None]:
    # As Django's runner does: mail goes to the locmem backend and mail.outbox,
    # unless a test overrides EMAIL_BACKEND.
    setup_test_environment()
    try:
        yield
    finally:
        teardown_test_environment()
