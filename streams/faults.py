"""Crash injection for the kill tests: ``SPENDWATCH_FAULT_KILL=<point>:<n>`` SIGKILLs this process the
n-th time it reaches ``point`` (``commit``: with the transaction's EndTxn request in flight;
``state_sent``: state records sent, offsets not yet; ``offsets_sent``; ``outputs``: an output
sent, checkpoint not begun). Unset (always, outside tests) it costs one dict lookup.
"""

from __future__ import annotations

import asyncio
import os
import signal

_SPEC = os.environ.get("SPENDWATCH_FAULT_KILL", "")
_POINT, _, _N = _SPEC.partition(":")
_COUNT: dict[str, int] = {}


def _due(point: str) -> bool:
    if not _SPEC or point != _POINT:
        return False
    _COUNT[point] = _COUNT.get(point, 0) + 1
    return _COUNT[point] == int(_N or "1")


def _die(point: str) -> None:
    os.write(2, f"fault injection: SIGKILL at {point} #{_COUNT[point]}\n".encode())
    os.kill(os.getpid(), signal.SIGKILL)


def maybe_kill(point: str) -> None:
    if _due(point):
        _die(point)


async def maybe_kill_async(point: str) -> None:
    """Let requests already queued go out on the wire first, then die (a crash mid-request)."""
    if _due(point):
        for _ in range(3):
            await asyncio.sleep(0)
        _die(point)
