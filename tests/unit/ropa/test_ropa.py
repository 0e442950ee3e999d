"""The Art. 30 record from the example policies, and the processor-contract check (R-ROPA-1,2)."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest

from sargs.core.errors import Conflict, InvalidInput
from sargs.domains.policy.schema import Policy
from sargs.domains.ropa.processors import check_disclosure, contract_status
from sargs.domains.ropa.record import CSV_HEADER, build_record, record_csv, record_document
from sargs.integrations.documents.pdf import render_pdf

TODAY = date(2026, 11, 23)


def _policy(policies: list[Policy], policy_id: str) -> Policy:
    return next(p for p in policies if p.id == policy_id)


def _with_contract(policy: Policy, processor_id: str, **contract: object) -> Policy:
    data = policy.model_dump()
    for proc in data["processors"]:
        if proc["id"] == processor_id:
            proc["contract"].update(contract)
    return Policy.model_validate(data)


def test_every_controller_of_both_policies_gets_a_record_with_sections_a_to_g(
    example_policies: list[Policy],
) -> None:
    for policy in example_policies:
        for controller in policy.controllers:
            for lang in ("lv", "en"):
                record = build_record(policy=policy, controller_id=controller.id, language=lang, today=TODAY)
                assert record.controller[0][1] == controller.legal_name
                assert record.purposes, controller.id
                assert all(p.legal_basis and p.retention for p in record.purposes)
                doc = record_document(record)
                headings = [b.text for b in doc.blocks if hasattr(b, "level")]
                assert len(headings) == 5 and headings[-1].startswith(("(g)", "g)"))


def test_the_telecom_record_names_purposes_bases_retention_and_the_repair_processor(
    example_policies: list[Policy],
) -> None:
    policy = _policy(example_policies, "lmt-group")
    retail = build_record(policy=policy, controller_id="lmt-retail", language="en", today=TODAY)
    repair = next(p for p in retail.purposes if p.id == "device-repair")
    assert repair.processors == ["TSC"]
    assert [e.name for e in retail.processors] == ["TSC"] and retail.processors[0].in_force
    lmt = build_record(policy=policy, controller_id="lmt", language="en", today=TODAY)
    assert lmt.processors == []  # TSC works for LMT Retail & Logistics only
    loyalty = next(p for p in lmt.purposes if p.id == "loyalty")
    assert loyalty.legal_basis == "consent (Art. 6(1)(a))"
    assert any("P2Y after the last transaction" in r for r in loyalty.retention)
    assert lmt.controller[1] == ("Registration number", "50003050931")


def test_what_the_policy_does_not_say_is_marked_not_invented(example_policies: list[Policy]) -> None:
    record = build_record(
        policy=_policy(example_policies, "lytagra-group"),
        controller_id="lytagra-lv",
        language="lv",
        today=TODAY,
    )
    assert record.dpo is None and not record.security_stated
    text = " ".join(
        " ".join(str(v) for v in getattr(b, "rows", []) or [getattr(b, "text", "")])
        for b in record_document(record).blocks
    )
    assert "NAV POLITIKĀ" in text and "politikā nav norādīts" in text


def test_the_pdf_and_csv_carry_the_record(example_policies: list[Policy]) -> None:
    import pypdf

    record = build_record(
        policy=_policy(example_policies, "lytagra-group"),
        controller_id="lytagra-lv",
        language="lv",
        today=TODAY,
    )
    pdf = render_pdf(record_document(record))
    text = " ".join(" ".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf)).pages).split())
    assert (
        "Apstrādes darbību reģistrs" in text
        and 'AS „Lytagra"' in text
        and "Sūtījumu piegādes partneri" in text
    )
    rows = list(csv.reader(io.StringIO(record_csv(record))))
    assert rows[0] == CSV_HEADER
    assert len(rows) == 1 + len(record.purposes)
    assert all(row[0] == "lytagra-lv" for row in rows[1:])


def test_csv_cells_never_start_a_spreadsheet_formula(example_policies: list[Policy]) -> None:
    data = _policy(example_policies, "lytagra-group").model_dump()
    data["purposes"][0]["title"] = {"lv": "=HYPERLINK(1)", "en": "=HYPERLINK(1)"}
    record = build_record(
        policy=Policy.model_validate(data), controller_id="lytagra-lv", language="en", today=TODAY
    )
    assert "'=HYPERLINK(1)" in record_csv(record)


def test_contract_status_follows_dates_and_the_clause(example_policies: list[Policy]) -> None:
    policy = _policy(example_policies, "lmt-group")
    expired = _with_contract(policy, "tsc", expires=date(2026, 1, 1))
    status = contract_status(expired.processors[0], today=TODAY)
    assert (status.state, status.in_force) == ("expired", False) and "2026-01-01" in (status.reason or "")
    future = _with_contract(policy, "tsc", signed=date(2027, 1, 1))
    assert contract_status(future.processors[0], today=TODAY).state == "not_yet_signed"
    no_clause = _with_contract(policy, "tsc", data_protection_clause=False)
    assert not contract_status(no_clause.processors[0], today=TODAY).in_force
    assert contract_status(policy.processors[0], today=TODAY).in_force


def test_disclosure_goes_only_to_a_processor_with_a_contract_in_force_within_its_remit(
    example_policies: list[Policy],
) -> None:
    policy = _policy(example_policies, "lmt-group")
    ok = check_disclosure(
        policy=policy,
        processor_id="tsc",
        data_categories=["contact"],
        purpose="device-repair",
        today=TODAY,
        controller="lmt-retail",
    )
    assert ok.id == "tsc"
    for contract in ({"status": "terminated"}, {"status": "draft"}, {"expires": date(2025, 12, 31)}):
        with pytest.raises(Conflict, match="contract") as err:
            check_disclosure(
                policy=_with_contract(policy, "tsc", **contract),
                processor_id="tsc",
                data_categories=["contact"],
                purpose="device-repair",
                today=TODAY,
            )
        assert err.value.details["field"] == "processor"
    with pytest.raises(Conflict, match="does not process data for"):
        check_disclosure(
            policy=policy,
            processor_id="tsc",
            data_categories=[],
            purpose="device-repair",
            today=TODAY,
            controller="lmt",
        )
    with pytest.raises(Conflict, match="not engaged for purpose"):
        check_disclosure(policy=policy, processor_id="tsc", data_categories=[], purpose="offers", today=TODAY)
    with pytest.raises(Conflict, match="location"):
        check_disclosure(
            policy=policy,
            processor_id="tsc",
            data_categories=["location"],
            purpose="device-repair",
            today=TODAY,
        )
    with pytest.raises(InvalidInput, match="unknown processor"):
        check_disclosure(
            policy=policy, processor_id="acme", data_categories=[], purpose="offers", today=TODAY
        )
