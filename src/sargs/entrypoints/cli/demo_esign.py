"""`sargs demo`, issue 16: a throw-away test CA made in the demo folder at start (its trust folder is
SARGS_ESIGN_TRUST), a sample ASiC-E request signed by a made-up person and a tampered copy, and two
e-mail requests at the retailer: the signed one verifies with the signer's name shown, the tampered
one is refused with the reason. Nothing of it is in the repository; the CA key is not kept."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sargs.core.errors import SargsError
from sargs.domains.dsr.intake import Intake, file_request
from sargs.domains.dsr.service import DsrActor, verify_identity
from sargs.domains.subjects.identifiers import Identity
from sargs.entrypoints.container import Container
from sargs.entrypoints.dsr_common import signed_file_evidence

SIGNER = ("Jānis", "Paraugs", "PNOLV-000000-00000")  # a made-up person and code (not a real one)
REQUEST_TEXT = (
    "Pieprasījums / Request\n\n"
    "Lūdzu izsniegt visus manus personas datus, ko apstrādājat (VDAR 15. pants).\n"
    "Please give me all my personal data that you process (GDPR Art. 15).\n\n"
    "Jānis Paraugs, Parauga iela 1, Rīga; janis.paraugs@example.lv\n"
)


@dataclass(frozen=True)
class DemoEsign:
    trust: Path
    signed: Path
    tampered: Path


def prepare_demo_esign(directory: Path) -> DemoEsign:
    """DIR/esign: trust/ca.pem (the demo CA), request-signed.asice and request-tampered.asice."""
    from sargs.integrations.esign import sample

    folder = directory / "esign"
    ca = sample.make_ca("Sargs Demo Test CA (not a real CA)")
    trust = sample.write_trust_folder(folder / "trust", ca)
    given, surname, code = SIGNER
    signer = sample.make_signer(ca, given=given, surname=surname, code=code)
    files = {"pieprasijums.txt": REQUEST_TEXT.encode()}
    container = sample.signed_asice(files, signer)
    signed = folder / "request-signed.asice"
    signed.write_bytes(container)
    tampered = folder / "request-tampered.asice"
    changed = REQUEST_TEXT.replace("VDAR 15. pants", "VDAR 17. pants").encode()
    tampered.write_bytes(sample.replace_file(container, "pieprasijums.txt", changed))
    return DemoEsign(trust=trust, signed=signed, tampered=tampered)


def file_demo_esign_requests(c: Container, esign: DemoEsign) -> list[str]:
    """Two e-mail access requests at the retailer, one verified by the signed file, one refused for the
    tampered copy; the lines `sargs demo` prints about them."""
    controller = next((p.controllers[0].id for p in c.registry.policies if p.id == "retailer"), None)
    if controller is None:
        controller = c.registry.policies[0].controllers[0].id
    actor = DsrActor("system", "demo")
    lines = []
    for path, label in ((esign.signed, "signed"), (esign.tampered, "tampered")):
        evidence, result = signed_file_evidence(c, file_name=path.name, data=path.read_bytes())
        with c.sessions.begin() as session:
            row = file_request(
                session=session,
                registry=c.registry,
                intake=Intake(
                    controller=controller,
                    kind="access",
                    channel="email",
                    identities=[Identity("email", "janis.paraugs@example.lv")],
                    requester={
                        "name": "Jānis Paraugs",
                        "address": "Parauga iela 1, Rīga",
                        "contact": "janis.paraugs@example.lv",
                        "signed": True,
                    },
                    details="e-mail with an e-signed request (.asice)",
                ),
                actor=actor,
                now=c.clock.now(),
            )
            request_id = row.id
        try:
            with c.sessions.begin() as session:
                from sargs.domains.dsr.service import lock_request

                row = lock_request(session=session, request_id=request_id)
                verify_identity(
                    session=session,
                    request=row,
                    method="e_signature",
                    evidence=evidence,
                    actor=actor,
                    now=c.clock.now(),
                    signature=result,
                )
            who = f"{result.signer_name} ({result.personal_code})"
            lines.append(f"{label}: request {request_id} verified — {result.status}, signer {who}")
        except SargsError as exc:
            lines.append(f"{label}: request {request_id} refused — {exc.message}")
    return lines
