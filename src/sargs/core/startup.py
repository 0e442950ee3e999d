"""Start-up with the cyclic garbage collector paused.

Starting `sargs serve` builds some 190,000 objects that live as long as the process: modules,
pydantic and SQLAlchemy models, FastAPI routes. While they are built, the collector runs hundreds
of times and scans them again and again (about a seventh of the time to the first answer), and
finds next to nothing to free. The `sargs` command (sargs.__main__) pauses it first thing; the
command resumes it once its start-up is over: `serve` when the application is built, every other
command before it runs. What start-up built is then moved out of the collector's sight
(`gc.freeze`), so later collections do not scan it again either. It is frozen without a collection
first: that would take about 0.1 s to free the little garbage start-up leaves in reference cycles
(some 2,000 objects, about 1 MB), which is instead kept, once, for the life of the process.

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
    """Start-up is over: freeze what it built and resume the collector. Does nothing unless
    `pause` paused it (so calling it twice is harmless)."""
    global _paused
    if not _paused:
        return
    _paused = False
    gc.freeze()
    gc.enable()
