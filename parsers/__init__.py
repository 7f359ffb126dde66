"""Pure functions from raw bytes plus metadata to typed news records (no I/O, no database)."""
