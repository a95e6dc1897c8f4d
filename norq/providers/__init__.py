"""Norq's built-in providers, registered through the same hook as any plugin."""
