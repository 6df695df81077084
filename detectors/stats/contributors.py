"""Who spent it: contributor shares and cost per token for one spend series.

Used by :mod:`detectors.cost_spike` for its evidence; nothing here decides whether a period is
anomalous. Two kinds of state, both learned only from periods the detector did not flag (so a
spike never becomes the usual mix):

- **shares**: each contributor's usual share of the series' spend, an EWMA per contributor
  (service, sku, resource_id, model, usage_unit) over at most ``max_contributors`` keys (the
  smallest is replaced by a larger newcomer);
- **token prices**: for token-priced rows, the EWMA of log(USD per token) over all models and
  per model (at most ``max_models``), and each model's share of token spend.

While an anomaly is open, :func:`attribute_period` adds each anomalous period's spend per
contributor against its expected share of the expected spend; :func:`rank_contributors` ranks
them by excess dollars and :func:`cost_per_token` compares the anomaly's cost per token with
the learned one, naming the models whose share grew or that got pricier.

Examples
--------
>>> shares: dict = {}
>>> learn_shares(shares, {("OpenAI API", None, None, "gpt-4o", "tokens"): 10.0}, total_usd=10.0, gain=1.0,
...              max_contributors=8)
>>> shares
{('OpenAI API', None, None, 'gpt-4o', 'tokens'): 1.0}
>>> contrib: dict = {}
>>> per_contrib = {("OpenAI API", None, None, "gpt-4o", "tokens"): 40.0}
>>> attribute_period(contrib, {}, shares, per_contrib, {}, expected_usd=10.0, max_contributors=8, max_models=6)
>>> rank_contributors(contrib, shares, top=5)[0]["excess_usd"]
30.0
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from detectors.stats.spend_periods import Contributor


def learn_shares(shares: dict[Contributor, float], by_contrib: Mapping[Contributor, float], total_usd: float,
                 gain: float, max_contributors: int) -> None:
    """Fold one normal period's spend per contributor into the usual shares (EWMA, gain ``gain``)."""
    keep, inv = 1.0 - gain, gain / total_usd
    if by_contrib.keys() == shares.keys():  # the usual case: the same SKUs as always
        for key, usd in by_contrib.items():
            shares[key] = shares[key] * keep + inv * usd
        return
    for key in shares:
        shares[key] *= keep
    for key, usd in by_contrib.items():
        add = inv * usd
        if key in shares:
            shares[key] += add
        elif len(shares) < max_contributors:
            shares[key] = add
        else:
            low = min(shares, key=shares.__getitem__)
            if shares[low] < add:
                del shares[low]
                shares[key] = add


def learn_token_prices(model_cpt: dict[str, float], model_share: dict[str, float], cpt_log: float | None,
                       by_model: Mapping[str, list[float]], gain: float, max_models: int) -> float | None:
    """Fold one normal period's token spend into the per-model cost per token and shares;
    returns the new EWMA of log(USD per token) over all models (``cpt_log`` when the period had
    no token spend)."""
    if not by_model:
        return cpt_log
    usd_all = tok_all = 0.0
    for v in by_model.values():
        usd_all += v[0]
        tok_all += v[1]
    if usd_all <= 0 or tok_all <= 0:
        return cpt_log
    keep = 1.0 - gain
    lc = math.log(usd_all / tok_all)
    cpt_log = lc if cpt_log is None else cpt_log + gain * (lc - cpt_log)
    for m in model_share:
        model_share[m] *= keep
    for m, (usd, tok) in by_model.items():
        if tok <= 0 or usd <= 0:
            continue
        lm = math.log(usd / tok)
        if m in model_cpt:
            model_cpt[m] += gain * (lm - model_cpt[m])
            model_share[m] += gain * usd / usd_all
        elif len(model_cpt) < max_models:
            model_cpt[m] = lm
            model_share[m] = gain * usd / usd_all
    return cpt_log


def attribute_period(contrib: dict[Contributor, list[float]], models: dict[str, list[float]],
                     shares: Mapping[Contributor, float], by_contrib: Mapping[Contributor, float],
                     by_model: Mapping[str, list[float]], expected_usd: float, max_contributors: int,
                     max_models: int) -> None:
    """Add one anomalous period to an anomaly's contributors (``[observed, expected]`` USD each,
    at most 4 x ``max_contributors``) and token spend per model (``[usd, tokens]``, at most
    2 x ``max_models``)."""
    for key, usd in by_contrib.items():
        c = contrib.get(key)
        exp_c = shares.get(key, 0.0) * expected_usd
        if c is None:
            if len(contrib) >= 4 * max_contributors:
                continue
            contrib[key] = [usd, exp_c]
        else:
            c[0] += usd
            c[1] += exp_c
    for key, share in shares.items():  # usual contributors that did not show up
        if key not in by_contrib and key in contrib:
            contrib[key][1] += share * expected_usd
    for model, (usd, tok) in by_model.items():
        mm = models.get(model)
        if mm is None:
            if len(models) < 2 * max_models:
                models[model] = [usd, tok]
        else:
            mm[0] += usd
            mm[1] += tok


def rank_contributors(contrib: Mapping[Contributor, list[float]], shares: Mapping[Contributor, float],
                      top: int) -> list[dict[str, Any]]:
    """The ``top`` contributors by excess dollars, as evidence (``new``: not a usual contributor)."""
    ranked = sorted(contrib.items(), key=lambda kv: kv[1][1] - kv[1][0])[:top]
    return [{"service": k[0], "sku": k[1], "resource_id": k[2], "model": k[3], "usage_unit": k[4],
             "observed_usd": round(v[0], 2), "expected_usd": round(v[1], 2), "excess_usd": round(v[0] - v[1], 2),
             "new": k not in shares}
            for k, v in ranked]


def cost_per_token(models: Mapping[str, list[float]], model_share: Mapping[str, float],
                   model_cpt: Mapping[str, float], cpt_log: float | None, change_ratio: float,
                   top: int) -> dict[str, Any] | None:
    """The anomaly's cost per token against the learned one (None without token spend).

    ``changed`` when it is ``change_ratio`` x the usual or more; ``models_grown`` then names the
    models that are new (>= 10 % of the spend), grew their share by 20 points or more, or cost
    ``change_ratio`` x their own usual per token.
    """
    if not models:
        return None
    usd = sum(v[0] for v in models.values())
    tok = sum(v[1] for v in models.values())
    if usd <= 0 or tok <= 0:
        return None
    observed = usd / tok
    out: dict[str, Any] = {"observed_usd_per_mtok": round(observed * 1e6, 4)}
    rows = []
    grown = []
    for m, (musd, mtok) in sorted(models.items(), key=lambda kv: -kv[1][0]):
        share = musd / usd
        base_share = model_share.get(m)
        base_cpt = model_cpt.get(m)
        row = {"model": m, "usd": round(musd, 2), "tokens": int(mtok), "share": round(share, 3),
               "usd_per_mtok": round(musd / mtok * 1e6, 4) if mtok else None,
               "baseline_share": None if base_share is None else round(base_share, 3),
               "baseline_usd_per_mtok": None if base_cpt is None else round(math.exp(base_cpt) * 1e6, 4)}
        rows.append(row)
        pricier = base_cpt is not None and mtok > 0 and musd / mtok >= change_ratio * math.exp(base_cpt)
        new_or_grown = share >= 0.1 if base_share is None else share - base_share >= 0.2
        if new_or_grown or pricier:
            grown.append(m)
    out["models"] = rows[:top]
    if cpt_log is not None:
        expected = math.exp(cpt_log)
        out["expected_usd_per_mtok"] = round(expected * 1e6, 4)
        out["ratio"] = round(observed / expected, 3)
        out["changed"] = observed >= change_ratio * expected
        if out["changed"]:
            out["models_grown"] = grown
    return out
