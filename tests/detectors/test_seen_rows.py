"""The shared duplicate-row filter of the billing detectors (``detectors.stats.seen_rows``).

The budgets and unit-cost detectors ask one filter per workload instead of keeping one each. What
must hold: one delivery asked by both gets one answer, a row delivered again is a duplicate for
both, the window is the last 512 distinct rows as before, the two detectors together find exactly
what each finds alone, and a snapshot written when each kept its own filter restores with the rows
it had seen.
"""

from __future__ import annotations

import pickle
import random
from collections import deque
from pathlib import Path
from typing import Any

import orjson
import pytest

from detectors.base import Detector
from detectors.budget_forecast import BudgetForecastDetector
from detectors.engine import Engine
from detectors.stats.seen_rows import ROWS_KEPT, SEEN_ROWS, SeenRows, row_identity
from detectors.unit_cost import UnitCostDetector
from spendwatch.config import Settings
from spendwatch.events import validate

ROOT = Path(__file__).resolve().parents[2]
H = 3600.0
T0 = 1_772_323_200.0  # 2026-03-01 00:00 UTC
WL = {"id": "ads/ctr-serving", "kind": "inference", "team": "ads"}


def row(h: int, usd: float = 9.0, sku: str = "ml.g5.2xlarge") -> dict[str, Any]:
    return validate({"type": "billing_delta", "ts": T0 + (h + 1) * H + 300, "period_start": T0 + h * H,
                     "period_end": T0 + (h + 1) * H, "cost_usd": usd, "sku": sku, "service": "SageMaker",
                     "workload": WL})


def test_one_delivery_asked_by_two_detectors_gets_one_answer_and_a_redelivery_is_a_duplicate() -> None:
    seen = SeenRows()
    first = row(0)
    assert seen.first_time(first, "unit_cost") and seen.first_time(first, "budgets")
    again = dict(first)  # the same row, delivered again (a new dict, as a redelivery decodes)
    assert not seen.first_time(again, "unit_cost") and not seen.first_time(again, "budgets")
    assert not seen.first_time(first, "unit_cost")  # the very same dict processed again: a delivery too
    assert seen.first_time(row(1), "budgets")  # a new row asked by one detector only
    assert len(seen) == 2


def test_the_window_is_the_last_512_distinct_rows() -> None:
    seen = SeenRows()
    rows = [row(h) for h in range(ROWS_KEPT + 1)]
    assert all(seen.first_time(r, "budgets") for r in rows)
    assert len(seen) == ROWS_KEPT
    assert seen.first_time(dict(rows[0]), "budgets")  # pushed out of the window: counted again
    assert not seen.first_time(dict(rows[-1]), "budgets")


def test_a_pickled_filter_keeps_its_rows_and_forgets_the_delivery() -> None:
    seen = SeenRows()
    first = row(0)
    seen.first_time(first, "unit_cost")
    back = pickle.loads(pickle.dumps(seen))
    assert len(back) == 1 and row_identity(first) in back
    assert not back.first_time(first, "budgets")  # no cached answer survives: the row is known, so a duplicate



def test_a_row_is_kept_as_a_digest_that_equates_what_a_tuple_equates_and_is_the_same_in_every_process() -> None:
    import subprocess
    import sys

    first = row(0)
    same = dict(first, cost_usd=9, period_start=int(first["period_start"]))  # 9 == 9.0, as in a tuple
    assert row_identity(same) == row_identity(first)
    assert row_identity(dict(first, cost_usd=-0.0)) == row_identity(dict(first, cost_usd=0.0))
    for changed in ({"cost_usd": 9.0001}, {"sku": "ml.g5.4xlarge"}, {"usage_quantity": 1.0}, {"model": "x"},
                    {"period_end": first["period_end"] + 1}, {"resource_id": "i-1"}):
        assert row_identity(dict(first, **changed)) != row_identity(first), changed
    assert type(row_identity(first)) is int and row_identity(first) < 2 ** 64
    # a snapshot restores in another process, whose str hashes differ: the digest must not depend on them
    probe = {"period_start": 0.0, "period_end": 3600.0, "cost_usd": 2.5, "service": "Amazon S3", "sku": "tokens"}
    code = f"from detectors.stats.seen_rows import row_identity; print(row_identity({probe!r}))"
    outs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={"PYTHONHASHSEED": seed, "PATH": ""}, cwd=str(ROOT)).stdout for seed in ("1", "2")}
    assert outs == {f"{row_identity(probe)}\n"}


def test_a_filter_pickled_with_rows_as_tuples_reads_them_as_the_same_rows() -> None:
    rows = [row(h) for h in range(3)]
    old_form = SeenRows.__new__(SeenRows)
    old_form.__setstate__({"rows": [(r["period_start"], r["period_end"], r.get("service"), r.get("sku"),
                                     r.get("resource_id"), r.get("model"), r["cost_usd"], r.get("usage_quantity"))
                                    for r in rows]})
    assert len(old_form) == 3
    assert not any(old_form.first_time(dict(r), "budgets") for r in rows)
    assert old_form.first_time(row(3), "budgets")


@pytest.mark.parametrize("seed", range(4))
def test_the_flat_table_answers_as_a_deque_and_a_set_would(seed: int) -> None:
    # rows crowded onto few home slots (the same low bits) and a small domain: long probe runs, many
    # duplicates and evictions, removals from the middle of a run and across the table's end
    r = random.Random(seed)
    homes = [r.randrange(1024) for _ in range(8)] + [1023, 0]
    domain = [h + 1024 * r.randrange(1, 1 << 40) for h in homes for _ in range(90)]
    seen, ring, kept = SeenRows(), deque[int](maxlen=ROWS_KEPT), set[int]()
    for _ in range(6000):
        row_ = r.choice(domain)
        expected = row_ not in kept
        if expected:
            if len(ring) == ROWS_KEPT:
                kept.discard(ring[0])
            ring.append(row_)
            kept.add(row_)
        assert seen.add(row_) is expected
        assert len(seen) == len(kept)
    assert seen.rows == list(ring) and all(x in seen for x in kept)
    assert not any(x in seen for x in set(domain) - kept)
    back = pickle.loads(pickle.dumps(seen))
    assert back.rows == list(ring) and all(not back.add(x) for x in kept)

def _stream(seed: int) -> list[dict[str, Any]]:
    """Three weeks of hourly rows with traffic, a price rise, a creep, and redelivered rows."""
    r = random.Random(seed)
    out: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    for h in range(21 * 24):
        for m in range(0, 60, 10):
            out.append(validate({"type": "model_observation", "ts": T0 + h * H + m * 60 + 5, "model_id": "ctr",
                                 "workload": WL, "values": {"p": [0.5] * 50}}))
        usd = (18.0 if h >= 17 * 24 else 9.0) * (1.0 + 0.004 * h / 24) * r.uniform(0.97, 1.03)
        rows.append(row(h, usd, "ml.g5.12xlarge" if h >= 17 * 24 else "ml.g5.2xlarge"))
        out.append(rows[-1])
        if r.random() < 0.2:  # a redelivery of one of the last rows, a little later
            again = dict(rows[-1 - r.randrange(min(3, len(rows)))])
            again["ts"] = rows[-1]["ts"] + 1.0
            out.append(again)
    out.sort(key=lambda e: e["ts"])
    return out


def test_both_detectors_together_find_exactly_what_each_finds_alone() -> None:
    events = _stream(3)
    settings = Settings({"budgets": {"workloads": {WL["id"]: 6000.0}}})
    together = Engine(settings, detector_classes=[UnitCostDetector, BudgetForecastDetector]).process_many(events)
    alone = (Engine(settings, detector_classes=[UnitCostDetector]).process_many(events)
             + Engine(settings, detector_classes=[BudgetForecastDetector]).process_many(events))
    assert {a["kind"] for a in together} >= {"unit_cost_rise", "budget_forecast"}  # the stream has work for both
    key = lambda a: (a["kind"], a["ts"], a["id"], a["state"])  # noqa: E731
    assert sorted(map(orjson.dumps, sorted(together, key=key))) == sorted(map(orjson.dumps, sorted(alone, key=key)))


def test_a_snapshot_from_when_each_detector_kept_its_own_filter_restores_its_rows() -> None:
    events = _stream(4)
    cut = len(events) // 2
    settings = Settings({"budgets": {"workloads": {WL["id"]: 6000.0}}})
    classes: list[type[Detector]] = [UnitCostDetector, BudgetForecastDetector]
    # rows seen before the cut, delivered again right after it: duplicates, in both runs
    again = [dict(e) for e in events[cut - 200:cut] if e["type"] == "billing_delta"]
    assert again
    whole = Engine(settings, detector_classes=classes).process_many(events[:cut] + again + events[cut:])

    first = Engine(settings, detector_classes=classes)
    got = first.process_many(events[:cut])
    state = pickle.loads(first.snapshot())
    seen: SeenRows = state["states"].pop((SEEN_ROWS, WL["id"]))  # the old form: a filter in each detector
    old_rows = list(seen.rows)
    state["states"][("unit_cost.workload", WL["id"])].__dict__.update(rows=list(old_rows), row_set=set(old_rows))
    state["instances"][("budgets", WL["id"])].__dict__.update(rows=list(old_rows), row_set=set(old_rows))
    blob = pickle.dumps(state)

    second = Engine(settings, detector_classes=classes)
    second.restore(blob)
    assert len(second.context.states[(SEEN_ROWS, WL["id"])]) == len(old_rows)
    assert not hasattr(second._instances[("budgets", WL["id"])], "rows")
    got += second.process_many(again + events[cut:])
    assert list(map(orjson.dumps, got)) == list(map(orjson.dumps, whole))
