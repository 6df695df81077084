"""`spendwatch collect billing ...`: one driver for every billing source.

:func:`run_billing` reads the inputs of one source (FOCUS files, OpenAI or LiteLLM exports, an
OpenCost allocation query), merges them by row identity, applies them to the ledger, publishes
the events due (sorted by ``ts``) and returns a :class:`BillingResult`: the reconciliation, the
events and the exit code. The CLI only parses flags and prints the result.

Modes: publish (default: spooled, then sent to Kafka; the ledger commits once spooled);
``--stdout`` (the events are written to stdout as JSON lines *and recorded in the ledger* as
published: stdout is the transport); ``--dry-run`` (the events that would go out are computed
against the ledger and the ledger is left untouched; with ``--stdout`` they are printed).

Exit codes: 0 done (also with skipped rows: they are in the reconciliation); 1 the broker did not
acknowledge everything in time (the rest is spooled and goes out on the next run); 2 bad
settings or arguments; 3 an input was rejected (not a FOCUS export, unreadable, an API error):
nothing was published and the ledger is unchanged.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson

from collectors.billing.focus import Attribution, BillingConfig, FocusFile, NotFocus, check_header, read_focus_file
from collectors.billing.ledger import Ledger
from collectors.billing.reconcile import FileNote, Reconciliation
from collectors.billing.rows import InputRejected, RowValue
from collectors.publisher import Transport, publisher_from_settings
from collectors.state import ensure_dir, state_dir
from spendwatch.config import Settings
from spendwatch.errors import ConfigError
from spendwatch.events import validate
from spendwatch.format import plural

EXIT_OK, EXIT_UNDELIVERED, EXIT_REJECTED = 0, 1, 3


@dataclass
class BillingRequest:
    """What the command line asked for."""

    kind: str  # focus, openai, litellm, opencost
    files: list[str] = field(default_factory=list)
    usage_files: list[str] = field(default_factory=list)  # openai: usage API exports (token counts)
    url: str | None = None  # opencost: base URL or a full /allocation/compute URL
    window: str | None = None  # opencost: e.g. 24h, 7d (default opencost.window)
    state: str | None = None
    cost_column: str | None = None
    dry_run: bool = False
    stdout: bool = False
    reattribute: bool = False
    timeout_s: float = 60.0


@dataclass
class BillingResult:
    report: Reconciliation
    events: list[dict[str, Any]] = field(default_factory=list)
    exit_code: int = EXIT_OK
    error: str | None = None

    def text(self) -> str:
        if self.error:
            return f"spendwatch billing {self.report.source}: {self.error}"
        return self.report.render()

    def json(self) -> str:
        doc = self.report.to_json()
        doc["exit_code"] = self.exit_code
        doc["error"] = self.error
        return orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode()


@dataclass
class Unit:
    """One input (a file, an API response): its note, content digest and rows."""

    note: FileNote
    digest: str | None
    rows: list[RowValue]


def state_path(req: BillingRequest, cfg_state: str, environ: dict[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    given = req.state or env.get("SPENDWATCH_BILLING_STATE") or cfg_state
    if given:
        return Path(given).expanduser()
    return ensure_dir(state_dir(env), "billing state", "billing.state_path") / "billing.sqlite"


# --- sources ------------------------------------------------------------------------------------------
def _focus_units(req: BillingRequest, cfg: BillingConfig, report: Reconciliation) -> Iterator[Unit]:
    attribution = Attribution(cfg)
    checked: list[tuple[FocusFile, dict[str, str]]] = []
    errors = []
    for f in req.files:
        p = Path(f)
        try:
            if not p.is_file():
                raise NotFocus("no such file")
            ff = FocusFile(p)
            checked.append((ff, check_header(ff.read_header(), cfg.cost_column)))
        except NotFocus as exc:
            errors.append(f"{f}: {exc}")
    if errors:
        raise InputRejected("; ".join(errors))
    for ff, cols in checked:
        note = FileNote(str(ff.path), ff.kind)
        report.files.append(note)
        note.rows, rows = read_focus_file(ff, cols, cfg, attribution, report)
        yield Unit(note, ff.digest, rows)


SourceFn = Callable[[BillingRequest, Settings, Reconciliation], Iterator[Unit]]


def _sources() -> dict[str, SourceFn]:
    from collectors.billing import llm_usage, opencost

    return {"openai": llm_usage.openai_units, "litellm": llm_usage.litellm_units, "opencost": opencost.opencost_units}


# --- the driver ---------------------------------------------------------------------------------------
def run_billing(settings: Settings, req: BillingRequest, transport: Transport | None = None,
                stdout: IO[bytes] | None = None) -> BillingResult:
    """Read, apply, publish, reconcile. ``transport`` replaces Kafka (tests); ``stdout`` for ``--stdout``."""
    cfg = settings.build(BillingConfig, "billing")
    if req.cost_column:
        cfg = BillingConfig(**{**cfg.__dict__, "cost_column": req.cost_column})
    cfg.check()
    source = req.kind
    mode = "dry-run" if req.dry_run else "stdout" if req.stdout else "publish"
    report = Reconciliation(source, cost_column=cfg.cost_column if source == "focus" else "", mode=mode)
    path = state_path(req, cfg.state_path)
    report.state = str(path)
    try:
        ledger = Ledger(path)
    except OSError as exc:
        raise ConfigError(f"billing.state_path: cannot use {path}: {exc}") from None
    except Exception as exc:
        if "sqlite" in type(exc).__module__:
            raise ConfigError(f"billing.state_path: {path} is not a spendwatch billing state: {exc}") from None
        raise
    try:
        return _run(settings, req, cfg, ledger, report, transport, stdout)
    finally:
        ledger.close()


def _run(settings: Settings, req: BillingRequest, cfg: BillingConfig, ledger: Ledger, report: Reconciliation,
         transport: Transport | None, stdout: IO[bytes] | None) -> BillingResult:
    source = req.kind
    if source == "focus":
        ledger.check_setting("cost_column:focus", cfg.cost_column,
                             "published amounts would change meaning; keep the column or use a new --state")
        attribution_fp = Attribution(cfg).fingerprint()
    else:
        attribution_fp = _attribution_fingerprint(settings, source)
    try:
        units = list(_focus_units(req, cfg, report) if source == "focus"
                     else _sources()[source](req, settings, report))
    except InputRejected as exc:
        return BillingResult(report, exit_code=EXIT_REJECTED,
                             error=f"input rejected, nothing published and the ledger unchanged: {exc}")
    rates = ledger.rates(cfg.rates())
    report.rates = rates
    fp_key = f"attribution:{source}"
    old_fp = ledger.setting(fp_key)
    mapping_changed = old_fp is not None and old_fp != attribution_fp
    if mapping_changed and not req.reattribute:
        report.notes.append("the attribution mapping changed since the last run: rows already published keep their "
                            "workload (counted as 'changed attribution kept'); run again with --reattribute to move "
                            "them (a reversal on the old workload and the amount on the new one)")

    merged: dict[str, RowValue] = {}
    digests_now: set[str] = set()
    for u in units:
        if u.digest is not None and u.digest in digests_now:
            u.note.status = "same content as an earlier input of this run, counted once"
            for rv in u.rows:
                report.seen_again.add(None, rv.currency, rv.amount)
            continue
        applied = ledger.applied_file(source, u.digest) if u.digest is not None else None
        if applied is not None and not req.reattribute and not mapping_changed:  # else: re-examined
            u.note.status = "already applied"
            u.note.note = f"same content as {applied[0]}, applied before; not applied again"
            for rv in u.rows:
                report.already_applied.add(None, rv.currency, rv.amount)
            continue
        if u.digest is not None:
            digests_now.add(u.digest)
        for rv in u.rows:
            prev = merged.get(rv.rkey)
            if prev is not None:
                report.seen_again.add(None, prev.currency, prev.amount)  # the later input wins
            merged[rv.rkey] = rv
    res = ledger.apply(source, merged.values(), rates, reattribute=req.reattribute)
    for name in ("rows_new", "rows_changed", "rows_unchanged", "rows_reattributed", "rows_attribution_kept",
                 "before_usd", "held", "converted_earlier", "reasons"):
        setattr(report, name, getattr(res, name))
    for ev in res.events:
        validate(ev)
    report.published(res.events)
    if report.held:
        held = ", ".join(f"{n} rows in {c}" for c, (n, _a) in sorted(report.held.items()))
        report.notes.append(f"{held}: no exchange rate to USD; held in the ledger (not lost) and published once "
                            f"billing.usd_rates has one")
    if req.dry_run:
        ledger.rollback()
        report.notes.append("--dry-run: nothing was published and the ledger was not changed")
        if req.stdout and stdout is not None:
            for ev in res.events:
                stdout.write(orjson.dumps(ev) + b"\n")
            stdout.flush()
        return BillingResult(report, res.events)
    for u in units:
        if u.digest is not None and u.note.status == "applied":
            ledger.mark_file(source, u.digest, u.note.path, u.note.rows)
    if req.reattribute or not mapping_changed:  # else the note repeats until --reattribute
        ledger.set_setting(fp_key, attribution_fp)
    publisher = publisher_from_settings(settings, "billing", stdout=stdout if req.stdout else None,
                                        transport=transport)
    try:
        publisher.publish_many(res.events)  # spooled on disk: from here on nothing is lost
        ledger.commit()
        delivered = publisher.flush(req.timeout_s)
    finally:
        publisher.close(1.0)
    report.delivered = delivered
    if req.stdout:
        report.notes.append(f"--stdout: {plural(len(res.events), 'event')} written to stdout and recorded in the "
                            f"ledger as published (use --dry-run to preview without recording)")
    if not delivered:
        report.notes.append("the broker did not acknowledge everything in time; the rest is spooled and goes out on "
                            "the next run")
        return BillingResult(report, res.events, EXIT_UNDELIVERED)
    return BillingResult(report, res.events)


def _attribution_fingerprint(settings: Settings, source: str) -> str:
    import hashlib

    section = {"openai": "llm_usage", "litellm": "llm_usage", "opencost": "opencost"}.get(source, source)
    return hashlib.sha256(orjson.dumps(dict(settings.section(section)), option=orjson.OPT_SORT_KEYS,
                                       default=str)).hexdigest()[:16]
