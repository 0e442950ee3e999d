"""Benchmarks wipe only PostgreSQL databases they made themselves (issue 20: nothing the README runs
may downgrade or truncate somebody's database).

`wipeable(url)` is called on every database URL before a benchmark downgrades it to base: a
database that does not exist yet is created and marked (a comment on the database) as a benchmark's
scratch database; an existing database without that mark is refused, naming it. SQLite URLs name
the benchmark's own files and pass unchanged.
"""

from __future__ import annotations

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

MARK = "sargs benchmark scratch database: benchmarks may wipe it"


def wipeable(url: str) -> str:
    """`url`, once it is known to name a benchmark's own scratch database (created here if missing)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        return url
    name = parsed.database
    server = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with server.connect() as conn:
            row = conn.execute(
                text("SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = :n"),
                {"n": name},
            ).first()
            if row is None:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
                conn.execute(text(f"COMMENT ON DATABASE \"{name}\" IS '{MARK}'"))
            elif row[0] != MARK:
                raise SystemExit(
                    f"refusing to wipe the PostgreSQL database {name!r}: benchmarks wipe only databases they "
                    "created themselves; name a database that does not exist yet (it is created), or drop this one"
                )
    finally:
        server.dispose()
    return url
