"""The API fuzzed against its own OpenAPI document (schemathesis): no 5xx and no response that breaks
the schema, over a small seeded history, with a fixed number of examples per operation (bounded run)."""

from __future__ import annotations

import shutil
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.app import ApiOptions, create_app
from spendwatch.history import open_store
from tests.api.conftest import NOW, TOKEN

EXAMPLES = 25  # per operation: 11 operations, a bounded run of well under a minute


def _app() -> object:
    # the session's demo database is built by tests/api/conftest.py; here a module-level copy
    # is needed at collection time, so the fuzzed app gets its own small database, seeded lazily
    import tempfile

    from tests.api.conftest import END, START

    folder = Path(tempfile.mkdtemp(prefix="sw-fuzz-"))
    store = open_store(f"sqlite:///{folder}/history.db")
    store.record_many([{"type": "anomaly", "id": "idle_gpu-0123456789abcdef0123", "kind": "idle_gpu",
                        "state": "open", "severity": "warning", "resource": "GPU-1",
                        "workload": {"id": "ml/train", "team": "ml", "owner": "ana@corp.example", "kind": "training"},
                        "started_at": START, "detected_at": START + 1200, "resolved_at": None, "waste_usd": 12.5,
                        "projected_daily_usd": 70.8, "summary": "GPU idle", "ts": END,
                        "evidence": {"node": "n1", "gpu_uuid": "GPU-1", "dwell_s": 1200.0, "mean_activity_pct": 0.1,
                                     "mem_used_pct": 40.0}}])
    app = create_app(store, ApiOptions(token=TOKEN), now=lambda: NOW)
    app.state.fuzz_folder = folder
    return app


APP = _app()
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                 HealthCheck.function_scoped_fixture])
def test_api_conforms_to_its_openapi_document(case: schemathesis.Case) -> None:
    case.call_and_validate(headers={"Authorization": f"Bearer {TOKEN}"},
                           checks=[not_a_server_error, status_code_conformance, content_type_conformance,
                                   response_schema_conformance])


def teardown_module() -> None:
    shutil.rmtree(APP.state.fuzz_folder, ignore_errors=True)  # type: ignore[attr-defined]
