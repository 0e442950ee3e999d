"""Every table, imported in one place so metadata (and Alembic) sees them all."""

from sargs.domains.consent.model import ConsentEvent, ConsentRejection, ConsentState
from sargs.domains.policy.model import PolicyVersion
from sargs.domains.subjects.model import Subject, SubjectGroup, SubjectIdentity
from sargs.domains.tokens.model import ApiToken

__all__ = [
    "ApiToken",
    "ConsentEvent",
    "ConsentRejection",
    "ConsentState",
    "PolicyVersion",
    "Subject",
    "SubjectGroup",
    "SubjectIdentity",
]
