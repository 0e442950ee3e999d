"""Blocking work (a database transaction) run off the event loop, in the entrypoints' own threads.

FastAPI runs a plain `def` route in anyio's threadpool; a hot route that is `async def` and hands
only its transaction to `blocking` pays for one cheaper hand-off (concurrent.futures, no cancel
scope or capacity limiter per call) and none for its validation, dependencies and response
(benchmarks/consent.py measures the routes that do). The pool is as large as the database
engine's (pool_size + max_overflow), so a thread never waits for a connection another thread
of the same pool is not using.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

# PostgreSQL's pool: 10 + 20 overflow (core.db.make_engine).
THREADS = 30
_executor = ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix="sargs-db")


async def blocking(fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """`fn(*args, **kwargs)` in a worker thread, with this request's context variables."""
    context = contextvars.copy_context()
    call = functools.partial(context.run, fn, *args, **kwargs)
    return await asyncio.get_running_loop().run_in_executor(_executor, call)
