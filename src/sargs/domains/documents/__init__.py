"""Documents: a small, format-free description of a printable document (rendered to PDF and HTML)."""
