"""Async side of the generator fixture."""
