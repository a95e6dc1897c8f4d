"""Integrations with the frameworks and tools applications use around Norq.

Each module needs its own extra and is imported only by applications that use it:
:mod:`norq.contrib.opentelemetry` (``otel``), :mod:`norq.contrib.django`
(``django``) and :mod:`norq.contrib.asgi` (``asgi``).
"""
