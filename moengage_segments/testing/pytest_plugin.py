"""pytest plugin of moengage-segments (fixtures arrive with the emulator)."""
