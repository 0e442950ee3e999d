"""Checks e-signed documents offline: ASiC-E containers (XAdES, signxml) and signed PDFs (PAdES, pyHanko)."""
