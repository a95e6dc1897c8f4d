"""A small shop's Django settings: email and SMS go through Norq."""

from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = "sample-project-key-not-a-secret"
DEBUG = False
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
INSTALLED_APPS: list[str] = []
MIDDLEWARE: list[str] = []
ROOT_URLCONF = "tests.django_project.shopsite.urls"
DATABASES: dict[str, dict[str, str]] = {}
USE_TZ = True

# Norq: its configuration, and Django's email through Norq's email route.
NORQ = BASE_DIR / "norq.yaml"
EMAIL_BACKEND = "norq.contrib.django.EmailBackend"
DEFAULT_FROM_EMAIL = "shop@example.com"
