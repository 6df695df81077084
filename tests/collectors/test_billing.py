"""FOCUS and LLM usage collectors: parsing per provider, idempotence, restatements."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st

from collectors.billing.focus import BillingConfig, collect_focus, parse_tags, parse_time, read_rows
from collectors.billing.ledger import Ledger, LedgerStats
from collectors.billing.llm_usage import LlmUsageConfig, collect_litellm, collect_openai
from spendwatch.events import validate

FIX = Path(__file__).parent / "fixtures"
T0 = parse_time("2026-11-20T00:00:00Z")


def by_workload(events: list[dict]) -> dict[str, float]:
    out: dict[str, float] = {}
    for e in events:
        validate(e)
        out[e["workload"]["id"]] = round(out.get(e["workload"]["id"], 0.0) + e["cost_usd"], 6)
    return out


def test_focus_three_providers(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "state.sqlite")
    stats = LedgerStats()
    evs = collect_focus([FIX / "focus_aws.csv", FIX / "focus_gcp.csv", FIX / "focus_azure.csv"], ledger,
                        BillingConfig(), stats)
    assert by_workload(evs) == {"ml/llm-pretrain": 196.64, "serving/churn": 1.40,
                                "unattributed/Amazon Simple Storage Service": 0.25, "research/vision": 9.95,
                                "apps/chat": 0.60, "ml/finetune": 1449.36, "apps/assistant": 42.0}
    assert stats.skipped == {"charge_category": 1, "currency": 1}
    pre = [e for e in evs if e["workload"]["id"] == "ml/llm-pretrain"]
    assert [(e["period_start"], e["period_end"], e["ts"]) for e in pre] == [(T0, T0 + 3600, T0 + 3600),
                                                                           (T0 + 3600, T0 + 7200, T0 + 7200)]
    e = pre[0]
    assert e["workload"] == {"id": "ml/llm-pretrain", "team": "ml-platform", "owner": "ana@example.com",
                             "kind": "unknown"}
    assert e["source"] == "focus" and e["service"] == "Amazon Elastic Compute Cloud"
    assert e["sku"] == "8F4WZ7ZGDXQJ6E2S" and e["resource_id"].endswith("i-0abc")
    assert e["usage_quantity"] == 1 and e["usage_unit"] == "Hours"
    churn = next(e for e in evs if e["workload"]["id"] == "serving/churn")
    assert churn["workload"]["kind"] == "inference"
    az = next(e for e in evs if e["workload"]["id"] == "ml/finetune")
    assert az["workload"]["team"] == "ml-platform"  # Azure tags without braces
    assert next(e for e in evs if e["workload"]["id"] == "apps/assistant")["workload"]["owner"] == "U024BE7LH"


def test_billed_cost_column_is_configurable(tmp_path: Path) -> None:
    evs = collect_focus([FIX / "focus_aws.csv"], Ledger(tmp_path / "s"), BillingConfig(cost_column="BilledCost"))
    assert by_workload(evs)["serving/churn"] == 1.52


def test_parquet_with_map_tags(tmp_path: Path) -> None:
    rows = list(read_rows(FIX / "focus_aws.csv"))[:3]
    import orjson
    table = pa.table({
        "ChargePeriodStart": pa.array([parse_time(r["ChargePeriodStart"]) * 1e6 for r in rows],
                                      pa.int64()).cast(pa.timestamp("us", tz="UTC")),
        "ChargePeriodEnd": pa.array([parse_time(r["ChargePeriodEnd"]) * 1e6 for r in rows],
                                    pa.int64()).cast(pa.timestamp("us", tz="UTC")),
        "BilledCost": [float(r["BilledCost"]) for r in rows],
        "EffectiveCost": [float(r["EffectiveCost"]) for r in rows],
        "BillingCurrency": ["USD"] * 3, "ChargeCategory": ["Usage"] * 3,
        "ServiceName": [r["ServiceName"] for r in rows], "SkuId": [r["SkuId"] for r in rows],
        "ResourceId": [r["ResourceId"] for r in rows],
        "Tags": pa.array([list(orjson.loads(r["Tags"]).items()) for r in rows], pa.map_(pa.string(), pa.string())),
    })
    pq.write_table(table, tmp_path / "part-0.parquet")
    evs = collect_focus([tmp_path / "part-0.parquet"], Ledger(tmp_path / "s"), BillingConfig())
    assert by_workload(evs) == {"ml/llm-pretrain": 196.64, "serving/churn": 1.40}


def test_running_twice_publishes_nothing_new(tmp_path: Path) -> None:
    files = [FIX / "focus_aws.csv", FIX / "focus_gcp.csv", FIX / "focus_azure.csv"]
    ledger = Ledger(tmp_path / "state.sqlite")
    assert collect_focus(files, ledger, BillingConfig())
    ledger.commit()
    ledger.close()
    ledger = Ledger(tmp_path / "state.sqlite")  # a new process
    stats = LedgerStats()
    assert collect_focus(files, ledger, BillingConfig(), stats) == []
    assert stats.skipped["file_unchanged"] == 3
    # a file whose bytes changed but whose rows did not (re-written by the provider) publishes nothing
    copy = tmp_path / "aws.csv"
    shutil.copy(FIX / "focus_aws.csv", copy)
    l2 = Ledger(tmp_path / "other.sqlite")
    first = collect_focus([copy], l2, BillingConfig())
    l2.commit()
    copy.write_bytes(copy.read_bytes() + b"\n")  # changed bytes, same rows: re-read, nothing new
    assert collect_focus([copy], l2, BillingConfig()) == []
    assert first


def test_uncommitted_run_is_published_again(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "s")
    first = collect_focus([FIX / "focus_aws.csv"], ledger, BillingConfig())
    ledger.rollback()  # e.g. the process died before the events were spooled
    assert collect_focus([FIX / "focus_aws.csv"], ledger, BillingConfig()) == first


def test_restated_rows_publish_only_the_increase(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    text = (FIX / "focus_aws.csv").read_text()
    path.write_text(text)
    ledger = Ledger(tmp_path / "s")
    collect_focus([path], ledger, BillingConfig())
    ledger.commit()
    # the provider re-issues the file: churn goes 1.40 -> 2.00, one EC2 hour goes 98.32 -> 90.00
    restated = text.replace("1.52,1.40,1.52", "2.10,2.00,2.10").replace(
        "2026-11-20T01:00:00Z,2026-11-20T02:00:00Z,98.32,98.32",
        "2026-11-20T01:00:00Z,2026-11-20T02:00:00Z,90.00,90.00")
    path.write_text(restated)
    stats = LedgerStats()
    evs = collect_focus([path], ledger, BillingConfig(), stats)
    ledger.commit()
    assert [(e["workload"]["id"], e["cost_usd"]) for e in evs] == [("serving/churn", pytest.approx(0.60))]
    assert stats.restated_up == 1 and stats.restated_down == 1
    # back up to 99.00: only what exceeds the 98.32 already published
    path.write_text(restated.replace("90.00,90.00", "99.00,99.00"))
    evs = collect_focus([path], ledger, BillingConfig())
    assert [(e["workload"]["id"], e["cost_usd"]) for e in evs] == [("ml/llm-pretrain", pytest.approx(0.68))]
    assert evs[0]["period_start"] == T0 + 3600


def test_openai_costs_with_usage_tokens(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "s")
    cfg = LlmUsageConfig(openai_projects={"proj_chat": {"id": "apps/chat", "team": "apps", "owner": "U1"}})
    evs = collect_openai([FIX / "openai_costs.json"], ledger, cfg, usage=[FIX / "openai_usage.json"])
    ledger.commit()
    assert len(evs) == 4 and by_workload(evs) == {"apps/chat": 56.5, "openai/proj_search": 0.75}
    inp = next(e for e in evs if e["sku"] == "gpt-4o-2024-08-06, input" and e["period_start"] == 1795132800)
    assert inp["model"] == "gpt-4o-2024-08-06" and inp["usage_quantity"] == 5_000_000
    assert inp["usage_unit"] == "tokens" and inp["service"] == "OpenAI API" and inp["source"] == "llm_usage"
    assert inp["workload"]["team"] == "apps"
    out = next(e for e in evs if e["sku"] == "gpt-4o-2024-08-06, output")
    assert out["usage_quantity"] == 3_000_000
    assert collect_openai([FIX / "openai_costs.json"], ledger, cfg, usage=[FIX / "openai_usage.json"]) == []


def test_litellm_overlapping_exports_count_each_request_once(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "s")
    evs = collect_litellm([FIX / "litellm_spend_logs.json"], ledger, LlmUsageConfig())
    ledger.commit()
    assert by_workload(evs) == {"support-bot": 0.0323, "research/agents": 0.5}
    sb = next(e for e in evs if e["workload"]["id"] == "support-bot")
    assert sb["usage_quantity"] == 4000 and sb["model"] == "gpt-4o"
    assert sb["workload"]["team"] == "support-bot" and sb["period_end"] - sb["period_start"] == 3600
    # the CSV export overlaps (chatcmpl-2 again) and adds chatcmpl-4
    evs = collect_litellm([FIX / "litellm_spend_logs.csv"], ledger, LlmUsageConfig())
    assert [(e["workload"]["id"], e["cost_usd"], e["usage_quantity"]) for e in evs] == [
        ("support-bot", pytest.approx(0.01), 1000)]
    ledger.commit()
    assert collect_litellm([FIX / "litellm_spend_logs.json", FIX / "litellm_spend_logs.csv"], ledger,
                           LlmUsageConfig()) == []


@given(st.dictionaries(st.text(min_size=1, max_size=10), st.text(max_size=10), max_size=5))
def test_tags_shapes_roundtrip(tags: dict[str, str]) -> None:
    import orjson
    assert parse_tags(orjson.dumps(tags).decode()) == tags
    assert parse_tags([{"key": k, "value": v} for k, v in tags.items()]) == tags
    assert parse_tags(list(tags.items())) == tags
    if tags:
        assert parse_tags(orjson.dumps(tags).decode()[1:-1]) == tags


def test_time_formats() -> None:
    for s in ("2026-11-20T00:00:00Z", "2026-11-20 00:00:00 UTC", "2026-11-20T00:00:00+00:00", "2026-11-20"):
        assert parse_time(s) == T0
