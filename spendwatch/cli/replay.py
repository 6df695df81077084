"""`spendwatch replay EVENTS.jsonl [--config FILE] [--out FILE]`: the driver is :func:`streams.replay.replay_stream`."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Iterator
from typing import IO, Any

from spendwatch.cli.flags import add_config, alias
from spendwatch.cli.output import iso, non_negative_float, non_negative_int, plural, print_json
from spendwatch.cli.settings import load as load_settings
from streams.replay import DEFAULT_REORDER_S, ReplayResult, ReplayStats, bounded_lines, replay_stream


def register(sub: Any) -> None:
    p = sub.add_parser(
        "replay",
        help="run the detector pipeline over a JSON-lines file of events (no Kafka)",
        description="Run the same detectors the stream worker runs over EVENTS.jsonl (one contract event "
                    "per line, sorted by ts), in event time, and write every anomaly event (open, updates, "
                    "resolved) as JSON lines. Bad lines are reported on stderr with their line number and "
                    "skipped. Exit 0 on success (also with bad lines), 1 when the file cannot be read.",
    )
    p.add_argument("events", metavar="EVENTS.jsonl", help="input events, one JSON object per line ('-' = stdin)")
    add_config(p)
    p.add_argument("--out", metavar="FILE", help="write anomaly events here (default: stdout)")
    p.add_argument("--insights", metavar="FILE",
                   help="write insight events here: structural waste that is reported, not paged (underused GPUs "
                        "and endpoints, batch work on endpoints, redundant training, unit-cost rises, budget "
                        "forecasts, spend growth); they never go to --out or stdout (default: not written)")
    p.add_argument("--max-bad-report", type=non_negative_int, default=100, metavar="N",
                   help="print at most N bad lines individually, then only count them (default: 100)")
    p.add_argument("--progress", choices=("auto", "always", "never"), default="auto",
                   help="progress bar on stderr (default: auto = when stderr is a terminal)")
    p.add_argument("--reorder-window", type=non_negative_float, default=DEFAULT_REORDER_S, metavar="SECONDS",
                   help="sort events by ts within this many seconds of event time, for files that are not "
                        "sorted (default: %(default)g; 0 = file order); what arrived out of order is reported")
    p.add_argument("--db", nargs="?", const="", default=None, metavar="URL",
                   help="also record every anomaly event in the history store at URL (bare --db: "
                        "$SPENDWATCH_DB, else ~/.local/share/spendwatch/history.db; default: not recorded)")
    alias(p, "--history", "db", nargs="?", const="")
    p.add_argument("--close-at-end", action=argparse.BooleanOptionalAction, default=True,
                   help="with --db: record what is still open when the file ends as resolved at the file's last "
                        "event time (evidence.resolution = ended_with_input), so history queries do not show it "
                        "burning for ever; --no-close-at-end keeps it open (default: close; the anomaly events "
                        "on stdout / --out are the Engine's either way)")
    p.add_argument("--truth", metavar="FILE",
                   help="score the run against a truth file, as the demo does: spendwatch simulate --truth FILE, or "
                        "the realistic generator's truth.json; a table (stdout with --out, else stderr), or "
                        "'truth_score' in the --json summary")
    p.add_argument("--json", action="store_true",
                   help="the closing summary as one JSON object on stderr (the anomaly events on stdout or --out "
                        "are JSON lines either way)")
    p.set_defaults(func=run)


class _Progress:
    """A one-line progress bar on stderr, by bytes read, redrawn at most 4 times a second."""

    def __init__(self, total_bytes: int, stream: IO[str]) -> None:
        self.total, self.stream, self.last, self.done = max(1, total_bytes), stream, 0.0, 0
        self.t0 = time.monotonic()

    def advance(self, nbytes: int, events: int) -> None:
        self.done += nbytes
        now = time.monotonic()
        if now - self.last >= 0.25:
            self.last = now
            frac = min(1.0, self.done / self.total)
            rate = events / max(now - self.t0, 1e-6)
            bar = "#" * int(frac * 30)
            self.stream.write(f"\rreplay [{bar:<30}] {frac * 100:5.1f}% {events:,} events {rate:,.0f}/s")
            self.stream.flush()

    def close(self) -> None:
        self.stream.write("\n")


def run(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    truth = None
    if args.truth:  # imported here: scoring pulls in the simulators' truth rules
        from streams.truth import read_truth

        truth = read_truth(args.truth)
    seen: list[dict[str, Any]] = []
    try:
        src: IO[bytes] = sys.stdin.buffer if args.events == "-" else open(args.events, "rb")  # noqa: SIM115
    except OSError as exc:
        print(f"spendwatch replay: cannot read {args.events}: {exc.strerror}", file=sys.stderr)
        return 1
    if os.path.isdir(args.events):
        print(f"spendwatch replay: cannot read {args.events}: it is a directory", file=sys.stderr)
        return 1
    show = args.progress == "always" or (args.progress == "auto" and sys.stderr.isatty())
    progress = _Progress(os.fstat(src.fileno()).st_size, sys.stderr) if show and args.events != "-" else None
    reported = 0
    stats = ReplayStats()

    def on_bad(lineno: int, reason: str, raw: bytes) -> None:
        nonlocal reported
        if reported < args.max_bad_report:
            reported += 1
            print(f"{args.events}:{lineno}: bad input: {reason}", file=sys.stderr)

    def lines() -> Iterator[bytes]:
        for raw in bounded_lines(src):
            if progress is not None:
                progress.advance(len(raw), stats.events)
            yield raw

    out: IO[bytes] = open(args.out, "wb") if args.out else sys.stdout.buffer  # noqa: SIM115
    insights: IO[bytes] | None = open(args.insights, "wb") if args.insights else None  # noqa: SIM115
    try:
        with src:
            result = replay_stream(lines(), settings, out, on_bad, history=args.db, stats=stats,
                                   reorder_s=args.reorder_window, insights=insights,
                                   close_at_end=args.close_at_end,
                                   on_event=seen.append if truth is not None else None)
    except BrokenPipeError:  # the reader of stdout left (`| head`): spendwatch.cli.main ends quietly
        raise
    except OSError as exc:
        print(f"spendwatch replay: cannot read {args.events}: {exc}", file=sys.stderr)
        return 1
    finally:
        out.flush()
        if args.out:
            out.close()
        if insights is not None:
            insights.close()
        if progress is not None:
            progress.close()
    elapsed = result.elapsed_s
    truth_score = None
    if truth is not None:
        from streams.truth import score as score_truth

        truth_score = score_truth(truth, seen)
    if args.json:
        print_json({"events": stats.events, "lines": stats.lines, "bad_lines": stats.bad,
                    "bad_by_reason": dict(sorted(stats.bad_by_reason.items())), "anomaly_events": stats.anomalies,
                    "insight_events": stats.insights, "insights_written": bool(args.insights),
                    "still_open": result.still_open, "still_open_as_of_ts": result.input_end_ts,
                    "reordered": stats.reordered, "too_late": stats.too_late,
                    "set_aside": dict(sorted(result.counters.items())), "recorded": result.recorded,
                    "closed_at_end": result.closed_at_end if result.recorded is not None else None,
                    "store": result.store_url, "elapsed_s": round(elapsed, 3),
                    "lines_per_s": round(stats.lines / max(elapsed, 1e-9)),
                    **({"truth_score": truth_score} if truth_score is not None else {})}, sys.stderr)
        return 0
    if result.recorded is not None:
        print(f"replay: recorded {plural(result.recorded, 'new anomaly event')} (insight events included) in "
              f"{result.store_url}", file=sys.stderr)
        if result.closed_at_end:
            print(f"replay: {plural(result.closed_at_end, 'anomaly or insight', 'anomalies and insights')} still "
                  f"open at the file's end recorded as resolved then (ended_with_input; --no-close-at-end keeps "
                  f"them open)", file=sys.stderr)
    if stats.bad > reported:
        print(f"... {stats.bad - reported} more bad lines not shown", file=sys.stderr)
    reasons = ", ".join(f"{k}: {v}" for k, v in sorted(stats.bad_by_reason.items()))
    print(f"replay: {plural(stats.events, 'event')}, {plural(stats.bad, 'bad line')}"
          f"{f' ({reasons})' if reasons else ''}, {plural(stats.anomalies, 'anomaly event')}, "
          f"{plural(stats.insights, 'insight event')}"
          f"{'' if args.insights else ' (not written: --insights FILE)'}, {_still_open(result)}, "
          f"{elapsed:.1f}s ({stats.lines / max(elapsed, 1e-9):,.0f} lines/s)", file=sys.stderr)
    if stats.reordered:
        late = f"; {stats.too_late:,} were older than the window let through and were processed late " \
               f"(raise --reorder-window)" if stats.too_late else ""
        were = "was" if stats.reordered == 1 else "were"
        print(f"replay: the file is not sorted by ts: {plural(stats.reordered, 'event')} arrived out of order and "
              f"{were} sorted within the {args.reorder_window:g} s window{late}", file=sys.stderr)
    if result.counters:
        said = ", ".join(f"{k}: {v:,}" for k, v in sorted(result.counters.items()))
        print(f"replay: set aside by detectors: {said}", file=sys.stderr)
    if truth_score is not None:
        from streams.truth import render as render_truth

        print(render_truth(truth_score), file=sys.stdout if args.out else sys.stderr)
    return 0


def _still_open(result: ReplayResult) -> str:
    """``3 still open as of the file's end (2026-03-25T00:00:00Z)``: open when the input ended, not now."""
    if not result.still_open or result.input_end_ts is None:
        return f"{result.still_open} still open"
    return (f"{result.still_open} still open as of the file's end ({iso(result.input_end_ts)}, in event time; "
            f"their $/day is what they burnt then)")
