"""Norq in a Django project: its config in ``settings.NORQ``, and an email backend.

``settings.py``::

    NORQ = BASE_DIR / "norq.yaml"        # or the configuration itself, as a dict
    EMAIL_BACKEND = "norq.contrib.django.EmailBackend"

Then ``send_mail`` and ``EmailMessage.send()`` go through Norq's email
routing, and :func:`get_norq` gives the project's :class:`norq.Norq` for the
other channels. ``pip install 'norq[django]'``; see docs/django.md.
"""

from norq.contrib.django.backend import EmailBackend
from norq.contrib.django.conf import get_norq

__all__ = ["EmailBackend", "get_norq"]
