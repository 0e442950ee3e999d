"""Regenerate the bundled DPV term list (src/sargs/domains/policy/dpv-terms.json) from a DPV checkout.

    git clone https://github.com/w3c/dpv /tmp/dpv
    python tools/dpv_terms.py /tmp/dpv            # or a bare git directory of it (read with git show)

It reads the CSV exports DPVCG publishes per version (`<version>/dpv/dpv.csv` and so on) of the
vocabularies a policy may name: DPV core, the personal-data extension (pd), the EU GDPR extension
and the finance sector extension (where `dpv:CreditChecking` went after 2.0). Terms of the earlier
2.x versions that are gone from the bundled version are listed as replaced, with the term that took
their place where one is found: the same name in another namespace (moved), the same label, or a
near spelling in the same namespace (the British spellings of 2.2: BrowsingBehavior ->
BrowsingBehaviour). `sargs policy check` suggests those replacements.
"""

from __future__ import annotations

import argparse
import csv
import difflib
import io
import itertools
import json
import subprocess
import sys
from pathlib import Path

VERSION = "2.2"
EARLIER = ("2.0", "2.1")
OUT = Path(__file__).resolve().parents[1] / "src/sargs/domains/policy/dpv-terms.json"

# prefix -> (namespace IRI, CSV file inside a version's folder)
VOCABULARIES = {
    "dpv": ("https://w3id.org/dpv#", "dpv/dpv.csv"),
    "pd": ("https://w3id.org/dpv/pd#", "pd/pd.csv"),
    "eu-gdpr": ("https://w3id.org/dpv/legal/eu/gdpr#", "legal/eu/gdpr/eu-gdpr.csv"),
    "sector-finance": ("https://w3id.org/dpv/sector/finance#", "sector/finance/sector-finance.csv"),
}

# Not DPV terms in any version, but written often enough to deserve a pointer (Sargs' own notes).
HINTS = {
    # GDPR Art. 6(1)(e) "public interest or official authority"; DPV core splits it in two
    # (dpv:PublicInterest, dpv:OfficialAuthority), the GDPR extension has the article itself.
    "https://w3id.org/dpv#PublicTask": "https://w3id.org/dpv/legal/eu/gdpr#A6-1-e",
}


class Checkout:
    """A DPV checkout: a work tree, or a (bare) git directory read at HEAD."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.tree = (path / VERSION).is_dir()

    def read(self, name: str) -> str:
        if self.tree:
            return (self.path / name).read_text(encoding="utf-8")
        shown = subprocess.run(
            ["git", "--git-dir", str(self.path), "show", f"HEAD:{name}"],
            capture_output=True,
            text=True,
            check=True,
        )
        return shown.stdout

    def commit(self) -> str:
        git = ["git", "-C", str(self.path)] if self.tree else ["git", "--git-dir", str(self.path)]
        found = subprocess.run([*git, "log", "-1", "--format=%H %cs"], capture_output=True, text=True)
        return found.stdout.strip() or "unknown"


def terms(checkout: Checkout, version: str) -> dict[str, str]:
    """IRI -> label of every term of the vocabularies in one version."""
    out: dict[str, str] = {}
    for namespace, name in VOCABULARIES.values():
        try:
            text = checkout.read(f"{version}/{name}")
        except (OSError, subprocess.CalledProcessError):
            continue  # the extension did not exist yet in that version
        for row in csv.DictReader(io.StringIO(text)):
            if row["iri"].startswith(namespace):
                out[row["iri"]] = row["label"]
    return out


def replacement(iri: str, label: str, current: dict[str, str]) -> str | None:
    """The term of the current version that took the place of a removed one, if one is clear."""
    name = iri.rsplit("#", 1)[1]
    namespace = iri[: -len(name)]
    moved = [i for i in current if i.rsplit("#", 1)[1] == name]
    if len(moved) == 1:
        return moved[0]
    same_label = [i for i, lab in current.items() if lab.lower() == label.lower()]
    if len(same_label) == 1:
        return same_label[0]
    siblings = {i.rsplit("#", 1)[1]: i for i in current if i.startswith(namespace) and "#" in i}
    close = difflib.get_close_matches(name, list(siblings), n=1, cutoff=0.9)
    return siblings[close[0]] if close else None


def build(checkout: Checkout) -> dict[str, object]:
    current = terms(checkout, VERSION)
    if not current:
        sys.exit(f"no DPV {VERSION} CSV files under {checkout.path}")
    replaced: dict[str, dict[str, str | None]] = {}
    versions = [*EARLIER, VERSION]
    for older, newer in itertools.pairwise(versions):
        before, after = terms(checkout, older), terms(checkout, newer)
        for iri, label in sorted(before.items()):
            if iri not in after and iri not in current and iri not in replaced:
                replaced[iri] = {"by": replacement(iri, label, current), "in": newer}
    for iri, by in HINTS.items():
        replaced.setdefault(iri, {"by": by, "in": None})
    return {
        "dpv_version": VERSION,
        "source": f"https://github.com/w3c/dpv {checkout.commit()}",
        "generated_by": "tools/dpv_terms.py",
        "namespaces": {prefix: ns for prefix, (ns, _) in VOCABULARIES.items()},
        "terms": {
            prefix: sorted(i[len(ns) :] for i in current if i.startswith(ns))
            for prefix, (ns, _) in VOCABULARIES.items()
        },
        "replaced": dict(sorted(replaced.items())),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkout", type=Path, help="a clone of https://github.com/w3c/dpv")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    data = build(Checkout(args.checkout))
    args.out.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    counts = ", ".join(f"{p}: {len(t)}" for p, t in data["terms"].items())  # type: ignore[attr-defined]
    print(f"{args.out}: DPV {VERSION} ({counts}); {len(data['replaced'])} replaced")  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
