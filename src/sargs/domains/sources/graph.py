"""How to walk a data source's tables to find one person's rows, and in which order to erase them.

Pure functions over a policy declaration (no database). A table's rows belong to a person when
an identity column holds one of the person's identities, or when a reference column points at a
row of the person's in another table (or, for a self-reference, in the same table). Tables are
visited parents first, so every reference can be followed from rows already found; erasure runs
the other way round, children first, so no foreign key is left dangling.
"""

from __future__ import annotations

from dataclasses import dataclass

from sargs.core.errors import PolicyError
from sargs.domains.policy.sources import DataSource


@dataclass(frozen=True)
class Edge:
    """`child.column` points at `parent.to_column`: a child row is the person's if its parent row is."""

    child: str
    column: str
    parent: str
    to_column: str

    @property
    def is_self(self) -> bool:
        return self.child == self.parent


@dataclass(frozen=True)
class Plan:
    """The walk for one source: tables in visit order (parents first) and in erasure order."""

    source: str
    visit: tuple[str, ...]
    edges: tuple[Edge, ...]

    @property
    def erase_order(self) -> tuple[str, ...]:
        """Children before parents: the reverse of the visit order."""
        return tuple(reversed(self.visit))

    def into(self, table: str) -> list[Edge]:
        """References from `table` to other tables (followed when visiting `table`)."""
        return [e for e in self.edges if e.child == table and not e.is_self]

    def out_of(self, table: str) -> list[Edge]:
        """References from other tables to `table` (its children)."""
        return [e for e in self.edges if e.parent == table and not e.is_self]

    def self_edges(self, table: str) -> list[Edge]:
        """References from `table` to itself (followed until no new row is found)."""
        return [e for e in self.edges if e.child == table and e.is_self]


def plan_source(source: DataSource) -> Plan:
    """The visit and erasure order of a source's tables; PolicyError if a table cannot be reached.

    A table is reachable when it has an identity column or a reference to a reachable table (a
    self-reference alone reaches nothing). References must not form a cycle.
    """
    tables = {t.name: t for t in source.tables}
    edges: list[Edge] = []
    for t in source.tables:
        for ref in t.references:
            parent = tables.get(ref.table)
            if parent is None:
                raise PolicyError(
                    f"source {source.id!r}: table {t.name!r} references unknown table {ref.table!r}",
                    source=source.id,
                    table=t.name,
                )
            edges.append(Edge(t.name, ref.column, ref.table, ref.to_column or parent.primary_key))
    # Kahn's algorithm over the references to other tables, in declaration order for stability.
    parents = {name: {e.parent for e in edges if e.child == name and not e.is_self} for name in tables}
    reachable = {name for name, t in tables.items() if t.identity}
    visit: list[str] = []
    placed: set[str] = set()
    while len(placed) < len(tables):
        ready = [n for n in tables if n not in placed and parents[n] <= placed]
        if not ready:
            stuck = next(n for n in tables if n not in placed)
            raise PolicyError(
                f"source {source.id!r}: references through table {stuck!r} form a cycle",
                source=source.id,
                table=stuck,
            )
        for name in ready:
            if name not in reachable and parents[name] & reachable:
                reachable.add(name)
            visit.append(name)
            placed.add(name)
    unreachable = [n for n in tables if n not in reachable]
    if unreachable:
        raise PolicyError(
            f"source {source.id!r}: table {unreachable[0]!r} has no identity column and no reference "
            "to a table that leads to a person",
            source=source.id,
            table=unreachable[0],
        )
    return Plan(source=source.id, visit=tuple(visit), edges=tuple(edges))
