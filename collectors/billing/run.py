"""A billing collector run (``spendwatch collect billing focus|openai|litellm FILE...``).

:func:`run_billing_collector` reads cost exports, publishes the ``billing_delta`` events that
are due (new or restated upwards since the ledger last saw them) and commits the ledger once
they are spooled: running it twice over the same files publishes nothing new.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from collectors.billing.ledger import LedgerStats
from spendwatch.config import Settings
from spendwatch.errors import ConfigError


@dataclass(frozen=True)
class BillingRunOptions:
    """The ``spendwatch collect billing`` flags."""

    kind: str  # focus, openai, litellm
    files: list[str | Path]
    usage: list[str | Path] = field(default_factory=list)  # openai: usage exports, for token counts
    state: str | None = None  # ledger file (default: $SPENDWATCH_BILLING_STATE, else billing.state_path)
    stdout: bool = False
    timeout_s: float = 60.0
    cost_column: str | None = None  # focus: BilledCost or EffectiveCost


@dataclass
class BillingRunResult:
    """How many events were published, what the ledger saw, and whether the broker acknowledged them all."""

    events: int
    stats: LedgerStats
    delivered: bool


def run_billing_collector(settings: Settings, options: BillingRunOptions) -> BillingRunResult:
    from collectors.billing.focus import BillingConfig, collect_focus
    from collectors.billing.ledger import Ledger
    from collectors.billing.llm_usage import LlmUsageConfig, collect_litellm, collect_openai
    from collectors.publisher import open_publisher

    bcfg = settings.build(BillingConfig, "billing")
    if options.cost_column:
        bcfg = BillingConfig(**{**bcfg.__dict__, "cost_column": options.cost_column})
    bcfg.check()
    for f in options.files + list(options.usage):
        if not os.path.isfile(f):
            raise ConfigError(f"{f}: no such file")
    state = options.state or os.environ.get("SPENDWATCH_BILLING_STATE") or bcfg.state_path
    try:
        ledger = Ledger(state)
    except OSError as exc:
        raise ConfigError(f"billing.state_path: cannot use {state}: {exc}") from None
    stats = LedgerStats()
    if options.kind == "focus":
        events = collect_focus(options.files, ledger, bcfg, stats)
    elif options.kind == "openai":
        events = collect_openai(options.files, ledger, settings.build(LlmUsageConfig, "llm_usage"), options.usage,
                                stats)
    else:
        events = collect_litellm(options.files, ledger, settings.build(LlmUsageConfig, "llm_usage"), stats)
    publisher = open_publisher(settings, stdout=options.stdout, name="billing")
    try:
        publisher.publish_many(events)  # spooled on disk: from here on nothing is lost
        ledger.commit()
        delivered = publisher.flush(options.timeout_s)
    finally:
        publisher.close(1.0)
        ledger.close()
    return BillingRunResult(len(events), stats, delivered)
