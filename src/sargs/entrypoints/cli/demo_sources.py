"""The demo's sample source databases: SQLite files next to the demo database, holding some of
the demo's own people, so a data-subject request filed in the demo finds rows to show and erase."""

from __future__ import annotations

import os
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from sargs.domains.subjects.model import SubjectGroup, SubjectIdentity
from sargs.entrypoints.container import Container
from sargs.integrations.sources.fake_mailer import FakeMailer
from sargs.integrations.sources.samples import KnownPerson, create_loyalty, create_shop

BUILDERS = {"shop": create_shop, "loyalty": create_loyalty}


def known_people(container: Container, controllers: list[str] | None, *, limit: int) -> list[KnownPerson]:
    """Up to `limit` demo people of these controllers (all if None), with their identities."""
    with container.read_sessions.begin() as session:
        # In the order of their phone numbers, which the demo's generator makes the same on every
        # run: the person the demo names (and the README's walkthrough uses) is always the same.
        query = (
            select(SubjectGroup.subject_id)
            .join(SubjectIdentity, SubjectIdentity.subject_id == SubjectGroup.subject_id)
            .where(SubjectIdentity.kind == "msisdn")
            .order_by(SubjectIdentity.value, SubjectGroup.subject_id)
            .limit(limit)
        )
        if controllers:
            query = query.where(SubjectGroup.controller.in_(controllers))
        ids = list(dict.fromkeys(session.scalars(query)))
        rows = session.execute(
            select(SubjectIdentity.subject_id, SubjectIdentity.kind, SubjectIdentity.value).where(
                SubjectIdentity.subject_id.in_(ids)
            )
        ).all()
    by_subject: dict[str, dict[str, str]] = {i: {} for i in ids}
    for subject_id, kind, value in rows:
        by_subject[subject_id][kind] = value
    return [
        KnownPerson(msisdn=ids_.get("msisdn"), email=ids_.get("email"), customer=ids_.get("customer"))
        for ids_ in by_subject.values()
    ]


@dataclass
class DemoSources:
    """What `create_demo_sources` made: one line to print, each source's URL variable, and a
    phone number that is a customer in the sample shop (the first source, when there is no shop)."""

    line: str
    urls: dict[str, str] = field(default_factory=dict)
    customer_msisdn: str | None = None
    customer_source: str | None = None


def create_demo_sources(
    container: Container,
    directory: Path,
    *,
    people: int = 2000,
    known: int = 300,
    environ: MutableMapping[str, str] = os.environ,
) -> DemoSources:
    """Build each example source the demo has a builder for and point its URL variable at it."""
    made: list[str] = []
    result = DemoSources(line="no sample data sources")
    for policy in container.registry.policies:
        for source in policy.data_sources:
            build = BUILDERS.get(source.id)
            if build is None or source.kind != "sql":
                continue
            path = directory / f"source-{source.id}.db"
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            url = f"sqlite:///{path.resolve()}"
            persons = known_people(container, source.controllers, limit=known)
            build(url, people=max(people, len(persons)), now=container.clock.now(), known=persons)
            environ[source.url_variable] = url
            result.urls[source.url_variable] = url
            made.append(f"{source.id} ({path}, {len(persons)} of the demo's people)")
            if (not result.customer_msisdn or source.id == "shop") and persons and persons[0].msisdn:
                result.customer_msisdn, result.customer_source = persons[0].msisdn, source.id
    if made:
        sample = (
            f"; e.g. {result.customer_msisdn} is a {result.customer_source} customer"
            if result.customer_msisdn
            else ""
        )
        result.line = "sample data sources: " + ", ".join(made) + sample
    return result


FAKE_MAILER_PATH = "/demo-mailer"  # where `sargs demo` serves its fake e-mail marketing platform


@dataclass
class DemoPlatform:
    """The fake SaaS platform `create_demo_platform` made: one line to print, its settings, the fake."""

    line: str
    settings: dict[str, str] = field(default_factory=dict)
    fake: FakeMailer | None = None


def create_demo_platform(
    container: Container,
    base: str,
    *,
    known: int = 300,
    environ: MutableMapping[str, str] = os.environ,
) -> DemoPlatform:
    """A fake of the retailer's e-mail marketing platform (http source `mailer`), holding some of the
    demo's people, served at BASE/demo-mailer/v1 by the demo; its URL and token variables set."""
    import secrets

    source = next(
        (
            s
            for p in container.registry.policies
            for s in p.data_sources
            if s.id == "mailer" and s.kind == "http"
        ),
        None,
    )
    if source is None:
        return DemoPlatform(line="no sample e-mail platform")
    fake = FakeMailer(token=secrets.token_urlsafe(24))
    people = [p for p in known_people(container, source.controllers, limit=known) if p.email]
    for i, person in enumerate(people):
        fake.add_person(
            person.email or "", lists=("news", "offers") if i % 2 else ("news",), events=2 + i % 3
        )
    settings = {source.url_variable: f"{base}{FAKE_MAILER_PATH}/v1", source.token_variable: fake.token}
    environ.update(settings)
    example = f"; e.g. {people[0].email}" if people else ""
    line = f"sample e-mail platform (http source mailer): {base}{FAKE_MAILER_PATH}/v1, {len(people)} of the demo's people{example}"
    return DemoPlatform(line=line, settings=settings, fake=fake)
