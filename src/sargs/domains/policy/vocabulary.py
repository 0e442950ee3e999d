"""The W3C DPV terms a policy may name, and what is wrong with one that is not among them.

The term list (dpv-terms.json, beside this module) is DPV 2.2 — core, personal data (pd), the EU
GDPR extension and the finance sector extension — made from DPVCG's own CSV exports by
tools/dpv_terms.py. It also lists the terms of DPV 2.0 and 2.1 that 2.2 renamed or moved, with the
term that replaced them, so an older policy is told what to write instead.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

from sargs.domains.policy.problems import did_you_mean

DPV_PREFIX = "https://w3id.org/dpv"


@dataclass(frozen=True)
class Vocabulary:
    version: str
    namespaces: dict[str, str]  # prefix -> namespace IRI
    terms: frozenset[str]  # full IRIs
    replaced: dict[str, tuple[str | None, str | None]]  # old IRI -> (new IRI, version that changed it)

    def problem(self, iri: str) -> str | None:
        """Why `iri` is not a DPV term of this version, with what to write instead; None if it is."""
        if iri in self.terms:
            return None
        old = self.replaced.get(iri)
        if old is not None:
            by, since = old
            if by is None:
                return f"{iri!r} was removed in DPV {since}" + self._suggest(iri)
            if since is None:
                what = "is not a DPV term"
            elif by.rsplit("#", 1)[-1] == iri.rsplit("#", 1)[-1]:
                what = f"moved to another DPV namespace in DPV {since}"
            else:
                what = f"was renamed in DPV {since}"
            return f"{iri!r} {what}: use {by!r}"
        prefix, _, name = iri.partition(":")
        if prefix in self.namespaces and not name.startswith("//"):  # a compact IRI such as dpv:Consent
            full = self.namespaces[prefix] + name
            if full in self.terms:
                return f"write DPV terms as full IRIs: {full!r}, not {iri!r}"
            return f"unknown DPV {self.version} term {iri!r} ({full})" + self._suggest(full)
        namespace = self._namespace(iri)
        if namespace is None:
            known = ", ".join(sorted(self.namespaces.values()))
            return f"{iri!r} is not in a DPV vocabulary Sargs knows (DPV {self.version}: {known})"
        return f"unknown DPV {self.version} term {iri!r}" + self._suggest(iri)

    def _namespace(self, iri: str) -> str | None:
        found = [ns for ns in self.namespaces.values() if iri.startswith(ns)]
        return max(found, key=len) if found else None

    def _suggest(self, iri: str) -> str:
        namespace = self._namespace(iri)
        if namespace is None:
            return ""
        names = {
            t[len(namespace) :]: t
            for t in self.terms
            if t.startswith(namespace) and "#" not in t[len(namespace) :]
        }
        hint = did_you_mean(iri[len(namespace) :], names)
        return f"; did you mean {names[hint]!r}?" if hint else ""


@cache
def dpv() -> Vocabulary:
    """The bundled DPV term list (read once)."""
    data = json.loads(files("sargs.domains.policy").joinpath("dpv-terms.json").read_text(encoding="utf-8"))
    namespaces: dict[str, str] = data["namespaces"]
    terms = frozenset(namespaces[prefix] + name for prefix, names in data["terms"].items() for name in names)
    replaced = {old: (r["by"], r["in"]) for old, r in data["replaced"].items()}
    return Vocabulary(data["dpv_version"], namespaces, terms, replaced)


Loc = tuple[str | int, ...]


def term_problems(iris: list[tuple[Loc, str | None]]) -> list[tuple[Loc, str]]:
    """The DPV IRIs (at their locations) that are not terms of the bundled DPV version."""
    vocabulary = dpv()
    out: list[tuple[Loc, str]] = []
    for loc, iri in iris:
        message = vocabulary.problem(iri) if iri is not None else None
        if message is not None:
            out.append((loc, message))
    return out
