"""A small async package for testing tools/gen_sync.py independently of the real client."""
