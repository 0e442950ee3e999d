"""The policy file's JSON Schema, for editors (`sargs policy schema`; docs/policy-schema.md).

It is made from the pydantic models themselves, so it says what the loader accepts: the keys of
each section (an unknown key is flagged), the allowed values of every choice, and, for the DPV
fields, the terms of the bundled DPV version — an editor completes them. Two places differ from
pydantic's own rendering because the file is YAML written by people: a retention period is the
ISO 8601 string (P10Y), not the object it is read into, and a DPV IRI is one of the known terms.
What a schema cannot say (references between sections, a period's anchor) `sargs policy check`
still reports.
"""

from __future__ import annotations

from typing import Any

from sargs.domains.policy.schema import Policy
from sargs.domains.policy.vocabulary import dpv

DRAFT = "https://json-schema.org/draft/2020-12/schema"
DPV_FIELDS = ("dpv_purpose", "dpv_legal_basis", "dpv_category")
# The durations Duration.parse reads (ECMAScript and Python regex alike: editors use the former).
DURATION_PATTERN = r"^P(?=\d)(?:\d+Y)?(?:\d+M)?(?:\d+W)?(?:\d+D)?$"


def _to_term(prop: dict[str, Any]) -> dict[str, Any]:
    """A DPV field's schema, its string form replaced by the list of DPV terms."""
    term = {"$ref": "#/$defs/DpvTerm"}
    if prop.get("type") == "string":
        rest = {k: v for k, v in prop.items() if k != "type"}
        return {**rest, **term}
    if "anyOf" in prop:
        return {**prop, "anyOf": [term if alt.get("type") == "string" else alt for alt in prop["anyOf"]]}
    return prop


def policy_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a policy file."""
    schema = Policy.model_json_schema()
    defs: dict[str, Any] = schema["$defs"]
    vocabulary = dpv()
    defs["Duration"] = {
        "type": "string",
        "pattern": DURATION_PATTERN,
        "description": "An ISO 8601 period of years, months, weeks and days, e.g. P10Y, P6M, P1Y6M, P30D.",
    }
    defs["DpvTerm"] = {
        "type": "string",
        "enum": sorted(vocabulary.terms),
        "description": f"A W3C Data Privacy Vocabulary {vocabulary.version} term IRI "
        "(core, personal data, EU GDPR or finance sector).",
    }
    for model in defs.values():
        for name, prop in model.get("properties", {}).items():
            if name in DPV_FIELDS:
                model["properties"][name] = _to_term(prop)
    return {
        "$schema": DRAFT,
        "title": "Sargs policy file",
        "description": "One group of controllers' privacy policy (see `sargs policy check`).",
        **{k: v for k, v in schema.items() if k not in ("title", "description")},
    }
