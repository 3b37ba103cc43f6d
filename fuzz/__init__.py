"""Fuzzing snapdiff's readers, snapshot loader and renderers (see fuzz/README.md)."""
