"""Periodic jobs and background tasks run by `sargs worker`."""
