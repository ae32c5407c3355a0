"""Textual screens and widgets (no Google, git or file I/O here)."""
