"""Source databases for retention tests: the retailer's `shop` and the telecom's `loyalty` tables,
as sargs/examples/retailer.yaml and sargs/examples/telecom.yaml declare them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine


def shop_tables(metadata: sa.MetaData) -> dict[str, sa.Table]:
    """The tables sargs/examples/retailer.yaml declares for its `shop` source."""
    when = sa.DateTime(timezone=True)
    customers = sa.Table(
        "customers",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("customer_no", sa.String(32)),
        sa.Column("email", sa.String(200)),
        sa.Column("phone", sa.String(20)),
        sa.Column("full_name", sa.String(200)),
        sa.Column("address", sa.String(200)),
        sa.Column("created_at", when, nullable=False),
    )
    orders = sa.Table(
        "orders",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("customer_id", sa.ForeignKey("customers.id"), nullable=False),
        sa.Column("placed_at", when, nullable=False, index=True),
        sa.Column("delivery_name", sa.String(200)),
        sa.Column("delivery_address", sa.String(200)),
        sa.Column("delivery_phone", sa.String(20)),
    )
    loyalty = sa.Table(
        "loyalty_transactions",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("customer_id", sa.ForeignKey("customers.id"), nullable=False),
        sa.Column("occurred_at", when, nullable=False, index=True),
        sa.Column("card_number", sa.String(40)),
    )
    events = sa.Table(
        "email_events",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("customer_id", sa.ForeignKey("customers.id"), nullable=False),
        sa.Column("email", sa.String(200)),
        sa.Column("kind", sa.String(20)),
    )
    return {t.name: t for t in (customers, orders, loyalty, events)}


class Shop:
    """The shop database: insert rows, read what is left."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.metadata = sa.MetaData()
        self.t = shop_tables(self.metadata)
        self.metadata.create_all(engine)

    def add(self, table: str, *rows: dict[str, Any]) -> None:
        with self.engine.begin() as conn:
            conn.execute(self.t[table].insert(), list(rows))

    def customer(self, id: int, created_at: datetime, **values: Any) -> None:
        row = {
            "customer_no": f"C-{id}",
            "email": f"c{id}@example.lv",
            "phone": f"+3712900{id:04d}",
            "full_name": f"Customer {id}",
            "address": f"Street {id}",
        }
        self.add("customers", {"id": id, "created_at": created_at, **row, **values})

    def ids(self, table: str) -> list[int]:
        with self.engine.connect() as conn:
            return list(conn.execute(sa.select(self.t[table].c.id).order_by(self.t[table].c.id)).scalars())

    def row(self, table: str, id: int) -> dict[str, Any]:
        with self.engine.connect() as conn:
            return dict(conn.execute(sa.select(self.t[table]).where(self.t[table].c.id == id)).one()._mapping)


def loyalty_tables(metadata: sa.MetaData) -> dict[str, sa.Table]:
    """The tables sargs/examples/telecom.yaml declares for its `loyalty` source."""
    when = sa.DateTime(timezone=True)
    members = sa.Table(
        "members",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("msisdn", sa.String(20)),
        sa.Column("email", sa.String(200)),
        sa.Column("full_name", sa.String(200)),
        sa.Column("credit_class", sa.String(8)),
        sa.Column("joined_at", when, nullable=False),
    )
    transactions = sa.Table(
        "transactions",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("member_id", sa.ForeignKey("members.id"), nullable=False),
        sa.Column("description", sa.String(200)),
        sa.Column("finished_at", when, nullable=False, index=True),
    )
    return {t.name: t for t in (members, transactions)}
