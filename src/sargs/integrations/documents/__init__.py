"""Document renderers: PDF through fpdf2 with the vendored DejaVu Sans fonts."""
