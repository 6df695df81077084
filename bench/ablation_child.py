"""Where replay's time goes, by ablation, in one tree: run as a script with that tree's interpreter.

    TREE/.venv/bin/python bench/ablation_child.py EVENTS.jsonl [--repeat 3]   (cwd = TREE)

Prints one JSON object: CPU seconds (``time.process_time``, median of ``--repeat``) of passes over the
lines (read into memory first, so file I/O is not counted) that each do a little more:

- ``read``: the bare loop over the lines (``strip``);
- ``loads``: + ``orjson.loads``;
- ``decode``: + validation (the tree's decode-or-reject);
- ``engine0``: the tree's replay loop with an Engine that runs no detector (loop + dispatch);
- ``full``: the replay loop with every default detector;
- ``minus:NAME``: every detector but NAME; ``minus:drift+retrain_without_drift``: neither of the two
  that share a drift state.

One untimed pass of ``full`` comes first (lazy imports and first-call caches would otherwise be charged
to whichever pass runs first). Configurations then run round-robin (one pass of each, then the next
round) so that a busy spell on a shared machine spreads over all of them. Differences of two medians
are noisy: a part under a few percent can come out slightly negative. Imports only the tree's own
code and the standard library.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

# run by path, this file's folder (bench/) would come first on sys.path and shadow the tree's packages
# (bench/streams.py is not the tree's streams/): the tree, the working directory, comes first instead
sys.path[0] = os.getcwd()


def _decoder() -> Callable[[bytes], Any]:
    try:
        from streams.intake import decode_or_reject as checked

        return checked
    except ImportError:
        from spendwatch.errors import BadEvent
        from spendwatch.events import decode

        def decode_or_reject(raw: bytes) -> Any:
            try:
                return decode(raw)
            except BadEvent as exc:
                return exc

        return decode_or_reject


def _replay() -> tuple[Any, Any]:
    try:
        from streams.replay import ReplayStats, replay_lines
    except ImportError:
        from spendwatch.replay import ReplayStats, replay_lines  # type: ignore[no-redef]
    return ReplayStats, replay_lines


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("events")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    import orjson

    from detectors.engine import Engine
    from detectors.registry import default_detector_classes

    with open(args.events, "rb") as f:
        lines = f.readlines()
    decode = _decoder()
    stats_cls, replay_lines = _replay()
    classes = default_detector_classes()
    names = [c.name for c in classes]

    def p_read() -> None:
        for raw in lines:
            raw.strip()

    def p_loads() -> None:
        loads = orjson.loads
        for raw in lines:
            loads(raw.strip())

    def p_decode() -> None:
        for raw in lines:
            decode(raw.strip())

    def p_engine(cls_list: list[Any]) -> Callable[[], None]:
        def run() -> None:
            engine = Engine(detector_classes=cls_list)
            for _ in replay_lines(lines, engine, stats_cls()):
                pass
        return run

    configs: dict[str, Callable[[], None]] = {"read": p_read, "loads": p_loads, "decode": p_decode,
                                              "engine0": p_engine([]), "full": p_engine(classes)}
    for n in names:
        configs[f"minus:{n}"] = p_engine([c for c in classes if c.name != n])
    pair = {"drift", "retrain_without_drift"}
    if pair <= set(names):
        configs["minus:drift+retrain_without_drift"] = p_engine([c for c in classes if c.name not in pair])
    times: dict[str, list[float]] = {k: [] for k in configs}
    configs["full"]()  # untimed warm-up: first-call imports and caches (scipy, numpy) are not a part's cost
    for _ in range(args.repeat):
        for name, fn in configs.items():
            gc.collect()
            t0 = time.process_time()
            fn()
            times[name].append(time.process_time() - t0)
            print(f"  {name}: {times[name][-1]:.2f} s", file=sys.stderr, flush=True)
    print(json.dumps({"lines": len(lines), "detectors": names,
                      "cpu_s": {k: statistics.median(v) for k, v in times.items()},
                      "runs": times}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
