"""The portability zip: one JSON of everything, one CSV per table, a bilingual README; reproducible."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import UTC, datetime

from sargs.domains.sources.portability import portability_zip
from sargs.domains.sources.reports import SourceAccess, TableRows

AT = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def accesses() -> list[SourceAccess]:
    return [
        SourceAccess(
            source="shop",
            tables=[
                TableRows(
                    "customers",
                    [{"id": 1, "full_name": "Jānis Bērziņš", "email": "janis@example.lv", "phone": None}],
                    {"full_name": "name", "email": "email", "phone": "phone"},
                ),
                TableRows("orders", [{"id": 7, "customer_id": 1, "placed_at": "2020-01-01T00:00:00"}], {}),
            ],
        ),
        SourceAccess(source="loyalty", tables=[TableRows("members", [], {"msisdn": "contact"})]),
    ]


def test_the_zip_holds_json_csv_per_table_and_a_readme() -> None:
    data = portability_zip(accesses(), generated_at=AT, subject_ref="req-1")
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert z.namelist() == [
            "README.txt",
            "data.json",
            "shop/customers.csv",
            "shop/orders.csv",
            "loyalty/members.csv",
        ]
        doc = json.loads(z.read("data.json"))
        readme = z.read("README.txt").decode()
        customers = list(csv.reader(io.StringIO(z.read("shop/customers.csv").decode())))
        members = z.read("loyalty/members.csv").decode()
    assert doc["subject"] == "req-1"
    assert doc["sources"][0]["tables"][0]["rows"][0]["full_name"] == "Jānis Bērziņš"
    assert doc["sources"][0]["tables"][0]["categories"]["email"] == "email"
    assert customers == [
        ["id", "full_name", "email", "phone"],
        ["1", "Jānis Bērziņš", "janis@example.lv", ""],
    ]
    assert members == "\r\n"  # an empty table still gets its file
    assert "shop/customers.csv — 1 rindas; datu kategorijas: email: email, full_name: name" in readme
    assert "shop/customers.csv — 1 rows; data categories:" in readme


def test_the_same_input_gives_the_same_bytes() -> None:
    assert portability_zip(accesses(), generated_at=AT, subject_ref="r") == portability_zip(
        accesses(), generated_at=AT, subject_ref="r"
    )
    assert portability_zip(accesses(), generated_at=AT, subject_ref="r") != portability_zip(
        accesses(), generated_at=AT, subject_ref="other"
    )
