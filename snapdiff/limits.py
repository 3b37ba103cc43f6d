"""Limits on what snapdiff takes in, in one place (no imports: the CLI reads them at start-up)."""

# The largest HTTP body a capture accepts (--max-bytes).
DEFAULT_MAX_BYTES = 256 << 20
