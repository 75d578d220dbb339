"""Testing helpers for moengage-segments: the local emulator and a pytest plugin."""
