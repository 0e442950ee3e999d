"""A test CA, its trust folder and a signer, shared by the API, console and CLI tests of e-signed
requests (issue 16). The files are made per test run; nothing is kept in the repository."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sargs.integrations.esign import sample

REQUEST = {"pieprasijums.txt": "Lūdzu izsniegt manus personas datus.".encode()}


@dataclass
class Esign:
    ca: sample.Identity
    signer: sample.Identity
    trust: Path

    def signed(self) -> bytes:
        return sample.signed_asice(REQUEST, self.signer)

    def tampered(self) -> bytes:
        return sample.replace_file(self.signed(), "pieprasijums.txt", "Lūdzu dzēst visu.".encode())


def make_esign(folder: Path, *, given: str = "Juris", surname: str = "Bērziņš") -> Esign:
    ca = sample.make_ca()
    signer = sample.make_signer(ca, given=given, surname=surname, code="PNOLV-222222-22222")
    return Esign(ca=ca, signer=signer, trust=sample.write_trust_folder(folder, ca))
