"""The `sargs` command starts with the garbage collector paused (sargs.core.startup)."""

from __future__ import annotations

import gc
import subprocess
import sys

from sargs.core import startup


def test_resume_without_pause_leaves_the_collector_alone() -> None:
    gc.disable()
    try:
        startup.resume()
        assert not gc.isenabled()  # someone else's choice is not undone
    finally:
        gc.enable()
    startup.resume()
    assert gc.isenabled()


def test_pause_then_resume_freezes_once() -> None:
    assert gc.isenabled()
    try:
        startup.pause()
        assert not gc.isenabled()
        startup.resume()
        assert gc.isenabled()
        assert gc.get_freeze_count() > 0
        startup.resume()  # a second call does nothing
        assert gc.isenabled()
    finally:
        gc.unfreeze()
        gc.enable()


def test_commands_run_with_the_collector_resumed() -> None:
    code = (
        "import gc, sys\nsys.argv = ['sargs', 'policy', 'examples']\n"
        "from sargs.__main__ import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(gc.isenabled(), gc.get_freeze_count() > 0)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split()[-2:] == ["True", "True"]
