"""Run the benchmarks: ``python -m bench [NAME ...] [--list]`` (``make bench``), or one benchmark
with its own options: ``python -m bench NAME --option ...`` (e.g. ``python -m bench replay --tree ../before``).

Every ``bench/bench_*.py`` module that exposes ``main(argv)`` (or ``main()``) is a benchmark;
with no NAME all of them run, in name order, each with its own defaults. A benchmark that fails
is reported and the others still run; the exit status is 1 when any failed.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any


def discover() -> dict[str, Callable[..., Any]]:
    """``{short name: main}`` for every bench module with a ``main``."""
    found: dict[str, Callable[..., Any]] = {}
    for info in sorted(pkgutil.iter_modules([str(Path(__file__).parent)]), key=lambda m: m.name):
        if not info.name.startswith("bench_"):
            continue
        module = importlib.import_module(f"bench.{info.name}")
        main = getattr(module, "main", None)
        if callable(main):
            found[info.name.removeprefix("bench_")] = main
    return found


def _call(main: Callable[..., Any], name: str, options: list[str] | None = None) -> int:
    """Call ``main(argv)`` with ``options`` (none: its defaults), or ``main()`` when it takes none."""
    params = inspect.signature(main).parameters
    saved = sys.argv
    sys.argv = [f"bench.bench_{name}", *(options or [])]  # for benches that parse sys.argv themselves
    try:
        rc = main(list(options or [])) if params else main()
    finally:
        sys.argv = saved
    return int(rc or 0)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    benches = discover()
    if args and args[0] in benches and len(args) > 1 and args[1].startswith("-"):
        return _call(benches[args[0]], args[0], args[1:])  # one benchmark with its own options
    if "--list" in args or "-h" in args or "--help" in args:
        print(__doc__)
        print("benchmarks:", ", ".join(benches) or "none")
        return 0
    unknown = [a for a in args if a not in benches]
    if unknown:
        print(f"unknown benchmark(s) {', '.join(unknown)}; available: {', '.join(benches)}", file=sys.stderr)
        return 2
    failed = []
    for name in args or list(benches):
        print(f"=== bench {name} ===", flush=True)
        t0 = time.perf_counter()
        try:
            rc = _call(benches[name], name)
        except Exception:  # noqa: BLE001 - one broken bench must not hide the others' figures
            traceback.print_exc()
            rc = 1
        print(f"=== bench {name}: {'ok' if rc == 0 else f'FAILED (rc={rc})'} in {time.perf_counter() - t0:.1f}s\n",
              flush=True)
        if rc:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
