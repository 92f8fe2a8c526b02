"""Widgets only: one family per file; no I/O, no crypto, no threads."""
