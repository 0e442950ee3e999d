"""`sargs receipts key`: make a controller's receipt signing key."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer

from sargs.domains.consent.receipt_keys import ControllerKey, generate_key, key_id, private_jwk
from sargs.entrypoints.cli.output import console, err, fail


def make_receipts_cli() -> typer.Typer:
    """The `sargs receipts` commands."""
    app = typer.Typer(help="Signed consent receipts.", no_args_is_help=True)

    @app.command("key")
    def key(
        controller: Annotated[
            str, typer.Option(help="The controller (company id in the policy) the key signs for.")
        ],
        out: Annotated[
            Path,
            typer.Option(
                help="The JSON key file (SARGS_RECEIPT_KEYS_FILE): this controller's entry is added or "
                "replaced; created readable by its owner only.",
                dir_okay=False,
            ),
        ],
    ) -> None:
        """Make a new P-256 signing key for one controller's receipts; print its public JWK.

        The private key goes only into the file. Keep the old public key in
        SARGS_RECEIPT_RETIRED_KEYS when replacing a key, so receipts signed before still verify."""
        keys: dict[str, object] = {}
        if out.exists():
            try:
                keys = json.loads(out.read_text(encoding="utf-8"))
            except ValueError:
                raise fail(f"{out} is not a JSON key file") from None
            if not isinstance(keys, dict):
                raise fail(f"{out} is not a JSON key file (an object of controller ids)")
        new = generate_key()
        keys[controller] = private_jwk(new)
        tmp = out.with_name(out.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(keys, f, indent=2)
            f.write("\n")
        os.replace(tmp, out)
        public = ControllerKey(controller, key_id(controller, new), new).public_jwk()
        console.print_json(json.dumps(public))
        err.print(f"private key of {controller} written to {out} (use SARGS_RECEIPT_KEYS_FILE={out})")

    return app
