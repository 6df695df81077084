"""What the insight detectors cost, in one tree: run as a script with that tree's interpreter.

    TREE/.venv/bin/python bench/insights_child.py EVENTS.jsonl [--repeat 3]   (cwd = TREE)

Decodes the stream once into memory (the tree's ``spendwatch.events.decode``; bad lines are left
out, as replay leaves them out of the Engine), then times fresh Engines over the same events, each
figure the process CPU time (``time.process_time``) of the Engine loop alone, median of
``--repeat``, the configurations run round-robin (one pass of each, then the next round) so that a
busy spell on a shared machine spreads over all of them:

- ``incident``: the default detectors that report no insight kind;
- ``every``: every default detector;
- ``plus:NAME``: the incident detectors and the insight detector NAME.

One untimed pass of ``every`` comes first (lazy imports and first-call caches). Then one more pass of
``every`` with each detector class's ``process`` and ``tick`` wrapped in a ``perf_counter_ns`` clock
gives the time spent inside each detector (``inside_s``, wall time of the calls, the wrapper's own
cost included) and its calls; it is not one of the timed passes. State after the stream: the
pickled size of each insight detector's instances and of the shared states (``context.states``) its
name prefixes, and the whole snapshot. Prints one JSON object. Imports only the tree's own code and
the standard library.

With ``--replay incident`` or ``--replay every`` it runs ``spendwatch replay`` itself (the tree's CLI,
file reading, decoding, the Engine and writing the output), with the insight detectors taken out of
the default list or not: the parent reads the child's CPU time, the figure closest to what a user
pays. With ``--only CONFIG`` it makes one untimed pass of that configuration and nothing else: the parent
runs it under ``valgrind --tool=cachegrind`` for an instruction count, which, unlike CPU time on a
shared machine, is the same from one run to the next.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import pickle
import statistics
import sys
import time
from collections import Counter
from typing import Any

sys.path[0] = os.getcwd()  # the tree's packages, not this file's folder (see ablation_child.py)


def main() -> int:
    from detectors.engine import Engine
    from detectors.registry import default_detector_classes
    from spendwatch.events import BadEvent, decode

    ap = argparse.ArgumentParser()
    ap.add_argument("events")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--only", choices=("none", "empty", "incident", "insight", "every"),
                    help="decode, then one untimed pass of this configuration only (none: no pass; empty: an "
                         "Engine without detectors; insight: the insight detectors alone), and exit: for an "
                         "instruction count of the pass under valgrind (the parent subtracts 'none')")
    ap.add_argument("--replay", choices=("incident", "every"),
                    help="run `spendwatch replay EVENTS` itself (this tree's CLI) with the default detectors, or "
                         "with the insight detectors taken out of the default list, and exit: the parent reads "
                         "the process's CPU time")
    ap.add_argument("--out", default=os.devnull, help="with --replay: where the anomalies and insights go")
    args = ap.parse_args()
    if args.replay is not None:
        return _replay(args.events, args.replay, args.out)
    events: list[dict[str, Any]] = []
    with open(args.events, "rb") as f:
        for line in f:
            try:
                events.append(decode(line))
            except BadEvent:
                continue
    by_type = Counter(e["type"] for e in events)
    every = default_detector_classes()
    incident = [c for c in every if not c.insight_kinds]
    insight = [c for c in every if c.insight_kinds]
    configs: dict[str, list[Any]] = {"incident": incident, "every": every}
    for cls in insight:
        configs[f"plus:{cls.name}"] = [*incident, cls]

    if args.only is not None:
        if args.only != "none":
            chosen = [] if args.only == "empty" else insight if args.only == "insight" else configs[args.only]
            engine0 = Engine(detector_classes=chosen)
            for e in events:
                engine0.process(e)
        print(json.dumps({"events": len(events), "only": args.only}))
        return 0

    def one(classes: list[Any]) -> tuple[float, Any]:
        engine = Engine(detector_classes=classes)
        gc.collect()
        t0 = time.process_time()
        for e in events:
            engine.process(e)
        return time.process_time() - t0, engine

    _s, engine = one(every)  # warm-up, untimed; its Engine gives the state sizes
    times: dict[str, list[float]] = {name: [] for name in configs}
    for _ in range(args.repeat):
        for name, classes in configs.items():
            times[name].append(one(classes)[0])

    inside: dict[str, list[float]] = {c.name: [0.0, 0.0] for c in every}  # name -> [ns, calls]
    saved = {c: (c.__dict__.get("process"), c.__dict__.get("tick")) for c in every}

    def wrap(cls: Any, meth: str) -> None:
        orig = getattr(cls, meth)
        acc = inside[cls.name]
        clock = time.perf_counter_ns

        def timed(self: Any, arg: Any) -> Any:
            t = clock()
            try:
                return orig(self, arg)
            finally:
                acc[0] += clock() - t
                acc[1] += 1

        setattr(cls, meth, timed)

    for cls in every:
        wrap(cls, "process")
        wrap(cls, "tick")
    try:
        one(every)
    finally:
        for cls, (proc, tick) in saved.items():
            for meth, orig in (("process", proc), ("tick", tick)):
                if orig is None:
                    delattr(cls, meth)
                else:
                    setattr(cls, meth, orig)

    state: dict[str, Any] = {}
    for cls in insight:
        sizes = [len(pickle.dumps(inst)) for (name, _k), inst in engine._instances.items() if name == cls.name]
        prefixes = {cls.name, cls.name.split("_")[0]}
        shared = [len(pickle.dumps(st)) for (name, _k), st in engine.context.states.items()
                  if name.split(".")[0] in prefixes]
        state[cls.name] = {"instances": len(sizes), "instance_bytes_mean": statistics.fmean(sizes) if sizes else 0.0,
                           "instance_bytes_max": max(sizes, default=0), "shared_states": len(shared),
                           "shared_bytes_mean": statistics.fmean(shared) if shared else 0.0}
    print(json.dumps({
        "events": len(events), "by_type": dict(sorted(by_type.items())),
        "insight": [c.name for c in insight],
        "consumes": {c.name: list(c.event_types) for c in insight},
        "cpu_s": {name: statistics.median(ts) for name, ts in times.items()},
        "cpu_s_all": times,
        "inside_s": {name: ns / 1e9 for name, (ns, _n) in inside.items()},
        "inside_calls": {name: int(n) for name, (_ns, n) in inside.items()},
        "state": state,
        "snapshot_bytes": len(engine.snapshot()),
    }))
    return 0


def _replay(path: str, which: str, out: str) -> int:
    import detectors.engine
    from detectors.registry import default_detector_classes
    from spendwatch.cli import main as cli

    if which == "incident":
        def incident_only() -> list[Any]:
            return [c for c in default_detector_classes() if not c.insight_kinds]

        detectors.engine.default_detector_classes = incident_only  # type: ignore[assignment]
    return cli(["replay", path, "--out", out, "--insights", out + ".insights" if out != os.devnull else out,
                "--progress", "never"])


if __name__ == "__main__":
    sys.exit(main())
