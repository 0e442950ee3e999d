"""The verifier processes of a parallel full verification (consent.parallel): a process that
cannot do its part fails the verification with an error, never a partial or hanging report."""

from __future__ import annotations

from pathlib import Path

import pytest

from sargs.domains.consent.parallel import run_parts


def test_a_failed_verifier_process_fails_the_run(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'missing' / 'ledger.db'}"  # its folder does not exist
    with pytest.raises(RuntimeError, match="ledger verifier process failed"):
        list(run_parts(url, None, [(None, "8"), ("8", None)], 2))
