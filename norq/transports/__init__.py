"""Transports: the only code that talks to the outside world.

:mod:`norq.transports.base` is the contract every transport fulfils (what a
request declares, what an attempt comes back as, how a transport is made);
:mod:`norq.transports.http` is the built-in ``http`` transport. Plugins add
transports by name with the ``register_transports`` hook.
"""
