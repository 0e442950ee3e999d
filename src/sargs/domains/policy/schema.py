"""The policy file, as frozen pydantic models (R-POL-1..4).

One file describes one group of controllers: who they are, what they process and why, on
which legal basis, who may be asked for which consent over which channel, how long data is
kept, who processes it for them, and whom a data subject may complain to.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, field_validator

from sargs.domains.policy.clients import ClientGroupSource as ClientGroupSource
from sargs.domains.policy.clients import client_source_problems
from sargs.domains.policy.problems import unknown
from sargs.domains.policy.sources import DataSource as DataSource
from sargs.domains.policy.sources import source_problems
from sargs.domains.policy.text import Frozen as Frozen
from sargs.domains.policy.text import Text as Text
from sargs.domains.policy.vocabulary import DPV_PREFIX, term_problems
from sargs.domains.policy.web import ConsentType, web_problems
from sargs.domains.policy.web import WebSection as WebSection

DPV = "https://w3id.org/dpv#"

Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=64)]
# Any language code: texts a policy lacks in it read as English, then Latvian (policy.text.Text).
Language = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(-[A-Z]{2})?$")]

LegalBasis = Literal[
    "consent", "contract", "legal_obligation", "vital_interest", "public_task", "legitimate_interest"
]
LEGAL_BASIS_DPV: dict[str, str] = {
    "consent": DPV + "Consent",
    "contract": DPV + "Contract",
    "legal_obligation": DPV + "LegalObligation",
    "vital_interest": DPV + "VitalInterest",
    # GDPR Art. 6(1)(e), public interest or official authority: DPV has no "public task" term.
    "public_task": "https://w3id.org/dpv/legal/eu/gdpr#A6-1-e",
    "legitimate_interest": DPV + "LegitimateInterest",
}

# Channels through which a consent may be given, withdrawn or refused (R-CON-1).
ConsentChannel = Literal["portal", "sms", "staff", "email_link", "api", "post", "web"]
CONSENT_CHANNELS: tuple[str, ...] = ("portal", "sms", "staff", "email_link", "api", "post", "web")
# Channels on which a subject may be contacted under a purpose (audiences, R-CON-6).
ContactChannel = Literal["sms", "phone", "email", "post"]

RetentionAnchor = Literal[
    "collection",
    "last_order",
    "last_transaction",
    "contract_end",
    "consent_withdrawal",
    "last_visit",
    "request_closed",
]

_DURATION = re.compile(r"^P(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?$")


class Duration(Frozen):
    years: int = 0
    months: int = 0
    weeks: int = 0
    days: int = 0

    @classmethod
    def parse(cls, value: str) -> Duration:
        match = _DURATION.match(value)
        if not match or value == "P":
            raise ValueError(f"{value!r} is not an ISO 8601 duration like P10Y, P6M, P30D")
        return cls(**{k: int(v) for k, v in match.groupdict().items() if v})

    def iso(self) -> str:
        parts = [
            f"{n}{u}"
            for n, u in ((self.years, "Y"), (self.months, "M"), (self.weeks, "W"), (self.days, "D"))
            if n
        ]
        return "P" + "".join(parts)

    def approx_days(self) -> int:
        return self.years * 365 + self.months * 30 + self.weeks * 7 + self.days


class Contact(Frozen):
    email: str | None = None
    phone: str | None = None
    url: str | None = None
    address: str | None = None


class PolicyMeta(Frozen):
    id: Slug
    version: str = Field(min_length=1, max_length=64)
    published: date
    review_interval_months: int = Field(gt=0, le=120)
    default_language: Language = "lv"
    url: str | None = None
    title: Text | None = None


class SupervisoryAuthority(Frozen):
    name: Text
    address: str
    email: str | None = None
    phone: str | None = None
    url: str


class ClientGroup(Frozen):
    id: Slug
    title: Text


class Controller(Frozen):
    id: Slug
    legal_name: str
    short_name: str
    registration_number: str | None = None
    address: str
    country: str = Field(default="LV", min_length=2, max_length=2)
    contact: Contact = Contact()
    dpo: Contact | None = None
    privacy_policy_url: str | None = None


class Purpose(Frozen):
    id: Slug
    controllers: list[Slug] | None = Field(
        default=None, description="Controllers that pursue this purpose; omitted means all in the file."
    )
    title: Text
    description: Text
    legal_basis: LegalBasis
    dpv_purpose: str
    dpv_legal_basis: str | None = None
    eligible_groups: list[Slug] | None = Field(
        default=None, description="Client groups that may be asked; omitted means everyone."
    )
    consent_channels: list[ConsentChannel] = Field(default_factory=list)
    contact_channels: list[ContactChannel] = Field(default_factory=list)
    sms_keyword: str | None = Field(default=None, pattern=r"^[A-Z0-9]{2,20}$")
    data_categories: list[Slug] = Field(default_factory=list)
    direct_marketing: bool = False
    automated_decision: bool = Field(
        default=False, description="Decisions are made by automated means, incl. profiling (GDPR Art. 22)."
    )

    @field_validator("dpv_purpose", "dpv_legal_basis")
    @classmethod
    def _dpv_iri(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith((DPV, DPV_PREFIX + "/")):
            raise ValueError(
                f"must be a W3C DPV term IRI starting with {DPV} (or {DPV_PREFIX}/ for an extension)"
            )
        return value

    @property
    def legal_basis_iri(self) -> str:
        return self.dpv_legal_basis or LEGAL_BASIS_DPV[self.legal_basis]

    @property
    def needs_consent(self) -> bool:
        return self.legal_basis == "consent"


class DataCategory(Frozen):
    id: Slug
    title: Text
    dpv_category: str | None = None
    special: bool = False


class ArchiveExemption(Frozen):
    """What of a rule's expired data the law sends to the state archives (R 2.5): kept, not destroyed.

    A table's rows are kept for the archive when the table is named here (`source/table`) or one of
    its fields holds one of `data_categories`; everything else the rule releases is destroyed.
    `archive_exemption: true` on a rule keeps all of it."""

    data_categories: list[Slug] = Field(default_factory=list)
    tables: list[str] = Field(default_factory=list, description="Tables as source/table, e.g. shop/orders.")
    reason: Text | None = None

    @field_validator("tables")
    @classmethod
    def _source_slash_table(cls, value: list[str]) -> list[str]:
        for name in value:
            if not re.fullmatch(r"[a-z0-9][a-z0-9_-]*/[A-Za-z_][A-Za-z0-9_.]*", name):
                raise ValueError(f"name a table as source/table, e.g. shop/orders (not {name!r})")
        return value


class RetentionRule(Frozen):
    """How long data of a purpose is kept. Several rules for one purpose: whichever ends first."""

    id: Slug
    purpose: Slug
    data_categories: list[Slug] = Field(default_factory=list)
    period: Duration | None = None
    anchor: RetentionAnchor
    action: Literal["delete", "anonymise"] = "delete"
    archive_exemption: bool | ArchiveExemption = Field(
        default=False,
        description="What the law sends to the state archive is kept (R 2.5): `true` keeps everything "
        "the rule releases; tables or data categories keep only those and the rest is destroyed.",
    )
    description: Text | None = None

    @field_validator("period", mode="before")
    @classmethod
    def _parse_period(cls, value: object) -> object:
        if isinstance(value, str):
            return Duration.parse(value)
        return value

    @field_validator("archive_exemption", mode="before")
    @classmethod
    def _archive_scope(cls, value: object) -> object:
        # A mapping is the narrowed form: validate it as one, so a typo is reported at its key
        # rather than as "not a boolean" as well.
        return ArchiveExemption.model_validate(value) if isinstance(value, dict) else value


class ProcessorContract(Frozen):
    status: Literal["in_force", "draft", "expired", "terminated"]
    signed: date | None = None
    expires: date | None = None
    data_protection_clause: bool = True


class Processor(Frozen):
    id: Slug
    name: str
    service: Text
    controllers: list[Slug] | None = None
    data_categories: list[Slug] = Field(default_factory=list)
    purposes: list[Slug] = Field(default_factory=list)
    country: str = Field(default="LV", min_length=2, max_length=2)
    transfer_outside_eea: bool = False
    contract: ProcessorContract
    # GDPR Art. 19: where it is told of an erasure, rectification or restriction, in which language,
    # and which of the person's identifiers it holds (the notice names only those).
    contact: Contact = Contact()
    language: Language | None = Field(default=None, description="Notices' language; the policy's default.")
    identifies_by: list[Literal["msisdn", "email", "customer"]] = Field(
        default_factory=list, description="The person's identifiers this recipient holds."
    )


class CookieCategory(Frozen):
    id: Slug
    title: Text
    description: Text
    required: bool = False
    dpv_purpose: str | None = None
    consent_types: list[ConsentType] | None = Field(
        default=None,
        description="Google Consent Mode types the category grants (default: from the category, "
        "see sargs.domains.web.consent_mode).",
    )


class Deadlines(Frozen):
    dsr_response_days: int = Field(default=30, gt=0)
    dsr_extension_days: int = Field(default=60, ge=0)
    marketing_objection_hours: int = Field(default=72, gt=0)
    breach_notification_hours: int = Field(default=72, gt=0)
    repeat_request_months: int = Field(default=6, ge=0)
    # Issue 16 part 6: what fulfilment collected is kept this many days after the answer, then purged.
    dsr_result_retention_days: int = Field(default=30, ge=0)


SmsReplyKind = Literal["granted", "withdrawn", "refused", "help", "stop_all", "start"]
SMS_REPLY_FIELDS: frozenset[str] = frozenset({"controller", "keyword", "number", "keywords", "groups"})


class SmsNumber(Frozen):
    """A number people text keywords to (R-SMS-1): whose consents it takes and how it answers.

    Reply texts override the built-in ones (sargs.domains.sms.replies); they may use the fields
    {controller} {keyword} {number} {keywords} {groups}.
    """

    number: str = Field(min_length=3, max_length=20, description="As published, e.g. 29307777.")
    controller: Slug
    language: Language | None = Field(
        default=None, description="Reply language; the policy's default if omitted."
    )
    bare_stop: Literal["withdraw_all", "help"] = Field(
        default="withdraw_all",
        description="What a bare STOP (or STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT) does: withdraw every "
        "consent this number takes by keyword, or answer with help.",
    )
    replies: dict[SmsReplyKind, Text] = Field(default_factory=dict)

    @field_validator("replies")
    @classmethod
    def _known_fields(cls, value: dict[str, Text]) -> dict[str, Text]:
        import string

        for kind, text in value.items():
            for language in text.languages:
                try:
                    names = {name for _, name, _, _ in string.Formatter().parse(text.get(language)) if name}
                except ValueError as exc:
                    raise ValueError(f"replies.{kind}.{language}: {exc}") from None
                extra = names - SMS_REPLY_FIELDS
                if extra:
                    raise ValueError(
                        f"replies.{kind}.{language} uses unknown field(s) {sorted(extra)}; "
                        f"known: {sorted(SMS_REPLY_FIELDS)}"
                    )
        return value


class Policy(Frozen):
    policy: PolicyMeta
    supervisory_authority: SupervisoryAuthority
    client_groups: list[ClientGroup] = Field(min_length=1)
    default_client_group: Slug
    controllers: list[Controller] = Field(min_length=1)
    data_categories: list[DataCategory] = Field(default_factory=list)
    purposes: list[Purpose] = Field(min_length=1)
    retention_rules: list[RetentionRule] = Field(default_factory=list)
    processors: list[Processor] = Field(default_factory=list)
    cookie_categories: list[CookieCategory] = Field(default_factory=list)
    data_sources: list[DataSource] = Field(default_factory=list)
    client_group_sources: list[ClientGroupSource] = Field(
        default_factory=list, description="Tables whose rows are a client group's members (issue 19)."
    )
    deadlines: Deadlines = Deadlines()
    sms: list[SmsNumber] = Field(default_factory=list, description="Short numbers taking SMS keywords.")
    web: WebSection | None = Field(
        default=None, description="The website: cookie banner, e-mail tracking, logs."
    )

    # --- lookups -----------------------------------------------------------------------------

    @property
    def id(self) -> str:
        return self.policy.id

    @property
    def version(self) -> str:
        return self.policy.version

    def controller(self, controller_id: str) -> Controller | None:
        return next((c for c in self.controllers if c.id == controller_id), None)

    def purposes_of(self, controller_id: str) -> list[Purpose]:
        return [p for p in self.purposes if p.controllers is None or controller_id in p.controllers]

    def purpose(self, controller_id: str, purpose_id: str) -> Purpose | None:
        return next((p for p in self.purposes_of(controller_id) if p.id == purpose_id), None)

    # --- cross references (field-level checks are pydantic's) ---------------------------------

    def reference_problems(
        self, broken: Mapping[str, set[str]] | None = None
    ) -> list[tuple[tuple[str | int, ...], str]]:
        """Every dangling or duplicated reference, with the location it was found at.

        `broken`: per section, ids the file declares in items that did not validate (their own
        errors are reported; see salvage.py): references to them are not dangling."""
        broken = broken or {}
        problems: list[tuple[tuple[str | int, ...], str]] = []
        controllers = {c.id for c in self.controllers} | broken.get("controllers", set())
        groups = {g.id for g in self.client_groups} | broken.get("client_groups", set())
        categories = {c.id for c in self.data_categories} | broken.get("data_categories", set())
        purposes = {p.id for p in self.purposes} | broken.get("purposes", set())

        def unique(items: list[str], section: str) -> None:
            seen: set[str] = set()
            for i, item in enumerate(items):
                if item in seen:
                    problems.append(((section, i, "id"), f"duplicate id {item!r}"))
                seen.add(item)

        unique([c.id for c in self.controllers], "controllers")
        unique([g.id for g in self.client_groups], "client_groups")
        unique([c.id for c in self.data_categories], "data_categories")
        unique([p.id for p in self.purposes], "purposes")
        unique([r.id for r in self.retention_rules], "retention_rules")
        unique([p.id for p in self.processors], "processors")
        unique([c.id for c in self.cookie_categories], "cookie_categories")

        if self.default_client_group not in groups:
            problems.append(
                (("default_client_group",), unknown("client group", self.default_client_group, groups))
            )

        keywords: dict[str, int] = {}
        for i, p in enumerate(self.purposes):
            for j, c in enumerate(p.controllers or []):
                if c not in controllers:
                    problems.append(
                        (("purposes", i, "controllers", j), unknown("controller", c, controllers))
                    )
            for j, g in enumerate(p.eligible_groups or []):
                if g not in groups:
                    problems.append(
                        (("purposes", i, "eligible_groups", j), unknown("client group", g, groups))
                    )
            for j, d in enumerate(p.data_categories):
                if d not in categories:
                    problems.append(
                        (("purposes", i, "data_categories", j), unknown("data category", d, categories))
                    )
            if p.sms_keyword:
                if p.sms_keyword in keywords:
                    problems.append(
                        (("purposes", i, "sms_keyword"), f"SMS keyword {p.sms_keyword!r} is used twice")
                    )
                keywords[p.sms_keyword] = i
                if "sms" not in p.consent_channels:
                    problems.append(
                        (("purposes", i, "sms_keyword"), "an SMS keyword needs 'sms' in consent_channels")
                    )
            if p.consent_channels and not p.needs_consent:
                problems.append(
                    (("purposes", i, "consent_channels"), f"legal basis is {p.legal_basis}, not consent")
                )
        numbers: set[str] = set()
        for i, number in enumerate(self.sms):
            if number.number in numbers:
                problems.append((("sms", i, "number"), f"SMS number {number.number!r} is listed twice"))
            numbers.add(number.number)
            if number.controller not in controllers:
                problems.append(
                    (("sms", i, "controller"), unknown("controller", number.controller, controllers))
                )
            elif not broken.get("purposes") and not any(
                p.sms_keyword for p in self.purposes_of(number.controller)
            ):
                problems.append(
                    (
                        ("sms", i, "controller"),
                        f"controller {number.controller!r} has no purpose with an sms_keyword",
                    )
                )
        for i, r in enumerate(self.retention_rules):
            if r.purpose not in purposes:
                problems.append((("retention_rules", i, "purpose"), unknown("purpose", r.purpose, purposes)))
            for j, d in enumerate(r.data_categories):
                if d not in categories:
                    problems.append(
                        (
                            ("retention_rules", i, "data_categories", j),
                            unknown("data category", d, categories),
                        )
                    )
            problems.extend(self._archive_problems(i, r, categories, broken.get("data_sources", set())))
            if r.period is None and r.anchor != "consent_withdrawal":
                problems.append(
                    (
                        ("retention_rules", i, "period"),
                        "a period is required unless anchor is consent_withdrawal",
                    )
                )
        for i, proc in enumerate(self.processors):
            for j, c in enumerate(proc.controllers or []):
                if c not in controllers:
                    problems.append(
                        (("processors", i, "controllers", j), unknown("controller", c, controllers))
                    )
            for j, d in enumerate(proc.data_categories):
                if d not in categories:
                    problems.append(
                        (("processors", i, "data_categories", j), unknown("data category", d, categories))
                    )
            for j, pu in enumerate(proc.purposes):
                if pu not in purposes:
                    problems.append((("processors", i, "purposes", j), unknown("purpose", pu, purposes)))
        problems.extend(
            source_problems(
                self.data_sources,
                controllers=controllers,
                categories=categories,
                rules={
                    **dict.fromkeys(broken.get("retention_rules", set())),
                    **{r.id: r.anchor for r in self.retention_rules},
                },
            )
        )
        problems.extend(
            client_source_problems(self.client_group_sources, controllers=controllers, groups=groups)
        )
        problems.extend(
            web_problems(
                self.web,
                controllers=controllers,
                purposes={
                    **dict.fromkeys(broken.get("purposes", set())),
                    **{p.id: (p.needs_consent, p.controllers, p.data_categories) for p in self.purposes},
                },
                rules={
                    **dict.fromkeys(broken.get("retention_rules", set())),
                    **{r.id: (r.purpose, r.period is not None) for r in self.retention_rules},
                },
            )
        )
        problems.extend(term_problems(self._dpv_terms()))
        return problems

    def _dpv_terms(self) -> list[tuple[tuple[str | int, ...], str | None]]:
        """Every DPV IRI the file gives, at its location (checked against the bundled DPV)."""
        return [
            *((("purposes", i, "dpv_purpose"), p.dpv_purpose) for i, p in enumerate(self.purposes)),
            *((("purposes", i, "dpv_legal_basis"), p.dpv_legal_basis) for i, p in enumerate(self.purposes)),
            *(
                (("data_categories", i, "dpv_category"), c.dpv_category)
                for i, c in enumerate(self.data_categories)
            ),
            *(
                (("cookie_categories", i, "dpv_purpose"), c.dpv_purpose)
                for i, c in enumerate(self.cookie_categories)
            ),
        ]

    def _archive_problems(
        self, i: int, rule: RetentionRule, categories: set[str], broken_sources: set[str]
    ) -> list[tuple[tuple[str | int, ...], str]]:
        """An archive exemption names known data categories and tables that the rule binds
        (`broken_sources`: sources declared but themselves invalid, whose tables are not checked)."""
        ex = rule.archive_exemption
        if not isinstance(ex, ArchiveExemption):
            return []
        at: tuple[str | int, ...] = ("retention_rules", i, "archive_exemption")
        problems: list[tuple[tuple[str | int, ...], str]] = []
        if not ex.tables and not ex.data_categories:
            problems.append(
                (at, "name the tables or data_categories that go to the state archive (or say true)")
            )
        for j, d in enumerate(ex.data_categories):
            if d not in categories:
                problems.append(((*at, "data_categories", j), unknown("data category", d, categories)))
        sources = {s.id: s for s in self.data_sources}
        for j, name in enumerate(ex.tables):
            source_id, table_name = name.split("/", 1)
            source = sources.get(source_id)
            table = source.table(table_name) if source else None
            if source is None and source_id in broken_sources:
                continue
            if table is None:
                declared = [f"{s.id}/{t.name}" for s in self.data_sources for t in s.tables]
                problems.append(((*at, "tables", j), unknown("table", name, declared)))
            elif not any(b.rule == rule.id for b in table.retention):
                problems.append(
                    ((*at, "tables", j), f"table {name!r} has no retention binding to {rule.id!r}")
                )
        return problems
