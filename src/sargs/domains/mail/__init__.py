"""Outgoing e-mail: the outbox, signed links (tracking, unsubscribe) and marketing campaigns."""
