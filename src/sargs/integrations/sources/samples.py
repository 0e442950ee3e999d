"""Sample source databases for the demo, the tests and the benchmarks.

`create_shop` builds the retailer's web-shop database and `create_loyalty` the telecom's loyalty
programme database, exactly as `sargs/examples/retailer.yaml` and `sargs/examples/telecom.yaml` declare them
(`data_sources`), with real foreign keys, indexes on every identity and reference column, and
Latvian sample people. `known` people (phone numbers and e-mails the demo gave its Sargs
subjects) become customers first, so a request filed in the demo finds their rows; each of them
has orders older and younger than ten years, loyalty transactions older and younger than two
years, and e-mail events.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    func,
    insert,
    text,
)

from sargs.core.db import make_engine

MALE = ["Jānis", "Andris", "Pēteris", "Mārtiņš", "Edgars", "Kārlis", "Raimonds", "Aivars", "Uldis", "Oskars"]
FEMALE = ["Anna", "Līga", "Inese", "Ilze", "Kristīne", "Dace", "Zane", "Marta", "Ieva", "Laura"]
SURNAMES = [
    ("Bērziņš", "Bērziņa"),
    ("Kalniņš", "Kalniņa"),
    ("Ozoliņš", "Ozoliņa"),
    ("Jansons", "Jansone"),
    ("Liepiņš", "Liepiņa"),
    ("Krūmiņš", "Krūmiņa"),
    ("Zariņš", "Zariņa"),
    ("Pētersons", "Pētersone"),
    ("Vītols", "Vītola"),
    ("Kļaviņš", "Kļaviņa"),
    ("Ābols", "Ābola"),
    ("Šmits", "Šmite"),
]
STREETS = [
    "Brīvības iela",
    "Čaka iela",
    "Ģertrūdes iela",
    "Lāčplēša iela",
    "Dzirnavu iela",
    "Krišjāņa Valdemāra iela",
]
TOWNS = [
    ("Rīga", "LV-1010"),
    ("Jelgava", "LV-3001"),
    ("Liepāja", "LV-3401"),
    ("Cēsis", "LV-4101"),
    ("Ogre", "LV-5001"),
]
PRODUCTS = [
    "Kafijas automāts",
    "Velosipēds",
    "Grāmatu komplekts",
    "Dārza šļūtene",
    "Austiņas",
    "Sporta apavi",
]


@dataclass
class SampleStats:
    people: int = 0
    known: int = 0
    rows: dict[str, int] | None = None


@dataclass(frozen=True)
class KnownPerson:
    """A person the demo also holds in Sargs: their phone (E.164) and/or e-mail."""

    msisdn: str | None = None
    email: str | None = None
    customer: str | None = None  # the shop's customer number, if the demo gave one


def shop_metadata() -> MetaData:
    """The web-shop tables (`sargs/examples/retailer.yaml`, data source `shop`)."""
    md = MetaData()
    customers = Table(
        "customers",
        md,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("customer_no", String(20), nullable=False, unique=True),
        Column("full_name", String(120), nullable=False),
        Column("email", String(254)),
        Column("phone", String(20)),
        Column("address", String(200)),
        Column("created_at", DateTime, nullable=False),
    )
    Index("ix_customers_phone", customers.c.phone)
    Index("ix_customers_email_lower", func.lower(customers.c.email))
    Table(
        "orders",
        md,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("customer_id", Integer, ForeignKey("customers.id"), nullable=False, index=True),
        Column("placed_at", DateTime, nullable=False),
        Column("item", String(80), nullable=False),
        Column("total_eur", Numeric(10, 2), nullable=False),
        Column("delivery_name", String(120)),
        Column("delivery_address", String(200)),
        Column("delivery_phone", String(20)),
    )
    Table(
        "loyalty_transactions",
        md,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("customer_id", Integer, ForeignKey("customers.id"), nullable=False, index=True),
        Column("card_number", String(19)),
        Column("points", Integer, nullable=False),
        Column("occurred_at", DateTime, nullable=False),
    )
    Table(
        "email_events",
        md,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("customer_id", Integer, ForeignKey("customers.id"), nullable=False, index=True),
        Column("email", String(254), nullable=False),
        Column("event", String(16), nullable=False),
        Column("campaign", String(64), nullable=False),
        Column("occurred_at", DateTime, nullable=False),
    )
    return md


def loyalty_metadata() -> MetaData:
    """The loyalty-programme tables (`sargs/examples/telecom.yaml`, data source `loyalty`)."""
    md = MetaData()
    members = Table(
        "members",
        md,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("msisdn", String(20), nullable=False),
        Column("email", String(254)),
        Column("full_name", String(120), nullable=False),
        Column("credit_class", String(8)),
        Column("joined_at", DateTime, nullable=False),
    )
    Index("ix_members_msisdn", members.c.msisdn)
    Index("ix_members_email_lower", func.lower(members.c.email))
    Table(
        "transactions",
        md,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("member_id", Integer, ForeignKey("members.id"), nullable=False, index=True),
        Column("description", String(200), nullable=False),
        Column("points", Integer, nullable=False),
        Column("finished_at", DateTime, nullable=False),
    )
    return md


class _Person:
    def __init__(self, rng: random.Random, n: int, known: KnownPerson | None) -> None:
        female = rng.random() < 0.5
        first = rng.choice(FEMALE if female else MALE)
        surname = rng.choice(SURNAMES)[1 if female else 0]
        self.name = f"{first} {surname}"
        street, (town, post) = rng.choice(STREETS), rng.choice(TOWNS)
        self.address = f"{street} {rng.randint(1, 120)}-{rng.randint(1, 40)}, {town}, {post}"
        if known is not None:
            e164 = known.msisdn
            self.email = known.email
        else:
            e164 = f"+37126{(n * 7919) % 1_000_000:06d}"
            self.email = f"klients{n}@piemers.lv" if rng.random() < 0.8 else None
        # Half the numbers are stored the local way (8 digits), the rest in E.164.
        self.phone = None if e164 is None else (e164[4:] if e164.startswith("+371") and n % 2 else e164)
        self.e164 = e164


def _create_tables(md: MetaData, engine: Engine) -> list[Index]:
    """Create the tables without their indexes (bulk loading is faster); return the indexes."""
    indexes = [ix for t in md.sorted_tables for ix in t.indexes]
    for t in md.sorted_tables:
        own, t.indexes = t.indexes, set()
        t.create(engine)
        t.indexes = own
    return indexes


def _create_indexes(indexes: list[Index], engine: Engine) -> None:
    """Create the indexes, then refresh the planner's statistics (PostgreSQL) as a live database has."""
    for ix in indexes:
        ix.create(engine)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            for table in {ix.table for ix in indexes if ix.table is not None}:
                conn.execute(text(f"ANALYZE {engine.dialect.identifier_preparer.format_table(table)}"))


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def _insert(engine: Engine, table: Table, rows: Iterator[dict[str, Any]], batch: int) -> int:
    """Bulk-insert `rows`: COPY on PostgreSQL (psycopg), batched executemany elsewhere."""
    if engine.dialect.name == "postgresql" and engine.dialect.driver == "psycopg":
        return _copy(engine, table, rows)
    count = 0
    chunk: list[dict[str, Any]] = []
    stmt = insert(table)
    with engine.begin() as conn:
        for row in rows:
            chunk.append(row)
            if len(chunk) >= batch:
                conn.execute(stmt, chunk)
                count += len(chunk)
                chunk = []
        if chunk:
            conn.execute(stmt, chunk)
            count += len(chunk)
    return count


def _copy(engine: Engine, table: Table, rows: Iterator[dict[str, Any]]) -> int:
    preparer = engine.dialect.identifier_preparer
    columns = [c.name for c in table.columns]
    sql = f"COPY {preparer.format_table(table)} ({', '.join(preparer.quote(c) for c in columns)}) FROM STDIN"
    count = 0
    raw = engine.raw_connection()
    try:
        with raw.driver_connection.cursor() as cur, cur.copy(sql) as copy:  # type: ignore[union-attr]
            for row in rows:
                copy.write_row([row[c] for c in columns])
                count += 1
        raw.commit()
    finally:
        raw.close()
    return count


def create_shop(
    url: str,
    *,
    people: int,
    seed: int = 7,
    now: datetime,
    known: Sequence[KnownPerson] = (),
    orders_per_person: float = 3.0,
    batch: int = 5000,
    progress: Callable[[str], None] | None = None,
) -> SampleStats:
    """Create the shop tables in an empty database at `url` and fill them with `people` customers."""
    engine = make_engine(url)
    md = shop_metadata()
    try:
        indexes = _create_tables(md, engine)
        rng = random.Random(seed)
        persons = [_Person(rng, n, known[n] if n < len(known) else None) for n in range(people)]
        created = [now - timedelta(days=rng.randint(30, 12 * 365)) for _ in range(people)]
        c, o, lt, ee = (md.tables[t] for t in ("customers", "orders", "loyalty_transactions", "email_events"))

        def customers() -> Iterator[dict[str, Any]]:
            for n, p in enumerate(persons):
                yield {
                    "id": n + 1,
                    "customer_no": (known[n].customer if n < len(known) else None) or f"C-{100000 + n}",
                    "full_name": p.name,
                    "email": p.email,
                    "phone": p.phone,
                    "address": p.address,
                    "created_at": _naive(created[n]),
                }

        def orders() -> Iterator[dict[str, Any]]:
            oid = 0
            orng = random.Random(seed + 1)
            for n, p in enumerate(persons):
                count = int(orders_per_person) + (orng.random() < orders_per_person % 1)
                ages = [orng.randint(0, 12 * 365) for _ in range(count)]
                if n < len(known):  # one order older and one younger than ten years
                    ages = [11 * 365 + orng.randint(0, 300), orng.randint(10, 700), *ages[2:]]
                for age in ages:
                    oid += 1
                    yield {
                        "id": oid,
                        "customer_id": n + 1,
                        "placed_at": _naive(now - timedelta(days=age, minutes=orng.randint(0, 1439))),
                        "item": orng.choice(PRODUCTS),
                        "total_eur": Decimal(orng.randint(500, 50000)) / 100,
                        "delivery_name": p.name,
                        "delivery_address": p.address,
                        "delivery_phone": p.phone,
                    }

        def loyalty() -> Iterator[dict[str, Any]]:
            tid = 0
            lrng = random.Random(seed + 2)
            for n, _p in enumerate(persons):
                if n >= len(known) and lrng.random() < 0.5:
                    continue
                card = f"9900{(n * 7) % 10**12:012d}"
                for age in (3 * 365 + lrng.randint(0, 300), lrng.randint(1, 300)):
                    tid += 1
                    yield {
                        "id": tid,
                        "customer_id": n + 1,
                        "card_number": card,
                        "points": lrng.randint(5, 400),
                        "occurred_at": _naive(now - timedelta(days=age)),
                    }

        def events() -> Iterator[dict[str, Any]]:
            eid = 0
            erng = random.Random(seed + 3)
            for n, p in enumerate(persons):
                if p.email is None or (n >= len(known) and erng.random() < 0.6):
                    continue
                for kind in ("sent", "opened", "clicked")[: erng.randint(1, 3)]:
                    eid += 1
                    yield {
                        "id": eid,
                        "customer_id": n + 1,
                        "email": p.email,
                        "event": kind,
                        "campaign": f"jaunumi-{now.year}-{erng.randint(1, 12):02d}",
                        "occurred_at": _naive(now - timedelta(days=erng.randint(1, 400))),
                    }

        rows = {}
        for table, gen in ((c, customers), (o, orders), (lt, loyalty), (ee, events)):
            if progress:
                progress(table.name)
            rows[table.name] = _insert(engine, table, gen(), batch)
        if progress:
            progress("indexes")
        _create_indexes(indexes, engine)
        return SampleStats(people=people, known=min(len(known), people), rows=rows)
    finally:
        engine.dispose()


def create_loyalty(
    url: str,
    *,
    people: int,
    seed: int = 11,
    now: datetime,
    known: Sequence[KnownPerson] = (),
    batch: int = 5000,
) -> SampleStats:
    """Create the loyalty tables in an empty database at `url` with `people` members."""
    engine = make_engine(url)
    md = loyalty_metadata()
    try:
        indexes = _create_tables(md, engine)
        rng = random.Random(seed)
        persons = [_Person(rng, n, known[n] if n < len(known) else None) for n in range(people)]
        members, transactions = md.tables["members"], md.tables["transactions"]

        def member_rows() -> Iterator[dict[str, Any]]:
            mrng = random.Random(seed + 1)
            for n, p in enumerate(persons):
                yield {
                    "id": n + 1,
                    "msisdn": p.phone or f"2{n % 10_000_000:07d}",
                    "email": p.email,
                    "full_name": p.name,
                    "credit_class": mrng.choice(["A", "B", "C", None]),
                    "joined_at": _naive(now - timedelta(days=mrng.randint(400, 8 * 365))),
                }

        def transaction_rows() -> Iterator[dict[str, Any]]:
            tid = 0
            trng = random.Random(seed + 2)
            for n in range(people):
                ages = [trng.randint(1, 5 * 365) for _ in range(trng.randint(0, 3))]
                if n < len(known):  # one older and one younger than two years
                    ages = [3 * 365, trng.randint(5, 300), *ages]
                for age in ages:
                    tid += 1
                    yield {
                        "id": tid,
                        "member_id": n + 1,
                        "description": trng.choice(
                            ["Punkti par rēķinu", "Atlaide viedtālrunim", "Partneru bonuss"]
                        ),
                        "points": trng.randint(10, 500),
                        "finished_at": _naive(now - timedelta(days=age)),
                    }

        rows = {
            "members": _insert(engine, members, member_rows(), batch),
            "transactions": _insert(engine, transactions, transaction_rows(), batch),
        }
        _create_indexes(indexes, engine)
        return SampleStats(people=people, known=min(len(known), people), rows=rows)
    finally:
        engine.dispose()
