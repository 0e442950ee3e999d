"""Who may do what: the one role -> permission map (R-ACC-1). Pure; no I/O.

API dependencies, console pages and the role-matrix test are all derived from this module.
"""

from __future__ import annotations

from typing import Final, Literal

Role = Literal["admin", "dpo", "operator", "marketing", "auditor"]
ROLES: Final[tuple[str, ...]] = ("admin", "dpo", "operator", "marketing", "auditor")

Permission = Literal[
    "consent.check",  # yes/no: may this person be processed for purpose P now?
    "consent.write",  # record a grant/withdrawal/refusal for a person
    "subject.read",  # find a person; see their consents, history, refusals, receipts
    "audience.export",  # stream who may be contacted for a purpose (no history)
    "audit.read",  # query the access log
    "staff.manage",  # create, list and disable staff accounts
    "dsr.read",  # see rights requests, their trail, results and answers
    "dsr.intake",  # file a request for a person, verify identity, put on hold
    "dsr.decide",  # repeat decisions, extensions, fulfilment, closing
    "breach.read",  # the breach register, its clocks and notification exports
    "breach.manage",  # register, assess, notify, close breaches; tell the people affected
    "report.read",  # the record of processing (Art. 30), processors, the DPO dashboard
    "notice.send",  # tell people about a new policy version
    "retention.manage",  # retention plans and runs, legal holds, the destruction log
    "subject.groups",  # put people in client groups, add their identities (issue 19)
]
PERMISSIONS: Final[tuple[str, ...]] = (
    "consent.check",
    "consent.write",
    "subject.read",
    "audience.export",
    "audit.read",
    "staff.manage",
    "dsr.read",
    "dsr.intake",
    "dsr.decide",
    "breach.read",
    "breach.manage",
    "report.read",
    "notice.send",
    "retention.manage",
    "subject.groups",
)

ROLE_PERMISSIONS: Final[dict[str, frozenset[str]]] = {
    # Runs the installation: everything.
    "admin": frozenset(PERMISSIONS),
    # Organises data protection (R 2.6): everything personal, the audit log, staff.
    "dpo": frozenset(PERMISSIONS),
    # Customer-centre operator: finds the person in front of them and records their choices.
    # It also records that the person in front of them became (or stopped being) a client.
    "operator": frozenset(
        {"consent.check", "consent.write", "subject.read", "dsr.read", "dsr.intake", "subject.groups"}
    ),
    # Marketing: audiences and the consent check only, never a person's history.
    "marketing": frozenset({"consent.check", "audience.export"}),
    # Auditor: reads everything, including the audit log, and writes nothing.
    "auditor": frozenset(
        {"consent.check", "subject.read", "audit.read", "dsr.read", "breach.read", "report.read"}
    ),
}

# Roles that must state why they open a named person's data (`subject.read`). An operator serves
# the person at the counter, which is its reason; DPO, admin and auditor look at people who are
# not present, so each such read carries a stated reason into the access log.
REASON_REQUIRED: Final[frozenset[str]] = frozenset({"admin", "dpo", "auditor"})
REASON_MIN_LENGTH: Final[int] = 4

# Staff managers may create accounts with these roles (nobody but an admin creates an admin).
GRANTABLE_ROLES: Final[dict[str, frozenset[str]]] = {
    "admin": frozenset(ROLES),
    "dpo": frozenset(ROLES) - {"admin"},
}


def allows(role: str, permission: str) -> bool:
    """Whether `role` has `permission`."""
    return permission in ROLE_PERMISSIONS.get(role, frozenset())


def roles_with(permission: str) -> tuple[str, ...]:
    """Every role that has `permission`, in ROLES order."""
    return tuple(r for r in ROLES if allows(r, permission))


def reason_required(role: str, permission: str) -> bool:
    """Whether `role` must state a reason to use `permission` on a named person."""
    return permission == "subject.read" and role in REASON_REQUIRED
