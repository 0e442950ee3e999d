"""Every DPV IRI of a policy is checked against the bundled DPV 2.2 term list (issue 17): an unknown
term is refused at its line, a renamed or moved one names the term that replaced it, and the
problems come in the same one run as the rest."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.resources import files
from pathlib import Path

import pytest

from sargs.domains.policy.schema import LEGAL_BASIS_DPV
from sargs.domains.policy.vocabulary import dpv
from tests.unit.policy.test_loader import BASE, line_of, problems_of, replace, single_problem

PD = "https://w3id.org/dpv/pd#"
CORE = "https://w3id.org/dpv#"
ROOT = Path(__file__).resolve().parents[3]


def test_an_unknown_dpv_term_is_refused_at_its_line() -> None:
    text = replace(BASE, "https://w3id.org/dpv#DirectMarketing", "https://w3id.org/dpv#NotATerm")
    problem = single_problem(text)
    assert (problem.field, problem.line) == ("purposes[0].dpv_purpose", line_of(text, "dpv#NotATerm"))
    assert "unknown DPV 2.2 term 'https://w3id.org/dpv#NotATerm'" in problem.message


def test_a_compact_dpv_term_is_refused_with_its_full_iri() -> None:
    """Purposes refuse a compact IRI in the schema; categories and the rest meet it here."""
    assert (
        dpv().problem("dpv:NotATerm") == "unknown DPV 2.2 term 'dpv:NotATerm' (https://w3id.org/dpv#NotATerm)"
    )
    assert (
        dpv().problem("pd:Contact")
        == "write DPV terms as full IRIs: 'https://w3id.org/dpv/pd#Contact', not 'pd:Contact'"
    )
    assert "did you mean 'https://w3id.org/dpv/pd#Contact'" in (dpv().problem("pd:Contakt") or "")


def test_a_misspelt_dpv_term_gets_the_term_it_was_meant_to_be() -> None:
    text = replace(BASE, "https://w3id.org/dpv#DirectMarketing", "https://w3id.org/dpv#DirectMarketng")
    assert single_problem(text).message.endswith("did you mean 'https://w3id.org/dpv#DirectMarketing'?")


@pytest.mark.parametrize(
    ("old", "new", "since"),
    [
        (PD + "BrowsingBehavior", PD + "BrowsingBehaviour", "2.2"),
        (PD + "Behavioral", PD + "Behavioural", "2.2"),
        (CORE + "CreditChecking", "https://w3id.org/dpv/sector/finance#CreditChecking", "2.1"),
    ],
)
def test_a_renamed_or_moved_term_names_its_replacement(old: str, new: str, since: str) -> None:
    text = replace(BASE, "https://w3id.org/dpv#DirectMarketing", old)
    message = single_problem(text).message
    assert f"in DPV {since}: use {new!r}" in message and old in message


def test_public_task_is_not_a_dpv_term_and_points_at_gdpr_article_6_1_e() -> None:
    text = replace(BASE, "https://w3id.org/dpv#DirectMarketing", CORE + "PublicTask")
    assert (
        "is not a DPV term: use 'https://w3id.org/dpv/legal/eu/gdpr#A6-1-e'" in single_problem(text).message
    )
    assert set(LEGAL_BASIS_DPV.values()) <= dpv().terms  # the IRIs a legal_basis stands for


def test_a_data_category_and_a_legal_basis_are_checked_too() -> None:
    text = replace(
        BASE,
        "    dpv_purpose: https://w3id.org/dpv#DirectMarketing\n",
        (
            "    dpv_purpose: https://w3id.org/dpv#DirectMarketing\n"
            "    dpv_legal_basis: https://w3id.org/dpv#Consentt\n"
        ),
    )
    text = replace(text, "  - id: contact\n", f"  - id: contact\n    dpv_category: {PD}EmailAdress\n")
    problems = problems_of(text)
    assert {p.field for p in problems} == {"purposes[0].dpv_legal_basis", "data_categories[0].dpv_category"}
    assert any("did you mean 'https://w3id.org/dpv/pd#EmailAddress'?" in p.message for p in problems)


def test_a_namespace_outside_the_bundled_vocabularies_is_named_as_such() -> None:
    text = replace(BASE, "https://w3id.org/dpv#DirectMarketing", "https://w3id.org/dpv/tech#Cookie")
    assert "not in a DPV vocabulary Sargs knows" in single_problem(text).message


def test_a_wrong_term_comes_in_the_same_run_as_a_schema_error() -> None:
    text = replace(BASE, "https://w3id.org/dpv#DirectMarketing", "https://w3id.org/dpv#NotATerm")
    text = replace(text, "  review_interval_months: 24\n", "  review_intervl_months: 24\n")
    assert [p.field for p in problems_of(text)] == ["policy.review_intervl_months", "purposes[0].dpv_purpose"]


def test_the_term_list_is_dpv_2_2_and_its_generator_reproduces_it(tmp_path: Path) -> None:
    """tools/dpv_terms.py makes the bundled file from DPV's CSVs: run on a miniature checkout it
    writes the same shape, finds a rename by spelling and a move by name."""
    data = json.loads(files("sargs.domains.policy").joinpath("dpv-terms.json").read_text(encoding="utf-8"))
    assert data["dpv_version"] == "2.2" and "w3c/dpv" in data["source"]
    assert {"dpv", "pd", "eu-gdpr", "sector-finance"} <= set(data["terms"])
    header = '"term","type","iri","label"\n'
    rows = {
        "2.0/pd/pd.csv": [
            '"BrowsingBehavior","class","https://w3id.org/dpv/pd#BrowsingBehavior","Browsing Behavior"'
        ],
        "2.0/dpv/dpv.csv": [
            '"CreditChecking","class","https://w3id.org/dpv#CreditChecking","Credit Checking"'
        ],
        "2.1/pd/pd.csv": [
            '"BrowsingBehavior","class","https://w3id.org/dpv/pd#BrowsingBehavior","Browsing Behavior"'
        ],
        "2.1/dpv/dpv.csv": ['"Consent","class","https://w3id.org/dpv#Consent","Consent"'],
        "2.2/pd/pd.csv": [
            '"BrowsingBehaviour","class","https://w3id.org/dpv/pd#BrowsingBehaviour","Browsing Behaviour"'
        ],
        "2.2/dpv/dpv.csv": ['"Consent","class","https://w3id.org/dpv#Consent","Consent"'],
        "2.2/sector/finance/sector-finance.csv": [
            '"CreditChecking","class","https://w3id.org/dpv/sector/finance#CreditChecking","Credit Checking"'
        ],
    }
    for name, lines in rows.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(header + "\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "terms.json"
    subprocess.run(
        [sys.executable, str(ROOT / "tools/dpv_terms.py"), str(tmp_path), "--out", str(out)], check=True
    )
    made = json.loads(out.read_text(encoding="utf-8"))
    assert made["terms"]["pd"] == ["BrowsingBehaviour"] and made["terms"]["dpv"] == ["Consent"]
    assert made["replaced"][PD + "BrowsingBehavior"] == {"by": PD + "BrowsingBehaviour", "in": "2.2"}
    assert made["replaced"][CORE + "CreditChecking"] == {
        "by": "https://w3id.org/dpv/sector/finance#CreditChecking",
        "in": "2.1",
    }


def test_a_wrong_term_of_an_item_read_in_part_is_still_reported() -> None:
    text = replace(BASE, "    title: {lv: Piedāvājumi, en: Offers}\n", "")
    text = replace(text, "https://w3id.org/dpv#DirectMarketing", "https://w3id.org/dpv#NotATerm")
    assert [p.field for p in problems_of(text)] == ["purposes[0].title", "purposes[0].dpv_purpose"]
