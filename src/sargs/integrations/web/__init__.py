"""Adapters for website data (network lookup for access logs)."""
