"""Telling people something (a breach, a new policy version): whom to reach, on which channel."""
