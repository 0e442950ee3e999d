"""Every table, imported in one place so metadata (and Alembic) sees them all."""

from sargs.domains.access.model import WebSession
from sargs.domains.alerts.model import StaffAlert
from sargs.domains.audit.model import AccessLogEntry, AccessSeal
from sargs.domains.breaches.model import Breach, BreachChange, BreachNotification, BreachSubjectNotice
from sargs.domains.consent.model import (
    ConsentEvent,
    ConsentRejection,
    ConsentState,
    LedgerAnchor,
    LedgerAnchorHead,
    LedgerCheckpoint,
)
from sargs.domains.dsr.followup_model import DsrRecipientNotice, DsrTask
from sargs.domains.dsr.model import DsrCallback, DsrEvent, DsrRequest, DsrSourceRun
from sargs.domains.jobs.model import WorkerJob, WorkerTask
from sargs.domains.mail.model import MailOutbox
from sargs.domains.policy.model import PolicyVersion
from sargs.domains.policy.notice_model import PolicyNotice
from sargs.domains.portal.model import OneTimeCode, RequestIntent
from sargs.domains.retention.model import DestructionLogEntry, RetentionHold, RetentionLease, RetentionRun
from sargs.domains.sms.model import SmsInbound, SmsOutbox
from sargs.domains.staff.model import StaffMember, StaffRecoveryCode
from sargs.domains.subjects.model import Subject, SubjectGroup, SubjectIdentity
from sargs.domains.tokens.model import ApiToken
from sargs.domains.web.model import CookieConsent, EmailEvent, WebAccessLog

__all__ = [
    "AccessLogEntry",
    "AccessSeal",
    "ApiToken",
    "Breach",
    "BreachChange",
    "BreachNotification",
    "BreachSubjectNotice",
    "ConsentEvent",
    "ConsentRejection",
    "ConsentState",
    "CookieConsent",
    "DestructionLogEntry",
    "DsrCallback",
    "DsrEvent",
    "DsrRecipientNotice",
    "DsrRequest",
    "DsrSourceRun",
    "DsrTask",
    "EmailEvent",
    "LedgerAnchor",
    "LedgerAnchorHead",
    "LedgerCheckpoint",
    "MailOutbox",
    "OneTimeCode",
    "PolicyNotice",
    "PolicyVersion",
    "RequestIntent",
    "RetentionHold",
    "RetentionLease",
    "RetentionRun",
    "SmsInbound",
    "SmsOutbox",
    "StaffAlert",
    "StaffMember",
    "StaffRecoveryCode",
    "Subject",
    "SubjectGroup",
    "SubjectIdentity",
    "WebAccessLog",
    "WebSession",
    "WorkerJob",
    "WorkerTask",
]
