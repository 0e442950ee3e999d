"""Start-up with the cyclic garbage collector paused.

Starting `sargs serve` builds some 190,000 objects that live as long as the process: modules,
pydantic and SQLAlchemy models, FastAPI routes. While they are built, the collector runs hundreds
of times and scans them again and again (about a seventh of the time to the first answer), and
finds next to nothing to free. The `sargs` command (sargs.__main__) pauses it first thing; the
command resumes it once its start-up is over: `serve` when the application is built, every other
command before it runs. What start-up left behind is then collected, and the rest moved out of the
collector's sight (`gc.freeze`), so later collections do not scan it again either.

Only the command pauses: a program or test that imports Sargs keeps its collector as it was.
"""

from __future__ import annotations

import gc

_paused = False


def pause() -> None:
    """Pause the collector, if it runs; `resume` undoes it."""
    global _paused
    if gc.isenabled():
        gc.disable()
        _paused = True


def resume() -> None:
    """Start-up is over: collect its garbage, freeze what lives on and resume the collector.
    Does nothing unless `pause` paused it (so calling it twice is harmless)."""
    global _paused
    if not _paused:
        return
    _paused = False
    gc.collect()
    gc.freeze()
    gc.enable()
