"""Billing collectors: FOCUS as the spec says it, each dollar once by content, reconciliation, hostile files.

Most tests run the real driver (``collectors.billing.run.run_billing``) in ``--stdout`` mode on a
SQLite ledger in ``tmp_path`` and check the published events against a truth computed from the
rows with nothing but ``csv`` and ``Decimal`` (tests/collectors/focusgen.py). The FinOps
Foundation sample is used when ``../shared/data/focus`` is beside the checkout.
"""

from __future__ import annotations

import copy
import gzip
import io
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st

from collectors.billing.focus import parse_tags, parse_time
from collectors.billing.run import BillingRequest, BillingResult, run_billing
from spendwatch.config import Settings
from spendwatch.errors import ConfigError
from spendwatch.events import validate
from tests.collectors import focusgen

FIX = Path(__file__).parent / "fixtures"
SAMPLE = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "focus" / "focus-1.0-sample-1000.csv"
needs_sample = pytest.mark.skipif(not SAMPLE.is_file(), reason="../shared/data/focus is not beside the checkout")
T0 = parse_time("2026-11-20T00:00:00Z")
CENT = Decimal("0.005")


def settings(**sections: dict[str, Any]) -> Settings:
    return Settings(sections=sections)


def collect(tmp_path: Path, files: list[Path], cfg: Settings | None = None, state: Path | None = None,
            kind: str = "focus", **kw: Any) -> tuple[BillingResult, list[dict[str, Any]]]:
    """One run in --stdout mode (or --dry-run): the result and the events it wrote, validated."""
    buf = io.BytesIO()
    req = BillingRequest(kind, [str(f) for f in files], state=str(state or tmp_path / "state.sqlite"),
                         stdout=True, **kw)
    result = run_billing(cfg or Settings(), req, stdout=buf)
    events = [validate(orjson.loads(line)) for line in buf.getvalue().splitlines()]
    assert [e["ts"] for e in events] == sorted(e["ts"] for e in events), "events are sorted by ts"
    return result, events


def money(e: dict[str, Any]) -> Decimal:
    return Decimal(repr(e["cost_usd"])) + Decimal(repr(e.get("adjustment_usd") or 0.0))


def net(events: list[dict[str, Any]], by: str | None = None) -> Any:
    if by is None:
        return sum((money(e) for e in events), Decimal(0))
    out: dict[str, Decimal] = {}
    for e in events:
        k = e["workload"]["id"] if by == "workload" else e.get("charge_category", "usage")
        out[k] = out.get(k, Decimal(0)) + money(e)
    return out


def close(a: dict[str, Decimal], b: dict[str, Decimal], tol: Decimal = Decimal("1e-9")) -> bool:
    keys = {k for k, v in a.items() if v} | {k for k, v in b.items() if v}
    return all(abs(a.get(k, Decimal(0)) - b.get(k, Decimal(0))) <= tol for k in keys)


# --- the FinOps Foundation sample --------------------------------------------------------------------
@needs_sample
@pytest.mark.parametrize("column", ["BilledCost", "EffectiveCost"])
def test_sample_every_row_accounted_totals_to_the_cent(tmp_path: Path, column: str) -> None:
    rows = focusgen.read_csv(SAMPLE)
    result, events = collect(tmp_path, [SAMPLE], cost_column=column)
    rep = result.report
    assert result.exit_code == 0 and rep.rows_read == 1000 == len(rows)
    assert rep.accepted.rows == 1000 and rep.rows_skipped() == 0, rep.render()  # 0 rows lost to NULL
    want = focusgen.truth(rows, column)
    got = net(events, by="category")
    assert close(got, want), (got, want)
    assert abs(net(events) - sum(want.values())) < CENT
    assert rep.unexplained() == 0
    # the file's totals by category and currency are in the report, for both cost columns
    usage = rep.inputs[("Usage", "USD")]
    assert usage.rows == 997 and abs(usage.columns["BilledCost"] - focusgen.truth(rows, "BilledCost")["usage"]) < CENT
    assert rep.inputs[("Credit", "USD")].rows == 1 and rep.inputs[("Adjustment", "USD")].rows == 2
    # NULL is missing, never a value
    blob = b"\n".join(orjson.dumps(e) for e in events)
    assert b'"NULL"' not in blob
    credit = [e for e in events if e.get("charge_category") == "credit"]
    assert len(credit) == 1 and credit[0]["cost_usd"] == 0 and credit[0]["adjustment_usd"] < 0
    assert credit[0]["adjustment_reason"] == "charge" and "resource_id" not in credit[0]


@needs_sample
def test_sample_default_attribution_uses_common_finops_tags(tmp_path: Path) -> None:
    _result, events = collect(tmp_path, [SAMPLE], cost_column="BilledCost")
    lb = next(e for e in events if e.get("resource_id", "").endswith("tungsten-lonbmuenle-amf/l365455f461l4e4a"))
    assert lb["workload"]["id"] == "BrightLensMatrix" and lb["workload"]["team"] == "ViennaAI"
    assert lb["workload"]["labels"]["environment"] == "dev"
    ids = {e["workload"]["id"] for e in events}
    assert any(i.startswith("unattributed/") for i in ids)  # Tags NULL
    assert len([i for i in ids if not i.startswith("unattributed/")]) > 50


@needs_sample
def test_sample_reconciliation_output(tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "spendwatch.cli", "collect", "billing", "focus", str(SAMPLE),
                        "--dry-run", "--state", str(tmp_path / "s.sqlite")], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    assert "1000 read, 1000 accepted, 0 skipped" in r.stderr and "unexplained +0.000000" in r.stderr
    assert "20.520227" in r.stderr and "14.976514" in r.stderr  # BilledCost and EffectiveCost net totals
    assert "Traceback" not in r.stderr and r.stdout == ""
    j = subprocess.run([sys.executable, "-m", "spendwatch.cli", "collect", "billing", "focus", str(SAMPLE),
                        "--dry-run", "--json", "--state", str(tmp_path / "s.sqlite")], capture_output=True,
                       text=True, timeout=120)
    doc = json.loads(j.stdout)
    assert doc["rows"] == {"read": 1000, "accepted": 1000, "skipped": 0}
    assert doc["check_usd"]["unexplained"] == 0 and abs(doc["published"]["net_usd"] - 14.976514) < 1e-6
    assert not (tmp_path / "s.sqlite").exists() or sqlite3.connect(tmp_path / "s.sqlite").execute(
        "SELECT COUNT(*) FROM rows").fetchone() == (0,)  # --dry-run left the ledger untouched


# --- each dollar once, by content -------------------------------------------------------------------------
@pytest.fixture
def export(tmp_path: Path) -> tuple[Path, list[dict[str, str]]]:
    data = focusgen.rows()
    return focusgen.write(tmp_path / "export.csv", data), data


def test_copy_publishes_nothing_again(tmp_path: Path, export: tuple[Path, list[dict[str, str]]]) -> None:
    path, data = export
    _r, first = collect(tmp_path, [path])
    assert net(first, "category") == pytest.approx(focusgen.truth(data)) or close(net(first, "category"),
                                                                                  focusgen.truth(data))
    copy_path = tmp_path / "elsewhere" / "copy-of-export.csv"
    copy_path.parent.mkdir()
    shutil.copy(path, copy_path)
    r, again = collect(tmp_path, [copy_path])
    assert again == [] and r.report.files[0].status == "already applied"
    assert close({"all": net(first + again)}, {"all": sum(focusgen.truth(data).values())})


def test_gzip_copy_publishes_nothing_again(tmp_path: Path, export: tuple[Path, list[dict[str, str]]]) -> None:
    path, data = export
    _r, first = collect(tmp_path, [path])
    gz = tmp_path / "export.csv.gz"
    gz.write_bytes(gzip.compress(path.read_bytes()))
    r, again = collect(tmp_path, [gz])
    assert again == [] and r.report.files[0].kind == "csv.gz" and r.report.already_applied.rows == len(data)
    # the same rows re-encoded (other quoting, gzip): not the same bytes, the same identities: nothing new
    focusgen.write(tmp_path / "reencoded.csv.gz", data, gz=True, quote_all=True)
    r, again = collect(tmp_path, [tmp_path / "reencoded.csv.gz"])
    assert again == [] and r.report.rows_unchanged > 0 and r.report.unexplained() == 0
    assert close(net(first, "category"), focusgen.truth(data))


def test_overlapping_exports_count_the_overlap_once(tmp_path: Path) -> None:
    data = focusgen.rows()
    a = focusgen.write(tmp_path / "a.csv", data[:160])
    b = focusgen.write(tmp_path / "b.csv", data[100:])
    _r, e1 = collect(tmp_path, [a])
    r2, e2 = collect(tmp_path, [b])
    assert r2.report.rows_unchanged == 60 and r2.report.unexplained() == 0
    assert close(net(e1 + e2, "category"), focusgen.truth(data))
    # both in one run, on a fresh ledger: the overlap is seen again and counted once
    r3, e3 = collect(tmp_path, [a, b], state=tmp_path / "other.sqlite")
    assert r3.report.seen_again.rows == 60 and r3.report.unexplained() == 0
    assert close(net(e3, "category"), focusgen.truth(data))


def test_restatement_up_and_down_publishes_the_difference(tmp_path: Path) -> None:
    data = focusgen.rows()
    path = focusgen.write(tmp_path / "export.csv", data)
    _r, first = collect(tmp_path, [path])
    restated = copy.deepcopy(data)
    usage = [r for r in restated if r["ChargeCategory"] == "Usage" and Decimal(r["EffectiveCost"]) > 0]
    for r in usage[:10]:
        r["EffectiveCost"] = f"{Decimal(r['EffectiveCost']) + Decimal('1.25'):.10f}"  # up
    for r in usage[10:20]:
        r["EffectiveCost"] = f"{Decimal(r['EffectiveCost']) / 2:.10f}"  # down
    focusgen.write(path, restated)  # the provider re-issues the export in place
    r, second = collect(tmp_path, [path])
    assert r.report.rows_changed == 20 and len(second) == 20
    assert all(e["cost_usd"] == 0 and e["adjustment_reason"] == "restatement" for e in second)
    assert sum(1 for e in second if e["adjustment_usd"] > 0) == 10
    assert close(net(first + second, "category"), focusgen.truth(restated))
    assert close(net(first + second, "workload"), focusgen.truth(restated, by="workload"))


def test_rerun_and_rewritten_bytes_publish_nothing(tmp_path: Path, export: tuple[Path, list[dict[str, str]]]) -> None:
    path, data = export
    _r, first = collect(tmp_path, [path])
    _r, again = collect(tmp_path, [path])
    assert again == []
    path.write_bytes(path.read_bytes() + b"\n\n")  # changed bytes, same rows
    r, again = collect(tmp_path, [path])
    assert again == [] and r.report.rows_unchanged == len(data)
    assert close(net(first, "category"), focusgen.truth(data))


def test_changed_mapping_reattributes_only_when_asked(tmp_path: Path,
                                                       export: tuple[Path, list[dict[str, str]]]) -> None:
    path, data = export
    _r, first = collect(tmp_path, [path])
    assert close(net(first, "workload"), focusgen.truth(data, by="workload"))
    by_team = settings(billing={"workload_tags": ["team"]})
    r, kept = collect(tmp_path, [path], cfg=by_team)
    _r, still = collect(tmp_path, [path], cfg=by_team)
    assert still == [] and any("--reattribute" in n for n in _r.report.notes)  # said until acted on
    n_changed = r.report.rows_attribution_kept
    assert kept == [] and n_changed > 0  # the ledger keeps the published workloads
    assert any("--reattribute" in n for n in r.report.notes)
    r, moved = collect(tmp_path, [path], cfg=by_team, reattribute=True)
    reasons = {e["adjustment_reason"] for e in moved if "adjustment_reason" in e}
    assert "reattribution" in reasons and r.report.rows_reattributed == n_changed
    total = net(first + kept + moved, "workload")
    assert close(total, focusgen.truth(data, by="team"))  # every dollar now on the team's workload, once
    assert net(moved) == pytest.approx(0) or abs(net(moved)) < Decimal("1e-9")  # moved, not added
    _r, again = collect(tmp_path, [path], cfg=by_team, reattribute=True)
    assert again == []


def test_dry_run_leaves_the_ledger_untouched_and_stdout_records(tmp_path: Path,
                                                                 export: tuple[Path, list[dict[str, str]]]) -> None:
    path, data = export
    r, preview = collect(tmp_path, [path], dry_run=True)
    assert r.report.mode == "dry-run" and preview and "--dry-run" in r.report.render()
    r, real = collect(tmp_path, [path])
    assert [e["cost_usd"] for e in real] == [e["cost_usd"] for e in preview]
    assert "recorded in the ledger" in r.report.render()
    _r, after = collect(tmp_path, [path], dry_run=True)
    assert after == []  # --stdout committed: nothing is due any more


def test_default_state_is_under_the_state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from collectors.billing.run import state_path
    from collectors.state import state_dir

    monkeypatch.setenv("SPENDWATCH_STATE_DIR", str(tmp_path / "sw"))
    assert state_path(BillingRequest("focus"), "") == tmp_path / "sw" / "billing.sqlite"
    assert state_dir({"XDG_STATE_HOME": "/x/state", "HOME": "/h"}) == Path("/x/state/spendwatch")
    assert state_dir({"HOME": "/home/u"}) == Path("/home/u/.local/state/spendwatch")
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    monkeypatch.setenv("SPENDWATCH_STATE_DIR", str(ro / "inner"))
    if os.getuid() != 0:  # root writes anywhere
        with pytest.raises(ConfigError, match="SPENDWATCH_STATE_DIR"):
            state_path(BillingRequest("focus"), "")


def test_old_state_file_is_refused(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "old.sqlite")
    db.execute("CREATE TABLE contrib (unit TEXT, key TEXT, cost REAL, qty REAL)")
    db.commit()
    db.close()
    with pytest.raises(ConfigError, match="older spendwatch"):
        collect(tmp_path, [FIX / "focus_aws.csv"], state=tmp_path / "old.sqlite")


# --- charge categories, currency, providers ---------------------------------------------------------------
def test_three_providers_categories_and_attribution(tmp_path: Path) -> None:
    files = [FIX / "focus_aws.csv", FIX / "focus_gcp.csv", FIX / "focus_azure.csv"]
    r, evs = collect(tmp_path, files)
    assert net(evs, "workload") == {"ml/llm-pretrain": Decimal("196.64"), "serving/churn": Decimal("1.40"),
                                    "unattributed/Amazon Simple Storage Service": Decimal("0.25"),
                                    "unattributed/Amazon Elastic Compute Cloud": Decimal("-50.00"),
                                    "research/vision": Decimal("9.95"), "apps/chat": Decimal("0.60"),
                                    "ml/finetune": Decimal("1449.36"), "apps/assistant": Decimal("42.00")}
    assert r.report.held == {"EUR": (1, Decimal("5.00"))}  # no rate: held, not lost
    credit = next(e for e in evs if e.get("charge_category") == "credit")
    assert credit["adjustment_usd"] == -50.0 and credit["cost_usd"] == 0
    pre = [e for e in evs if e["workload"]["id"] == "ml/llm-pretrain"]
    assert [(e["period_start"], e["ts"]) for e in pre] == [(T0, T0 + 3600), (T0 + 3600, T0 + 7200)]
    assert pre[0]["workload"] == {"id": "ml/llm-pretrain", "team": "ml-platform", "owner": "ana@example.com",
                                  "kind": "unknown", "labels": {"cost-center": "cc-42"}}
    assert pre[0]["usage_quantity"] == 1 and pre[0]["usage_unit"] == "Hours" and pre[0]["sku"] == "8F4WZ7ZGDXQJ6E2S"
    assert next(e for e in evs if e["workload"]["id"] == "ml/finetune")["workload"]["team"] == "ml-platform"
    assert next(e for e in evs if e["workload"]["id"] == "apps/assistant")["workload"]["owner"] == "U024BE7LH"
    # the rate configured later: the held EUR row is published, converted
    r, later = collect(tmp_path, [FIX / "focus_gcp.csv"], cfg=settings(billing={"usd_rates": {"EUR": 1.1}}))
    assert [(e["workload"]["id"], e["cost_usd"]) for e in later] == [("unattributed/Compute Engine", 5.5)]
    assert r.report.converted_earlier[0] == 1 and r.report.unexplained() == 0


def test_purchase_amortised_by_default_tax_refund_and_negative_usage(tmp_path: Path) -> None:
    base = {c: "NULL" for c in focusgen.COLUMNS}
    base.update(BillingCurrency="USD", ChargePeriodStart="2026-11-20T00:00:00Z", ChargePeriodEnd="2026-11-20T01:00:00Z",
                ServiceName="Amazon EC2", ProviderName="AWS")
    rows = [
        {**base, "ChargeCategory": "Purchase", "BilledCost": "720.00", "EffectiveCost": "0", "ResourceId": "ri-1",
         "ChargePeriodEnd": "2026-12-20T00:00:00Z"},
        {**base, "ChargeCategory": "Usage", "BilledCost": "0", "EffectiveCost": "1.00", "ResourceId": "i-1"},
        {**base, "ChargeCategory": "Tax", "BilledCost": "7.20", "EffectiveCost": "0.10", "ResourceId": "NULL"},
        {**base, "ChargeCategory": "Usage", "BilledCost": "-2.00", "EffectiveCost": "-2.00", "ResourceId": "i-2",
         "ChargeClass": "Correction"},
        {**base, "ChargeCategory": "Adjustment", "BilledCost": "-1.00", "EffectiveCost": "-1.00", "ResourceId": "i-3"},
    ]
    cols = [*focusgen.COLUMNS, "ChargeSubcategory"]
    rows.append({**rows[-1], "ChargeSubcategory": "Refund", "ResourceId": "i-4", "BilledCost": "-3",
                 "EffectiveCost": "-3"})
    path = focusgen.write(tmp_path / "p.csv", rows, columns=cols)
    _r, eff = collect(tmp_path, [path])
    cats = net(eff, "category")
    assert cats == {"usage": Decimal("-1.00"), "tax": Decimal("0.10"), "adjustment": Decimal("-1.00"),
                    "refund": Decimal("-3")}
    neg = next(e for e in eff if e.get("resource_id") == "i-2")
    assert neg["cost_usd"] == 0 and neg["adjustment_usd"] == -2.0 and neg["charge_category"] == "usage"
    _r, billed = collect(tmp_path, [path], state=tmp_path / "billed.sqlite", cost_column="BilledCost")
    purchase = next(e for e in billed if e.get("charge_category") == "purchase")
    assert purchase["cost_usd"] == 720.0 and purchase["period_end"] - purchase["period_start"] == 30 * 86400
    assert net(billed) == Decimal("720") + Decimal("7.20") - 2 - 1 - 3


def test_skip_charge_categories_are_reconciled(tmp_path: Path, export: tuple[Path, list[dict[str, str]]]) -> None:
    path, data = export
    r, evs = collect(tmp_path, [path], cfg=settings(billing={"skip_charge_categories": ["tax"]}))
    want = focusgen.truth(data)
    assert "tax" not in net(evs, "category") and close(net(evs, "category"), {k: v for k, v in want.items()
                                                                              if k != "tax"})
    assert r.report.skipped["charge_category_excluded"].amounts["USD"] == want["tax"]


def test_parquet_with_nulls_has_the_same_identities_as_csv(tmp_path: Path,
                                                           export: tuple[Path, list[dict[str, str]]]) -> None:
    path, data = export
    _r, first = collect(tmp_path, [path])
    def col(name: str) -> list[Any]:
        return [None if r[name] == "NULL" else r[name] for r in data]
    table = pa.table({c: col(c) for c in focusgen.COLUMNS if c not in ("BilledCost", "EffectiveCost")}
                     | {c: pa.array([float(r[c]) for r in data]) for c in ("BilledCost", "EffectiveCost")})
    pq.write_table(table, tmp_path / "part-0.parquet")
    r, again = collect(tmp_path, [tmp_path / "part-0.parquet"])
    assert r.report.files[0].kind == "parquet" and r.report.rows_skipped() == 0
    assert r.report.rows_new == 0  # the same charges, whatever the format
    assert close(net(first + again, "category"), focusgen.truth(data), tol=Decimal("1e-6"))


# --- hostile files ----------------------------------------------------------------------------------------
def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "spendwatch.cli", "collect", "billing", *args], capture_output=True,
                          text=True, timeout=300, cwd=cwd, env={**os.environ, "SPENDWATCH_STATE_DIR": str(cwd / "st")})


def test_nan_inf_and_huge_cells_skip_only_their_row(tmp_path: Path) -> None:
    data = focusgen.rows(40)
    bad = copy.deepcopy(data[:4])
    bad[0]["EffectiveCost"], bad[1]["EffectiveCost"] = "nan", "inf"
    bad[2]["EffectiveCost"], bad[3]["EffectiveCost"] = "1e400", "12,5"
    for i, r in enumerate(bad):
        r["ChargeDescription"] = f"bad {i}"
    path = focusgen.write(tmp_path / "x.csv", data[:20] + bad + data[20:])
    r, evs = collect(tmp_path, [path])
    sk = r.report.skipped["bad_number"]
    assert sk.rows == 4 and sk.unknown_amount == 4
    assert any(f"{path}:22: column EffectiveCost: 'nan' is not a finite number" in x for x in sk.examples)
    assert close(net(evs, "category"), focusgen.truth(data))
    p = cli("focus", str(path), "--dry-run", cwd=tmp_path)
    assert p.returncode == 0 and "Traceback" not in p.stderr and "bad_number: 4 rows" in p.stderr
    assert "... 1 more" in p.stderr


def test_binary_and_non_focus_files_are_rejected_up_front(tmp_path: Path) -> None:
    good = focusgen.write(tmp_path / "good.csv", focusgen.rows(10))
    binary = tmp_path / "blob.csv"
    binary.write_bytes(bytes(range(256)) * 64)
    other = tmp_path / "orders.csv"
    other.write_text("order_id,amount,date\n1,9.99,2026-11-20\n")
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    for f, msg in ((binary, "not UTF-8"), (other, "not a FOCUS export: missing columns ChargePeriodStart, "
                                                  "ChargePeriodEnd, ChargeCategory, BillingCurrency, EffectiveCost"),
                   (empty, "empty file")):
        p = cli("focus", str(good), str(f), cwd=tmp_path)
        assert p.returncode == 3 and msg in p.stderr and "Traceback" not in p.stderr, p.stderr
        assert "nothing published" in p.stderr
    r, evs = collect(tmp_path, [good])  # the good file alone: all of it, nothing was recorded before
    assert r.report.rows_new == 10 and evs


def test_header_only_dates_backwards_and_binary_rows(tmp_path: Path) -> None:
    header_only = focusgen.write(tmp_path / "h.csv", [])
    r, evs = collect(tmp_path, [header_only])
    assert r.exit_code == 0 and evs == [] and r.report.rows_read == 0
    data = list(reversed(focusgen.rows(48)))  # newest first
    back = copy.deepcopy(data[0])
    back["ChargePeriodStart"], back["ChargePeriodEnd"] = back["ChargePeriodEnd"], back["ChargePeriodStart"]
    back["ChargeDescription"] = "backwards"
    path = focusgen.write(tmp_path / "d.csv", [back, *data])
    with path.open("ab") as f:
        f.write(b'\x00\x01\xff\xfe,"x\x00",' + b"," * (len(focusgen.COLUMNS) - 3) + b"\n")
    r, evs = collect(tmp_path, [path])
    assert r.report.skipped["period_end_before_start"].rows == 1
    assert r.report.skipped["malformed_row"].rows == 1
    assert [e["ts"] for e in evs] == sorted(e["ts"] for e in evs) and len({e["ts"] for e in evs}) > 10
    assert close(net(evs, "category"), focusgen.truth(data))


def test_a_hundred_thousand_junk_rows_among_good_ones(tmp_path: Path) -> None:
    good = focusgen.rows(60)
    path = tmp_path / "junk.csv"
    text = focusgen.write(tmp_path / "g.csv", good).read_text().splitlines()
    header, body = text[0], text[1:]
    n = len(focusgen.COLUMNS)
    junk = []
    for i in range(100_000):
        k = i % 4
        if k == 0:
            junk.append("garbage line without commas")
        elif k == 1:
            junk.append(",".join(["nan"] * n))
        elif k == 2:
            junk.append(",".join(["NULL"] * n))
        else:
            junk.append(",".join(["2026-13-45 99:00:00"] * n))
    lines = [header]
    for i, b in enumerate(body):
        lines.append(b)
        lines.extend(junk[i * 1667:(i + 1) * 1667])
    lines.extend(junk[len(body) * 1667:])
    path.write_text("\n".join(lines) + "\n")
    r, evs = collect(tmp_path, [path])
    rep = r.report
    assert rep.rows_read == 100_060 and rep.accepted.rows == 60 and rep.rows_skipped() == 100_000
    assert set(rep.skipped) == {"malformed_row", "bad_number", "missing_cost"}
    assert close(net(evs, "category"), focusgen.truth(good))
    assert rep.unexplained() == 0


# --- LLM usage ------------------------------------------------------------------------------------------
def test_openai_costs_with_usage_tokens(tmp_path: Path) -> None:
    cfg = settings(llm_usage={"openai_projects": {"proj_chat": {"id": "apps/chat", "team": "apps", "owner": "U1"}}})
    r, evs = collect(tmp_path, [FIX / "openai_costs.json"], cfg=cfg, kind="openai",
                     usage_files=[str(FIX / "openai_usage.json")])
    assert len(evs) == 4 and net(evs, "workload") == {"apps/chat": Decimal("56.5"),
                                                      "openai/proj_search": Decimal("0.75")}
    inp = next(e for e in evs if e["sku"] == "gpt-4o-2024-08-06, input" and e["period_start"] == 1795132800)
    assert inp["model"] == "gpt-4o-2024-08-06" and inp["usage_quantity"] == 5_000_000
    assert inp["usage_unit"] == "tokens" and inp["service"] == "OpenAI API" and inp["source"] == "llm_usage"
    assert next(e for e in evs if e["sku"] == "gpt-4o-2024-08-06, output")["usage_quantity"] == 3_000_000
    _r, again = collect(tmp_path, [FIX / "openai_costs.json"], cfg=cfg, kind="openai")
    assert again == [] and r.report.unexplained() == 0


def test_openai_documented_example_page(tmp_path: Path) -> None:
    """The Costs API reference example: one ungrouped result (line_item and project_id null), and a value
    some clients save as a string."""
    page = {"object": "page", "data": [{"object": "bucket", "start_time": 1730419200, "end_time": 1730505600,
                                        "results": [{"object": "organization.costs.result",
                                                     "amount": {"value": 0.06, "currency": "usd"},
                                                     "line_item": None, "project_id": None}]},
                                       {"object": "bucket", "start_time": 1730505600, "end_time": 1730592000,
                                        "results": [{"object": "organization.costs.result",
                                                     "amount": {"value": "0.125", "currency": "usd"},
                                                     "line_item": "Image models", "project_id": "proj_abc"},
                                                    {"object": "organization.costs.result",
                                                     "amount": {"value": "n/a", "currency": "usd"},
                                                     "line_item": "x", "project_id": "proj_abc"}]}],
            "has_more": False, "next_page": None}
    path = tmp_path / "costs.json"
    path.write_bytes(orjson.dumps(page))
    r, evs = collect(tmp_path, [path], kind="openai")
    assert [(e["workload"]["id"], e["cost_usd"], e.get("model")) for e in evs] == [
        ("openai/default", 0.06, None), ("openai/proj_abc", 0.125, "Image models")]
    assert r.report.skipped["bad_number"].rows == 1 and "page 1 bucket 2 result 2" in \
        r.report.skipped["bad_number"].examples[0]
    not_json = tmp_path / "n.json"
    not_json.write_text("<html>rate limited</html>")
    r, evs = collect(tmp_path, [not_json], kind="openai")
    assert r.exit_code == 3 and evs == [] and "not JSON" in (r.error or "")


def test_litellm_overlapping_exports_count_each_request_once(tmp_path: Path) -> None:
    r, evs = collect(tmp_path, [FIX / "litellm_spend_logs.json"], kind="litellm")
    assert net(evs, "workload") == {"support-bot": Decimal("0.0323"), "research/agents": Decimal("0.5")}
    sb = next(e for e in evs if e["workload"]["id"] == "support-bot")
    assert sb["usage_quantity"] == 4000 and sb["model"] == "gpt-4o"
    assert sb["workload"]["team"] == "support-bot" and sb["period_end"] - sb["period_start"] == 3600
    # the CSV export overlaps (chatcmpl-2 again) and adds chatcmpl-4
    r, evs = collect(tmp_path, [FIX / "litellm_spend_logs.csv"], kind="litellm")
    assert [(e["workload"]["id"], e.get("adjustment_usd")) for e in evs] == [("support-bot", pytest.approx(0.01))]
    assert r.report.rows_unchanged == 1
    _r, evs = collect(tmp_path, [FIX / "litellm_spend_logs.json", FIX / "litellm_spend_logs.csv"], kind="litellm")
    assert evs == []


def test_litellm_v2_pages_and_schema_columns(tmp_path: Path) -> None:
    """/spend/logs/v2 pages ({"data": [...], "total", "page"}) with the SpendLogs table's columns."""
    rows = [{"request_id": f"req-{i}", "call_type": "acompletion", "api_key": "88dc", "spend": 0.002 * i,
             "total_tokens": 100 * i, "prompt_tokens": 80 * i, "completion_tokens": 20 * i,
             "startTime": f"2026-11-20T10:{i:02d}:00.000000+00:00", "endTime": f"2026-11-20T10:{i:02d}:01+00:00",
             "completionStartTime": None, "model": "claude-sonnet-4", "model_id": "m1", "model_group": "claude",
             "custom_llm_provider": "anthropic", "api_base": "", "user": "", "cache_hit": "False",
             "metadata": {"user_api_key_team_alias": "research", "user_api_key_user_email": "lee@example.com"},
             "request_tags": [], "team_id": "t-1", "end_user": None, "status": "success", "session_id": None}
            for i in range(1, 6)]
    rows.append({**rows[0], "request_id": "req-bad", "spend": "NaN"})
    path = tmp_path / "logs.json"
    path.write_bytes(orjson.dumps({"data": rows, "total": 6, "page": 1, "page_size": 50, "total_pages": 1}))
    r, evs = collect(tmp_path, [path], kind="litellm")
    assert [(e["workload"]["id"], e["workload"]["owner"], e["usage_quantity"]) for e in evs] == [
        ("research", "lee@example.com", 1500.0)]
    assert money(evs[0]) == pytest.approx(Decimal("0.03")) and r.report.skipped["bad_number"].rows == 1


@given(st.dictionaries(st.text(min_size=1, max_size=10), st.text(max_size=10), max_size=5))
def test_tags_shapes_roundtrip(tags: dict[str, str]) -> None:
    assert parse_tags(orjson.dumps(tags).decode()) == tags
    assert parse_tags([{"key": k, "value": v} for k, v in tags.items()]) == tags
    assert parse_tags(list(tags.items())) == tags
    if tags:
        assert parse_tags(orjson.dumps(tags).decode()[1:-1]) == tags
    for missing in ("NULL", "", "null", None):
        assert parse_tags(missing) == {}


def test_time_formats() -> None:
    for s in ("2026-11-20T00:00:00Z", "2026-11-20 00:00:00 UTC", "2026-11-20T00:00:00+00:00", "2026-11-20",
              "2026-11-20 00:00:00"):
        assert parse_time(s) == T0


def test_container_image_state_dir_is_its_users() -> None:
    """Structure only (no Docker engine here): the image's state dir is the directory its user owns."""
    text = (Path(__file__).resolve().parents[2] / "Dockerfile").read_text()
    runtime = text[text.rindex("FROM "):]  # the runtime stage
    assert "useradd --system --uid 10001" in runtime
    assert "SPENDWATCH_STATE_DIR=/var/lib/spendwatch/state" in runtime
    assert "install -d -o 10001 -g 10001" in runtime and "/var/lib/spendwatch/state" in runtime.split("install -d")[1]
    assert "USER 10001:10001" in runtime
