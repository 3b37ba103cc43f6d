"""Renderers: results in, text out. They only render; nothing here reads or decides."""
