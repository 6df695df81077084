"""Bounded, rank-based drift statistics shared by the drift-aware detectors.

Used by :mod:`detectors.drift` (``retrain_needed``) and :mod:`detectors.retrain_without_drift`.
Nothing here reads the clock or knows about events: callers pass numpy batches and event time.

Method (per model, per feature)
    - **Reference**: the first ``reference_size`` values after a reset (the model's start, or a
      successful retrain), compressed to ``reference_quantiles`` order statistics (float32).
      A quantile summary of 2 000 values keeps their ECDF to 1/512 in 2 KiB.
    - **Window**: the most recent ``window_size`` values, kept as a deque of per-batch float32
      arrays; a batch larger than ``max_batch_share`` of the window is stride-subsampled, so
      one huge batch can never be the whole window.
    - **Test**: at most once per batch, and only after ``test_every`` new values, a two-sample
      Kolmogorov-Smirnov statistic D between window and reference. KS works on ranks, so heavy
      tails (Student-t, lognormal) and outliers do not move it more than any other value, and
      it sees mean shifts, variance changes and shape changes alike. The window counts as
      *elevated* when D stays above ``max(critical(alpha), min_effect)`` even after leaving
      out its single most deviant batch (a single noisy batch cannot raise it).
    - **Decision**: ``confirm_tests`` consecutive elevated tests (three or more batches)
      confirm drift. Its start is the change-point estimate: walking back from the first
      elevated test while D stayed above ``start_ratio`` x threshold (the rise of D), the end
      of the last quiet window before it. Drift clears after ``clear_tests`` consecutive tests
      below ``clear_ratio`` x threshold (hysteresis, so a drift near the threshold does not
      flap into several anomalies).
    - **Like hours with like hours**: each feature also keeps a *reference day*: the mean and
      spread of every half hour of the day as first seen after the reset (48 x 3 numbers). Once
      the window's half hour is a day old, a test elevated against the reference counts only if
      it stays elevated with the time of day taken out (the window standardised by its half
      hour of the reference day, the reference by its own mean and spread): a feature that
      follows a 24-hour cycle (traffic mix, time of day, the predictions that follow them) moves
      away from a reference taken at one hour, and comes back, every day, while a real shift
      stays a shift at every hour. A drift is over when the time-of-day-adjusted window is back
      like the reference (on the first day: when the window itself is).
      On the first day no earlier time of day exists: a drift is confirmed then only after the
      feature stood still for 90 minutes (every test under 0.8 of the bar, their median under 0.5)
      since its reference was built, i.e. a change point with a steady "before"
      (a shift, a variance jump, a sentinel that starts to appear); a feature that has moved ever
      since its reference (a daily cycle seen for the first time) waits for the reference day. A
      drift that goes away by itself on the first day is not confirmed again before the reference
      day can tell. And a drift whose score crept up more slowly than the window fills (a ramp,
      not a step) is confirmed on the first day only once it is large (KS D >= 0.3: a daily
      cycle's morning ramp looks like a gradual drift for its first hours; a gradual drift that
      keeps going gets there, later).
      A drift that went away by itself within half a week (a weekend's traffic, which a weekday's
      reference day cannot know) is remembered by its hours of the week: at the same hours of a
      later week (give or take two hours), an elevated test is that week's rhythm, not a new drift.
    - **PSI** over ten reference-quantile bins is reported as evidence (0.1 moderate, 0.25 large).

One state per model, two detectors
    ``retrain_needed`` and ``retrain_without_drift`` read the same :class:`ModelDrift` (the
    Engine keeps one per model). Its reference rule serves both: a successful retrain after
    confirmed drift rebuilds every feature's reference (the new model learnt the new
    distribution); a retrain without drift keeps it and only starts a new judging period
    (inputs did not change, and frequent needless retrains must not keep the tests blind while a
    reference refills). :meth:`ModelDrift.retrained` applies it once per run and hands both
    detectors the same verdict about the period before.

State per feature: 2 KiB of reference, about 2 KiB of window, 1.5 KiB of reference day (and 1.5 KiB
more of its logs while the reference fills), a short test history: under 10 KiB pickled
(``bench/bench_drift.py`` measures it). Work per batch: one numpy append; per test: two sorts and
searchsorted over ~1 000 points (tens of microseconds).

Defaults, and why
    ``reference_size = 2000``, ``window_size = 500``, ``test_every = 100``: at 50 values a minute
    that is a 40-minute reference, a 10-minute window, a test every 2 minutes; the critical D
    at ``alpha = 1e-4`` is 0.11, i.e. a mean shift of ~0.3 standard deviation or a variance
    change of ~50 %. ``min_effect = 0.12`` keeps huge batches from flagging tiny but
    "significant" differences nobody would retrain for.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class DriftParams:
    """Drift-test settings (a nested ``stats`` mapping in the ``drift`` and
    ``retrain_without_drift`` sections); see the module docstring for the reasoning.

    Parameters
    ----------
    reference_size
        Values after a reset that make the reference (2000).
    reference_quantiles
        Order statistics the reference is compressed to (512, float32: 2 KiB).
    window_size
        Most recent values tested against the reference (500).
    test_every, test_every_s
        New values between two tests (100; at most one test per batch), or, on a slow feed, event
        seconds since the last test once a fifth of them came (300).
    max_batch_share
        Largest share of the window one batch may fill; a bigger batch is subsampled (0.25).
    alpha
        Significance level of the KS critical value (1e-4).
    min_effect
        Smallest KS statistic that counts, however large the samples (0.12).
    z_threshold
        Rank-shift z score that counts as elevated on its own (4.5): more power than KS for a
        pure location shift; also the bar of a value's share change (below).
    mass_min_effect
        Smallest change in the share of one repeated value (a category, a sentinel) that counts on
        its own, however large the samples (0.1): more power than KS for a categorical feature,
        whose codes have no order.
    confirm_tests
        Consecutive elevated tests that confirm drift (3).
    start_ratio
        The change point walks back over tests scoring at least this share of the threshold (0.5).
    clear_ratio, clear_tests
        Drift clears after ``clear_tests`` consecutive tests below ``clear_ratio`` x the
        threshold (5 below 0.6: hysteresis).
    history
        Tests kept per feature for the change-point estimate (32).
    reference_max_s, reference_min
        A feature that has not sent ``reference_size`` values a day after its reset (86 400 s), but at
        least ``reference_min`` (100), takes that day as its reference: a model seeing a few values an
        hour would otherwise wait weeks before its first test. It is then a *slow feed*:
    slow_window_s, slow_window_min, slow_test_every
        A slow feed's window also drops values older than ``slow_window_s`` (4 h) while at least
        ``slow_window_min`` (20) remain, and it is tested once ``slow_window_min`` values are in it,
        every ``slow_test_every`` (5) new values at most every ``test_every_s``: a shift shows within
        hours, not once it fills 500 values.
    max_features
        Features tracked per model; later ones are ignored (256).
    """

    reference_size: int = 2000
    reference_quantiles: int = 512
    window_size: int = 500
    test_every: int = 100
    test_every_s: float = 300.0
    max_batch_share: float = 0.25
    alpha: float = 1e-4
    min_effect: float = 0.12
    z_threshold: float = 4.5
    mass_min_effect: float = 0.1
    confirm_tests: int = 3
    start_ratio: float = 0.5
    clear_ratio: float = 0.6
    clear_tests: int = 5
    history: int = 32
    reference_max_s: float = 86400.0
    reference_min: int = 100
    slow_window_s: float = 4 * 3600.0
    slow_window_min: int = 20
    slow_test_every: int = 5
    max_features: int = 256


def ks_statistic(ref_sorted: np.ndarray, win_sorted: np.ndarray) -> float:
    """Two-sample KS statistic of two sorted samples (ties handled: ECDFs at every point)."""
    return ks_and_ranks(ref_sorted, win_sorted)[0]


def ks_and_ranks(ref_sorted: np.ndarray, window: np.ndarray) -> tuple[float, int, int]:
    """(KS statistic D, right and left rank sums) of :func:`ks_ranks_and_masses`."""
    d, right_sum, left_sum, _ = ks_ranks_and_masses(ref_sorted, window)
    return d, right_sum, left_sum


def ks_ranks_and_masses(ref_sorted: np.ndarray, window: np.ndarray
                        ) -> tuple[float, int, int, tuple[np.ndarray, np.ndarray] | None]:
    """(KS statistic D, the sums over the window of its values' right and left ranks in the
    reference) of a sorted reference and a window in any order, from one stable merge of the two.

    Why a merge: both ECDFs at every point of either sample are running counts along the
    merged order, read at the last of each run of equal values; the reference comes first
    among equal values (a stable sort of reference + window), so a window value's count of
    reference values before it is its right rank (``searchsorted(side="right")``). One
    ``argsort`` of the concatenation (timsort merges the two sorted runs) replaces the four
    binary searches the test used to make; D is the same float (the same counts divided the
    same way), and so are the rank sums (integers). A window value's left rank is its right
    rank less the reference values equal to it: those come first in its run of equal values."""
    n, m = ref_sorted.size, window.size
    both = np.concatenate((ref_sorted, np.sort(window)))  # two sorted runs: the argsort merges them
    order = np.argsort(both, kind="stable")
    merged = both[order]
    from_win = order >= n
    c_win = np.cumsum(from_win, dtype=np.intp)
    c_ref = np.arange(1, n + m + 1) - c_win
    last = np.empty(n + m, dtype=bool)
    last[-1] = True
    np.not_equal(merged[1:], merged[:-1], out=last[:-1])
    if last.all():  # no value occurs twice: every point ends its own run, left rank = right rank
        d = float(np.max(np.abs(c_ref / n - c_win / m)))
        right_sum = int(c_ref[from_win].sum())
        return d, right_sum, right_sum, None
    c_ref_last, c_win_last = c_ref[last], c_win[last]
    d = float(np.max(np.abs(c_ref_last / n - c_win_last / m)))
    first = np.empty(n + m, dtype=bool)
    first[0] = True
    first[1:] = last[:-1]
    # reference values before each run of equal values, carried along the run (c_ref never falls)
    before_run = np.maximum.accumulate(np.where(first, c_ref - ~from_win, 0))
    # values that occur more than once: each run's count in the reference and in the window (the
    # point masses of a discrete feature, a sentinel such as -1 or 0)
    ref_count = np.empty_like(c_ref_last)
    ref_count[0] = c_ref_last[0]
    np.subtract(c_ref_last[1:], c_ref_last[:-1], out=ref_count[1:])
    win_count = np.empty_like(c_win_last)
    win_count[0] = c_win_last[0]
    np.subtract(c_win_last[1:], c_win_last[:-1], out=win_count[1:])
    # only values that repeat can carry a share worth a test (a single value's share is 1/512 or 1/500:
    # its ratio stays under 0.05, below every bar the score is compared with)
    repeated = np.flatnonzero((ref_count > 1) | (win_count > 1))
    masses = (ref_count[repeated], win_count[repeated]) if repeated.size else None
    return d, int(c_ref[from_win].sum()), int(before_run[from_win].sum()), masses


def point_mass_ratio(masses: tuple[np.ndarray, np.ndarray], n_ref: int, n_ref_sample: int, n_win: int,
                     z_threshold: float, min_effect: float) -> float:
    """The largest change in the share of one value (a category, a sentinel), over its bar: the
    two-proportion bar at ``z_threshold`` and never under ``min_effect``. KS sees a category's share
    move only as far as the ECDF moves at the neighbouring codes (one category from 10 % to 30 % moves
    it by 0.12, at the KS bar), and the order of category codes means nothing."""
    ref_count, win_count = masses
    ref_share = ref_count / n_ref
    win_share = win_count / n_win
    pooled = (ref_share * n_ref_sample + win_count) / (n_ref_sample + n_win)
    sd = np.sqrt(pooled * (1.0 - pooled) * (1.0 / n_ref_sample + 1.0 / n_win))
    bar = np.maximum(z_threshold * sd, min_effect)
    return float(np.max(np.abs(win_share - ref_share) / bar))


def ks_critical(alpha: float, n_ref: int, n_win: int) -> float:
    """Asymptotic critical D of the two-sample KS test at level ``alpha``."""
    c = math.sqrt(-math.log(alpha / 2.0) / 2.0)
    return c * math.sqrt((n_ref + n_win) / (n_ref * n_win))


def ks_pvalue(d: float, n_ref: int, n_win: int) -> float:
    """Asymptotic p-value of a two-sample KS statistic."""
    from scipy.special import kolmogorov  # here: only evidence needs it, and it costs 0.2 s to import

    en = math.sqrt(n_ref * n_win / (n_ref + n_win))
    return float(kolmogorov(en * d))


def psi(ref_sorted: np.ndarray, win: np.ndarray, bins: int = 10) -> float:
    """Population stability index over reference-quantile bins (ties kept in one bin)."""
    edges = np.unique(np.quantile(ref_sorted, np.linspace(0, 1, bins + 1)[1:-1]))
    e = np.bincount(np.searchsorted(edges, ref_sorted, side="right"), minlength=edges.size + 1) / ref_sorted.size
    a = np.bincount(np.searchsorted(edges, win, side="right"), minlength=edges.size + 1) / win.size
    e, a = np.maximum(e, 1e-4), np.maximum(a, 1e-4)
    return float(np.sum((a - e) * np.log(a / e)))


def largest_share_change(ref_sorted: np.ndarray, window: np.ndarray) -> dict[str, float] | None:
    """The repeated value (a category, a sentinel) whose share moved most between the reference and
    the window, for a person to read; None when no value repeats in either."""
    rv, rc = np.unique(ref_sorted, return_counts=True)
    ws = np.sort(window)
    wv, wc = np.unique(ws, return_counts=True)
    values = np.union1d(rv[rc > 1], wv[wc > 1])
    if values.size == 0:
        return None
    ref_share = (np.searchsorted(ref_sorted, values, "right") - np.searchsorted(ref_sorted, values, "left")) \
        / ref_sorted.size
    win_share = (np.searchsorted(ws, values, "right") - np.searchsorted(ws, values, "left")) / ws.size
    i = int(np.argmax(np.abs(win_share - ref_share)))
    return {"value": round(float(values[i]), 6), "reference_share": round(float(ref_share[i]), 4),
            "current_share": round(float(win_share[i]), 4)}


class FeatureDrift:
    """Drift state of one feature: reference summary, recent window, test history."""

    __slots__ = ("ref_chunks", "ref_count", "ref", "ref_n", "win", "win_n", "since_test", "last_ts",
                 "tests", "elevated", "quiet", "drifting", "drift_start", "confirmed_at", "max_ratio",
                 "n_tests", "last_d", "last_z", "last_ratio", "drifted_since_mark", "slots", "slot_at",
                 "cur_slot", "cycle_gated", "last_cycle_ratio", "self_cleared_at", "quiet_since", "steady",
                 "elevated_since", "rise_slow", "win_alone", "alone_params", "episodes", "codes", "slot_counts",
                 "slots_log", "log_scale", "log_floor", "ref_started", "slow_feed", "ref_chunk_ts", "ref_season",
                 "cycle_by_share", "moved_unsteady",
                 "slot_q", "slot_qn", "slot_buf", "slot_buf_n", "slot_buf_at", "slot_buf_stride")
    # a cache, not state: rebuilt (the same floats) after a restore
    _CACHE_SLOTS = frozenset({"win_alone", "alone_params", "cycle_by_share"})

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget the reference, window and tests: the next values build a new reference."""
        self.ref_chunks: list[np.ndarray] | None = []
        self.ref_count = 0
        self.ref_started: float | None = None  # ts of the reference's first batch
        self.slow_feed = False  # the reference was taken by time, not by count (see DriftParams)
        self.ref_chunk_ts: list[float] | None = []  # ts of each reference chunk, while it is built
        # a slow feed's reference with its own time of day taken out (sorted): its day is every hour of the
        # reference day, so it is compared as such with a deseasonalised window, not standardised as one block
        self.ref_season: np.ndarray | None = None
        self.ref: np.ndarray | None = None
        self.ref_n = 0
        self.win: deque[tuple[float, np.ndarray]] = deque()
        # each window batch's own score against the reference (None: not asked yet), for the
        # leave-one-out of an elevated test; a batch's score cannot change while it is in the
        # window (a new reference comes with a reset), so it is computed once, when first needed
        self.win_alone: deque[float | None] = deque()
        self.alone_params: DriftParams | None = None
        self.win_n = 0
        self.since_test = 0
        self.last_ts: float | None = None  # ts of the latest batch
        # (window end ts, previous test ts, score, rank-shift z)
        self.tests: deque[tuple[float, float, float, float]] = deque()
        self.elevated = 0
        self.elevated_since = 0.0  # ts of the first test of the current run of elevated tests
        self.rise_slow: bool | None = None  # whether that run's rise was slow (None: not judged yet)
        self.quiet = 0
        self.drifting = False
        self.drift_start: float | None = None
        self.confirmed_at: float | None = None
        self.max_ratio = 0.0  # largest robust score / threshold since the reference was built
        self.n_tests = 0
        self.last_d = 0.0
        self.last_z = 0.0
        self.last_ratio = 0.0
        self.drifted_since_mark = False
        self.cycle_gated = 0  # elevated tests explained by the daily cycle
        self.last_cycle_ratio: float | None = None
        self.self_cleared_at: float | None = None  # when a confirmed drift last went away by itself
        # drifts that went away by itself within half a week: [start, duration, clear time, last seen
        # again] (event time); one that comes back at the same hours of a later week is the weekly cycle
        self.episodes: list[list[float]] = []
        # a discrete feature (a flag, a count, a category code): its distinct values, and per half hour of
        # the reference day their counts (and of any other value) from when they were known on
        self.codes: np.ndarray | None = None
        self.slot_counts: np.ndarray | None = None
        self.cycle_by_share = False  # whether the last seasonal comparison was by shares (not state)
        # whether the feature has been steady (90 minutes of tests well under the bar) since
        # the reference was built: a change point has a steady "before"; a daily cycle never stands still
        self.quiet_since: float | None = None
        self.steady = False
        # whether a run of elevated tests was held before the feature was ever steady (and the reference day
        # could tell it from the time of day): a steady spell after it may be a cycle passing the reference's level
        self.moved_unsteady = False
        # the reference day: per half hour of the day, as first seen after the reset, the count,
        # mean and sum of squared deviations of the values (Welford), to take the time of day out
        self.slots = np.zeros((_SLOTS, 4), dtype=np.float64)
        self.slot_at = [-1] * _SLOTS  # the epoch slot (half hours) of that first visit (-1: not yet)
        # ... and the same of the values' logs while every value has been positive, until the reference
        # is built; then the one whose reference is less skewed is kept (``log_scale``: the logs). A
        # log-normal feature's daily cycle is a change of scale: taken out by the mean and spread of a
        # half hour, its heavy tail makes both wobble by a tenth and more, and the cycle stayed drift
        self.slots_log: np.ndarray | None = np.zeros((_SLOTS, 4), dtype=np.float64)
        self.log_scale = False
        self.log_floor = 0.0  # the log of the reference's smallest value (on the log scale)
        self.cur_slot = -1  # the epoch slot being gathered
        # ... and each half hour's distribution (``_SLOT_Q`` quantiles of its values; NaN: too few or not yet),
        # gathered in ``slot_buf`` while the half hour ``slot_buf_at`` (epoch slots) is on its first visit. A
        # feature whose shape follows the day (a mix of two populations whose shares do) is compared with the
        # same hours of the reference day as they were, which no mean and spread can stand in for
        self.slot_q = np.full((_SLOTS, _SLOT_Q), np.nan, dtype=np.float32)
        self.slot_qn = np.zeros(_SLOTS, dtype=np.int32)  # the values each half hour's quantiles were taken of
        self.slot_buf: list[np.ndarray] = []
        self.slot_buf_n = 0
        self.slot_buf_at = -1
        self.slot_buf_stride = 1  # every this many values are gathered (doubled, and the buffer halved, when full)

    def mark(self) -> None:
        """Start a new judging period (e.g. at a retrain) while keeping the reference."""
        self.n_tests = 0
        self.max_ratio = 0.0
        self.drifted_since_mark = self.drifting

    def __getstate__(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__slots__ if k not in self._CACHE_SLOTS}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.episodes = []  # snapshots from before weekly episodes were kept
        self.codes = self.slot_counts = None  # ... and before discrete features kept shares
        self.elevated_since = 0.0  # ... and before the start of a run of elevated tests was kept
        self.slots_log, self.log_scale, self.log_floor = None, False, 0.0  # ... and before log-normal features
        self.ref_started, self.slow_feed = None, False  # ... and before slow feeds took a day's reference
        self.ref_chunk_ts, self.ref_season = None, None  # (a reference half built then has no chunk times)
        slots = state.get("slots")
        if slots is not None and slots.shape[1] == 3:  # ... and before the mean absolute deviation was kept
            n, m2 = slots[:, 0], slots[:, 2]
            sd = np.sqrt(np.where(n > 1, m2 / np.maximum(n - 1, 1), 0.0))
            state["slots"] = np.column_stack([slots, n * sd * math.sqrt(2 / math.pi)])  # as if normal
        self.rise_slow = None
        self.moved_unsteady = False  # ... and before a first-day move that was held was remembered
        # ... and before the half hours' distributions were kept
        self.slot_q = np.full((_SLOTS, _SLOT_Q), np.nan, dtype=np.float32)
        self.slot_qn = np.zeros(_SLOTS, dtype=np.int32)
        self.slot_buf, self.slot_buf_n, self.slot_buf_at, self.slot_buf_stride = [], 0, -1, 1
        for k, v in state.items():
            setattr(self, k, v)
        # snapshots from before the tests kept their rank shift
        self.tests = deque(t if len(t) == 4 else (*t, 0.0) for t in self.tests)
        self.win_alone = deque([None] * len(self.win))
        self.alone_params = None
        self.cycle_by_share = False

    @property
    def ready(self) -> bool:
        return self.ref is not None

    def update(self, values: np.ndarray, ts: float, p: DriftParams) -> str | None:
        """Add one batch (float array, in order) seen up to ``ts``. Returns ``"drift"`` when
        drift is confirmed by this batch, ``"clear"`` when a confirmed drift went away."""
        self.last_ts = ts
        if values.size == 0:
            return None
        self._gather_hour(values, ts, p)
        self.cur_slot = int(ts // _SLOT_S)
        if self.ref is None:
            assert self.ref_chunks is not None
            if self.ref_started is None:
                self.ref_started = ts
            need = p.reference_size - self.ref_count
            self.ref_chunks.append(values[:need].astype(np.float32))
            if self.ref_chunk_ts is not None:
                self.ref_chunk_ts.append(ts)
            self.ref_count += min(need, values.size)
            slow = self.ref_count < p.reference_size and self.ref_count >= p.reference_min \
                and ts - self.ref_started >= p.reference_max_s
            if self.ref_count >= p.reference_size or slow:
                self.slow_feed = slow
                allv = np.sort(np.concatenate(self.ref_chunks))
                q = min(p.reference_quantiles, allv.size)
                idx = ((np.arange(q) + 0.5) * allv.size / q).astype(np.int64)
                self.ref = allv[idx]
                self.ref_n = int(allv.size)
                codes = np.unique(allv)
                if codes.size <= _MAX_CODES:
                    self.codes = codes
                    self.slot_counts = np.zeros((_SLOTS, codes.size + 1), dtype=np.float32)
                if self.slots_log is not None and codes.size > _MAX_CODES:
                    raw, logs = _kelly_skewness(allv), _kelly_skewness(np.log(allv))
                    if raw >= _LOG_MIN_SKEW and abs(logs) < raw / 2:
                        self.slots, self.log_scale, self.log_floor = self.slots_log, True, float(np.log(allv[0]))
                self.slots_log = None
                if slow and self.ref_chunk_ts is not None:
                    chunks = zip(self.ref_chunks, self.ref_chunk_ts, strict=True)
                    parts = [self._deseasonalised(c, t, min_age=0) for c, t in chunks]
                    kept = [x for x in parts if x is not None]
                    if kept:
                        self.ref_season = np.sort(np.concatenate(kept)).astype(np.float32)
                self.ref_chunks = self.ref_chunk_ts = None
            values = values[need:]
            if values.size == 0:
                return None
        cap = max(1, int(p.max_batch_share * p.window_size))
        if values.size > cap:
            values = values[:: math.ceil(values.size / cap)]
        self.win.append((ts, values.astype(np.float32)))
        self.win_alone.append(None)
        self.win_n += values.size
        while len(self.win) > 1 and self.win_n - self.win[0][1].size >= p.window_size:
            self.win_n -= self.win.popleft()[1].size
            self.win_alone.popleft()
        if self.slow_feed:
            while len(self.win) > 1 and ts - self.win[0][0] > p.slow_window_s \
                    and self.win_n - self.win[0][1].size >= p.slow_window_min:
                self.win_n -= self.win.popleft()[1].size
                self.win_alone.popleft()
        self.since_test += values.size
        if self.slow_feed:
            if self.since_test < p.slow_test_every or self.win_n < p.slow_window_min or (
                    self.tests and ts - self.tests[-1][0] < p.test_every_s):
                return None
            self.since_test = 0
            return self._test(ts, p)
        # every test_every values, or, on a slow feed, every test_every_s once a fifth of them came (at
        # 6 values a minute, 100 values are 17 minutes: three tests to confirm took most of an hour)
        due = self.since_test >= p.test_every or (
            self.since_test >= p.test_every // 5 and bool(self.tests) and ts - self.tests[-1][0] >= p.test_every_s)
        if not due or self.win_n < p.window_size // 2:
            return None
        self.since_test = 0
        return self._test(ts, p)

    def _gather_hour(self, values: np.ndarray, ts: float, p: DriftParams) -> None:
        """Fold the batch into its half hour of the reference day, if that half hour is still on
        its first visit since the reset."""
        epoch_slot = int(ts // _SLOT_S)
        slot = epoch_slot % _SLOTS
        at = self.slot_at[slot]
        if at < 0:
            self.slot_at[slot] = at = epoch_slot
        if epoch_slot > self.slot_buf_at:
            self._close_slot_sample()
            if at == epoch_slot and math.isnan(float(self.slot_q[slot, 0])):
                self.slot_buf_at = epoch_slot
        if epoch_slot == self.slot_buf_at:  # (a late batch of a half hour already closed is left out)
            kept = values[::self.slot_buf_stride].astype(np.float32)
            self.slot_buf.append(kept)
            self.slot_buf_n += kept.size
            if self.slot_buf_n > _SLOT_BUF_MAX:  # thinned evenly over the half hour, not cut at its start
                half = np.concatenate(self.slot_buf)[::2]
                self.slot_buf, self.slot_buf_n, self.slot_buf_stride = [half], half.size, 2 * self.slot_buf_stride
        if at != epoch_slot:
            return  # this half hour of the day is known already
        if self.slots_log is not None:
            if float(values.min()) > 0:
                _welford(self.slots_log[slot], np.log(values))
            else:
                self.slots_log = None
        _welford(self.slots[slot], self._scaled(values))
        if self.slot_counts is not None:
            self.slot_counts[slot] += self._code_counts(values)

    def _close_slot_sample(self) -> None:
        """Keep the gathered half hour's quantiles, if it had ``_SLOT_Q_MIN_N`` values."""
        if self.slot_buf_at >= 0 and self.slot_buf_n >= _SLOT_Q_MIN_N:
            allv = np.sort(np.concatenate(self.slot_buf))
            idx = ((np.arange(_SLOT_Q) + 0.5) * allv.size / _SLOT_Q).astype(np.int64)
            self.slot_q[self.slot_buf_at % _SLOTS] = allv[idx]
            self.slot_qn[self.slot_buf_at % _SLOTS] = allv.size
        self.slot_buf, self.slot_buf_n, self.slot_buf_at, self.slot_buf_stride = [], 0, -1, 1

    def _reference_day_mixture(self, batches: list[tuple[float, np.ndarray]]
                               ) -> tuple[np.ndarray, np.ndarray, float] | None:
        """The distribution the window's batches had at their times on the reference day: each batch's
        two nearest half hours' quantiles, weighted by how near and by the batch's size, as (points,
        weights, the fewest values behind a half hour); None unless every such half hour is a day old
        and was sampled."""
        pts, wts = [], []
        n_slot = _INF
        if not batches:
            return None
        for ts, values in batches:
            pos = ts / _SLOT_S - 0.5
            lo = math.floor(pos)
            w = pos - lo
            for e, share in ((lo, 1.0 - w), (lo + 1, w)):
                slot = e % _SLOTS
                at = self.slot_at[slot]
                q = self.slot_q[slot]
                if at < 0 or e - at < _DAY_AGO_SLOTS or math.isnan(float(q[0])):
                    return None
                pts.append(q)
                wts.append(np.full(_SLOT_Q, share * values.size / _SLOT_Q))
                n_slot = min(n_slot, float(self.slot_qn[slot]))
        return np.concatenate(pts), np.concatenate(wts), n_slot

    def _scaled(self, values: np.ndarray) -> np.ndarray:
        """The values on the scale the reference day keeps: their logs for a log-normal-like feature
        (a value <= 0, a sentinel, as the log of the reference's smallest value: at the bottom, not
        dozens of spreads below it)."""
        if not self.log_scale:
            return values
        return np.where(values > 0, np.log(np.maximum(values, _TINY)), self.log_floor)

    def _slot_stats(self, epoch_slot: int, min_age: int | None = None) -> tuple[float, float, float] | None:
        """(mean, sd, mean absolute deviation) of a half hour of the reference day, if it is a day old.
        A half hour with fewer than ``_SLOT_MIN_N`` values (a slow feed: a few values an hour) is pooled
        with its neighbours, one on each side at a time (up to four hours either way), until they have.
        ``min_age``: half hours it must be old (``_DAY_AGO_SLOTS`` unless given)."""
        if min_age is None:
            min_age = _DAY_AGO_SLOTS
        n = mean = m2 = absdev = 0.0
        for k in range(_SLOT_POOL_MAX + 1):
            for e in ((epoch_slot,) if k == 0 else (epoch_slot - k, epoch_slot + k)):
                slot = e % _SLOTS
                at = self.slot_at[slot]
                if at < 0 or epoch_slot - at < min_age:
                    if k == 0:
                        return None
                    continue
                bn, bmean, bm2, babs = self.slots[slot]
                if bn == 0:
                    continue
                tot = n + bn
                delta = bmean - mean
                mean += delta * bn / tot
                m2 += bm2 + delta * delta * n * bn / tot
                absdev += babs  # about each half hour's own mean: a slow feed's pooled hours are close
                n = tot
            if n >= _SLOT_MIN_N:
                break
        if n < 2:
            return None
        return float(mean), math.sqrt(m2 / (n - 1)), float(absdev / n)

    def _deseasonalised(self, window: np.ndarray, ts: float, min_age: int | None = None) -> np.ndarray | None:
        """The window with the reference day's time of day taken out: its values less the mean and
        over the spread of the reference day at that time (interpolated between the centres of the
        two nearest half hours, so a cycle's slope within a half hour is taken out too), or None
        while that time of the reference day is not a day old yet."""
        pos = ts / _SLOT_S - 0.5  # in half hours, from the centre of slot 0
        lo = math.floor(pos)
        a, b = self._slot_stats(lo, min_age), self._slot_stats(lo + 1, min_age)
        if a is None or b is None:
            return None
        w = pos - lo
        mean = a[0] + w * (b[0] - a[0])
        # the spread as the mean absolute deviation: a heavy tail's (Student-t) sample sd swings with
        # its largest value, which put a daily cycle's half hours on scales a tenth apart
        scale = a[2] + w * (b[2] - a[2])
        window = self._scaled(window)
        return (window - mean) / scale if scale > 0 else window - mean

    def _as_on_the_reference_day(self, batches: list[tuple[float, np.ndarray]]) -> bool:
        """Whether the feature is constant within each half hour of the reference day (the hour of day,
        a day part: a clock, not a population) and every value of the window is the reference day's
        value at its time. Taking the time of day out by the half hour's mean and spread cannot tell
        that: a spread of 0 leaves the window a constant, compared with the reference's own spread."""
        for ts, values in batches:
            lo = math.floor(ts / _SLOT_S - 0.5)
            a, b = self._slot_stats(lo), self._slot_stats(lo + 1)
            if a is None or b is None or a[1] > _CONSTANT_SD * max(1.0, abs(a[0])) \
                    or b[1] > _CONSTANT_SD * max(1.0, abs(b[0])):
                return False
            values = self._scaled(values)
            if not bool(np.all(np.isclose(values, a[0], rtol=1e-9, atol=1e-12)
                               | np.isclose(values, b[0], rtol=1e-9, atol=1e-12))):
                return False
        return True

    def _seasonal_share_ratio(self, batches: list[tuple[float, np.ndarray]], p: DriftParams) -> float | None:
        """For a discrete feature (``codes``): the largest gap between a value's share in the window and
        its share at the same times of the reference day, over the two-proportion bar of
        :func:`point_mass_ratio`; None while the reference day has too few counts there, NaN where
        most values are none of the reference's (then the caller compares as for any feature). Standardising a
        flag by its half hour's mean and spread moves its two values apart from the reference's: a daily
        cycle in a share read as drift."""
        assert self.codes is not None and self.slot_counts is not None
        k = self.codes.size
        observed = np.zeros(k + 1)
        expected = np.zeros(k + 1)
        n_slot = _INF
        for ts, values in batches:
            pos = ts / _SLOT_S - 0.5
            lo = math.floor(pos)
            a, b = self.slot_counts[lo % _SLOTS], self.slot_counts[(lo + 1) % _SLOTS]
            na, nb = float(a.sum()), float(b.sum())
            if na < _SLOT_MIN_COUNT or nb < _SLOT_MIN_COUNT or self._slot_stats(lo) is None \
                    or self._slot_stats(lo + 1) is None:
                return None
            w = pos - lo
            expected += values.size * ((1.0 - w) * a / na + w * b / nb)
            observed += self._code_counts(values)
            n_slot = min(n_slot, na, nb)
        m = float(observed.sum())
        if m == 0:
            return 0.0
        exp_share, obs_share = expected / m, observed / m
        if max(exp_share[-1], obs_share[-1]) > _OTHER_SHARE:
            return math.nan  # mostly values the reference never held (an hour-of-day clock): not by code
        pooled = (exp_share * n_slot + observed) / (n_slot + m)
        sd = np.sqrt(pooled * (1.0 - pooled) * (1.0 / n_slot + 1.0 / m))
        bar = np.maximum(p.z_threshold * sd, p.mass_min_effect)
        return float(np.max(np.abs(obs_share - exp_share) / bar))

    def _lattice_step(self) -> float | None:
        """The spacing of a discrete feature's values (its reference's smallest gap between codes)."""
        if self.codes is None or self.codes.size < 2:
            return None
        return float(np.min(np.diff(self.codes)))

    def _code_counts(self, values: np.ndarray) -> np.ndarray:
        """Counts of each of ``codes`` in ``values``, and of any other value last."""
        assert self.codes is not None
        k = self.codes.size
        values = values.astype(np.float32, copy=False)  # the codes are the reference's float32 values
        i = np.minimum(np.searchsorted(self.codes, values), k - 1)
        hit = self.codes[i] == values
        out = np.bincount(i[hit], minlength=k).astype(np.float64)
        return np.append(out, float(values.size - int(hit.sum())))

    def _seasonal_ratio(self, batches: list[tuple[float, np.ndarray]], p: DriftParams) -> float | None:
        """The window's KS score against the reference once both have the time of day taken out:
        each batch of the window by the reference day at its own time, the reference by its own mean
        and spread (it was taken in one stretch of the reference day). None while the reference day
        does not cover the window's times a day ago (the first day)."""
        assert self.ref is not None
        if self._as_on_the_reference_day(batches):
            return 0.0
        self.cycle_by_share = False
        if self.codes is not None:
            shares = self._seasonal_share_ratio(batches, p)
            if shares is None or not math.isnan(shares):
                self.cycle_by_share = shares is not None
                return shares
        if self.ref_season is None:
            mix = self._reference_day_mixture(batches)
            if mix is not None:
                pts, wts, n_slot = mix
                window = np.sort(np.concatenate([a for _, a in batches]))
                d = _weighted_ks(pts, wts, window)
                return d / max(ks_critical(p.alpha, int(n_slot), window.size), p.min_effect)
        # a discrete feature here (most of its values are none of the reference's codes: a count whose
        # daily cycle moves it far) is compared on a lattice shifted by the time of day's mean: two
        # lattices out of step differ by up to a code's share in KS D whatever the population (a
        # cycled Poisson count paged at D 0.1 against a 0.12 bar). Spread over its lattice cell, each
        # value is compared as a continuous one
        step = self._lattice_step()
        parts = []
        for ts, values in batches:
            adj = self._deseasonalised(values if step is None else _spread_ties(values, step), ts)
            if adj is None:
                return None
            parts.append(adj)
        window = np.concatenate(parts) if len(parts) > 1 else parts[0]
        if self.ref_season is not None:
            d = ks_and_ranks(self.ref_season, window)[0]
            return d / max(ks_critical(p.alpha, self.ref_season.size, window.size), p.min_effect)
        ref = self._scaled(self.ref if step is None else _spread_ties(self.ref, step))
        centred = ref - float(ref.mean())
        scale = float(np.abs(centred).mean())
        ref_adj = centred / scale if scale > 0 else centred
        d = ks_and_ranks(ref_adj, window)[0]
        return d / max(ks_critical(p.alpha, self.ref_n, window.size), p.min_effect)

    def _test(self, ts: float, p: DriftParams) -> str | None:
        assert self.ref is not None
        batches = list(self.win)
        arrays = [a for _, a in batches]
        ratio, d, z, mass = self._score(arrays, p)
        if ratio >= 1.0 and len(arrays) >= 3:  # leave out the most deviant batch: one batch cannot raise it
            worst = max(range(len(arrays)), key=lambda i: self._alone(i, arrays, p))
            batches = [b for i, b in enumerate(batches) if i != worst]
            arrays = [a for _, a in batches]
            ratio, d, z, mass = self._score(arrays, p)
        self.last_cycle_ratio = None
        if ratio >= 1.0 and not self.drifting:
            cyc = self._seasonal_ratio(batches, p)
            self.last_cycle_ratio = cyc
            if cyc is not None and cyc < 1.0:
                self.cycle_gated += 1
                ratio = min(ratio, 0.99)  # like the same hours of an earlier day: the daily cycle
            elif cyc is None and self.self_cleared_at is not None and ts - self.self_cleared_at < _DAY_S:
                # it drifted and came back by itself today, and no earlier day says whether that is
                # the time of day: not again until one does
                self.cycle_gated += 1
                ratio = min(ratio, 0.99)
            elif self._weekly_episode(ts):
                # the same hours of an earlier week drifted too and came back by themselves: a weekly
                # cycle (weekend traffic), which the reference day cannot know
                self.cycle_gated += 1
                ratio = min(ratio, 0.99)
        if ratio < 1.0:  # a run of tests under the bar; steady when, over an hour, most are well under it
            if self.quiet_since is None:
                self.quiet_since = ts
            elif not self.steady and ts - self.quiet_since >= _STEADY_S:
                recent = sorted(r for t, _, r, _ in self.tests if t >= ts - _STEADY_S)
                self.steady = len(recent) >= 5 and recent[len(recent) // 2] < _STEADY_RATIO \
                    and recent[-1] < _STEADY_MAX_RATIO
        else:
            self.quiet_since = None
        self.last_d, self.last_z, self.last_ratio = d, z, ratio
        self.n_tests += 1
        self.max_ratio = max(self.max_ratio, ratio)
        prev = self.tests[-1][0] if self.tests else self.win[0][0]
        self.tests.append((ts, prev, ratio, z))
        while len(self.tests) > p.history:
            self.tests.popleft()
        if not self.drifting:
            self.elevated = self.elevated + 1 if ratio >= 1.0 else 0
            if self.elevated == 1:
                self.elevated_since, self.rise_slow = ts, None
            jumped = self.elevated >= p.confirm_tests and d >= _DAY1_JUMP_D and self._jumped(ts, ratio)
            if self.elevated >= p.confirm_tests and self.last_cycle_ratio is None and not self.steady and not jumped:
                # the first day: nothing to compare the time of day with, and the feature has moved
                # since its reference without ever standing still: a daily cycle as likely as a drift.
                # Wait for the reference day (or a steady stretch followed by a change, or a jump: a unit
                # change, a broken upstream, which no cycle's pace makes)
                self.cycle_gated += 1
                self.moved_unsteady = True
                return None
            if self.elevated >= p.confirm_tests and self.last_cycle_ratio is None and d < _DAY1_MIN_D and mass < 1.0:
                # the first day, and a small move (a tenth of a spread or two): a mild daily cycle moves that
                # far from a reference taken at one hour within half a day, which no earlier day can tell
                # from a shift yet; a material one (or a value's share: a sentinel) is confirmed
                self.cycle_gated += 1
                return None
            if self.elevated >= p.confirm_tests and self.last_cycle_ratio is None and self.rise_slow is None:
                # judged once per run, while the tests before its rise are still in the history
                self.rise_slow = self._slow_rise()
            if self.elevated >= p.confirm_tests and self.last_cycle_ratio is None and self.rise_slow \
                    and abs(z) >= _RISE_LOCATION_Z * p.z_threshold \
                    and (d < _DAY1_SLOW_MIN_D or ts - self.elevated_since > _DAY1_RAMP_S):
                # the first day, and the score crept up over longer than the window takes to fill: a
                # daily cycle's ramp as likely as a gradual drift. Only a large, quick move (half the
                # distribution within an hour of crossing the bar) is confirmed before the reference
                # day can tell them apart: a cycle leaving a steady crest gathers pace slowly
                self.cycle_gated += 1
                return None
            if self.elevated >= p.confirm_tests and self.last_cycle_ratio is None \
                    and self.moved_unsteady and not jumped:
                # the first day, and a move was held before the feature stood still: the steady spell
                # since may be a daily cycle passing its reference's level at full pace, not a "before" (a
                # Student-t feature's 2 sd cycle fell to rank-shift z -4, stood an hour, rose to D 0.3 within
                # the hour: paged at 5 h). Only a jump (a unit change, a broken upstream) is confirmed today
                self.cycle_gated += 1
                return None
            if self.elevated >= p.confirm_tests:
                self.drifting, self.quiet, self.confirmed_at = True, 0, ts
                self.drift_start = self._change_point(p)
                self.drifted_since_mark = True
                return "drift"
            return None
        # back to normal? Against the same hours of the reference day where it has them (a
        # cycle's trough can look like a reference taken at another hour), else the reference
        cyc = self._seasonal_ratio(batches, p)
        self.last_cycle_ratio = cyc
        # (a repeated value's share is compared as it is: the time of day is taken out batch by batch,
        # which spreads a sentinel's -1s over as many values as there are batches; a 15 % sentinel
        # share still there kept KS at its bar and cleared a drift that was not over)
        # (compared by their shares, a discrete feature's repeated values are in ``cyc`` already)
        back = cyc if cyc is None or self.cycle_by_share else max(cyc, mass)
        back = ratio if back is None else back
        self.quiet = self.quiet + 1 if back < p.clear_ratio else 0
        if self.quiet >= p.clear_tests:
            began = self.drift_start if self.drift_start is not None else ts
            self.drifting, self.elevated, self.drift_start, self.confirmed_at = False, 0, None, None
            # it came back by itself: maybe a daily cycle seen for the first time. Until the same
            # hours of an earlier day can tell, it is not confirmed again
            self.self_cleared_at = ts
            if ts - began <= _EPISODE_MAX_S:
                self.episodes.append([began, ts - began, ts, ts])
                del self.episodes[:-_EPISODES_KEPT]
            return "clear"
        return None

    def _jumped(self, ts: float, ratio: float) -> bool:
        """Whether the score rose by ``_DAY1_JUMP_RATIO`` within ``_DAY1_JUMP_S`` (from the latest test
        at least that old, or from nothing): a step, not a cycle's pace. A feature that holds one value
        at a time (an hour-of-day clock) steps by its nature: never a jump."""
        if all(float(a.min()) == float(a.max()) for _, a in self.win):
            return False
        before = 0.0
        for t, _, r, _ in reversed(self.tests):
            if t <= ts - _DAY1_JUMP_S:
                before = r
                break
        return ratio - before >= _DAY1_JUMP_RATIO

    def _weekly_episode(self, ts: float) -> bool:
        """Whether ``ts`` falls at the hours of the week (within ``_EPISODE_MARGIN_S``) of a drift that
        went away by itself at least half a week ago, and that was seen again within the last
        ``_EPISODE_WEEKS`` weeks (each match renews it)."""
        for ep in self.episodes:
            began, length, cleared, seen = ep
            if ts - cleared < _WEEK_S / 2 or ts - seen > _EPISODE_WEEKS * _WEEK_S:
                continue
            if (ts - began + _EPISODE_MARGIN_S) % _WEEK_S <= length + 2 * _EPISODE_MARGIN_S:
                ep[3] = ts
                return True
        return False

    def _score(self, arrays: list[np.ndarray], p: DriftParams) -> tuple[float, float, float, float]:
        """(ratio to threshold, KS D, rank-shift z, repeated values' share ratio) of the values in
        ``arrays`` vs the reference.

        The rank shift is the mean probability-integral transform of the window under the
        reference ECDF minus 1/2 (a Mann-Whitney statistic): for a location shift it has more
        power than KS, which in turn sees variance and shape changes."""
        assert self.ref is not None
        window = np.concatenate(arrays) if len(arrays) > 1 else arrays[0]
        m = window.size
        ref = self.ref
        d, right_sum, left_sum, masses = ks_ranks_and_masses(ref, window)
        if ref.size & (ref.size - 1) == 0:
            # each value's mean rank (left + right) / (2 x size) is exact with a power-of-two
            # size, and so is their sum: the integers give the same mean as the values
            u_mean = (left_sum + right_sum) / (2.0 * ref.size) / m
        else:  # a reference smaller than reference_quantiles: the float mean, as it always was
            u = (np.searchsorted(ref, window, side="left") + np.searchsorted(ref, window, side="right")) \
                / (2.0 * ref.size)
            u_mean = float(u.mean())
        z = (u_mean - 0.5) / math.sqrt((1.0 / m + 1.0 / self.ref_n) / 12.0)
        thr = max(ks_critical(p.alpha, self.ref_n, m), p.min_effect)
        base = max(d / thr, abs(z) / p.z_threshold)
        mass = 0.0
        if masses is not None:
            # a share change is at most the larger share, and its bar at least mass_min_effect: when that
            # cannot beat the other scores it is not worked out (its own value serves only to clear a drift)
            bound = max(int(masses[0].max()) / ref.size, int(masses[1].max()) / m) / p.mass_min_effect
            if self.drifting or bound > base:
                mass = point_mass_ratio(masses, ref.size, self.ref_n, m, p.z_threshold, p.mass_min_effect)
        return max(base, mass), d, z, mass

    def _alone(self, i: int, arrays: list[np.ndarray], p: DriftParams) -> float:
        """The score of the window's ``i``-th batch on its own (cached per batch)."""
        if p is not self.alone_params:
            self.win_alone = deque([None] * len(self.win_alone))
            self.alone_params = p
        score = self.win_alone[i]
        if score is None:
            score = self.win_alone[i] = self._score([arrays[i]], p)[0]
        return score

    def _slow_rise(self) -> bool:
        """Whether the score rose from its last quiet test (under half the bar) to the first test
        over the bar more slowly than the window fills: a step (a shift, a variance jump, a
        sentinel) crosses within one window span, a ramp does not."""
        tests = list(self.tests)
        first_over = len(tests) - self.elevated
        last_quiet = first_over - 1
        while last_quiet >= 0 and tests[last_quiet][2] >= _RISE_QUIET_RATIO:
            last_quiet -= 1
        if last_quiet < 0 or first_over >= len(tests):
            return True  # never quiet within the history kept: a slow rise
        span = self.win[-1][0] - self.win[0][0] if len(self.win) > 1 else 0.0
        t_over, z_over = tests[first_over][0], tests[first_over][3]
        if t_over - tests[last_quiet][0] > span:
            return True
        # One noisy test under half the bar can sit inside a ramp. The rank shift says more: a window
        # span before a step crosses, the window held only values from before it, so the shift was
        # noise; a ramp had already moved the ranks the same way (a daily cycle's descent from its
        # crest, in which one such test had hidden a 2-hour move: realistic seed 8)
        before = sorted(z * math.copysign(1.0, z_over) for t, _, _, z in tests[:first_over]
                        if t_over - 2 * span <= t <= t_over - span)
        return len(before) >= 2 and before[len(before) // 2] >= _RISE_Z

    def _change_point(self, p: DriftParams) -> float:
        """Start of the rise of the score that ended in the confirmed run of elevated tests."""
        tests = list(self.tests)
        i = len(tests) - p.confirm_tests
        while i > 0 and tests[i - 1][2] >= p.start_ratio:
            i -= 1
        return tests[i][1]

    def evidence(self) -> dict[str, Any]:
        """Statistics of the current window against the reference, for a person to read."""
        if self.ref is None or not self.win:
            return {}
        window = np.concatenate([a for _, a in self.win])
        rq = np.quantile(self.ref, [0.25, 0.5, 0.75])
        wq = np.quantile(window, [0.25, 0.5, 0.75])
        return {
            "ks_statistic": round(self.last_d, 4),
            "ks_p_value": ks_pvalue(self.last_d, self.ref_n, int(window.size)),
            "rank_shift_z": round(self.last_z, 2),
            "score": round(self.last_ratio, 3),
            "psi": round(psi(self.ref, window), 4),
            "reference_median": round(float(rq[1]), 6),
            "reference_iqr": round(float(rq[2] - rq[0]), 6),
            "current_median": round(float(wq[1]), 6),
            "current_iqr": round(float(wq[2] - wq[0]), 6),
            "reference_values": self.ref_n,
            "window_values": int(window.size),
            "largest_share_change": largest_share_change(self.ref, window),
            "started_at": None if self.drift_start is None else round(self.drift_start, 3),
            "confirmed_at": self.confirmed_at,
        }


class ModelDrift:
    """Per-feature drift state of one model (bounded to ``max_features`` features), shared by the
    drift-aware detectors of that model."""

    def __init__(self) -> None:
        self.features: dict[str, FeatureDrift] = {}
        self.values_seen = 0
        self.last_ts: float | None = None  # the latest batch taken (a batch not after it is skipped)
        self.last_changes: dict[str, str] = {}
        self.verdicts: dict[str, RetrainVerdict] = {}  # by run id, the latest few

    def reset(self) -> None:
        for f in self.features.values():
            f.reset()

    def observe(self, values: dict[str, list[float]], ts: float, p: DriftParams) -> dict[str, str]:
        """Feed one observation batch once (a second call for the same batch, from the other
        detector of the model, or a re-delivered batch, changes nothing and returns ``{}``)."""
        if self.last_ts is not None and ts <= self.last_ts:
            return {}
        self.last_ts = ts
        self.last_changes = self.update(values, ts, p)
        return self.last_changes

    def update(self, values: dict[str, list[float]], ts: float, p: DriftParams) -> dict[str, str]:
        """Feed one observation batch; returns ``{feature: "drift" | "clear"}`` for changes."""
        changes: dict[str, str] = {}
        for name, arr in values.items():
            fd = self.features.get(name)
            if fd is None:
                if len(self.features) >= p.max_features:
                    continue
                fd = self.features[name] = FeatureDrift()
            if not arr:
                continue
            self.values_seen += len(arr)
            change = fd.update(np.asarray(arr, dtype=np.float64), ts, p)
            if change is not None:
                changes[name] = change
        return changes

    def retrained(self, run_id: str) -> RetrainVerdict:
        """A successful retrain: the verdict on the period since the previous one (what drifted,
        whether the inputs were watched), then the reference rule (rebuild after drift, else a
        new judging period). Once per run: a second call returns the same verdict."""
        verdict = self.verdicts.get(run_id)
        if verdict is not None:
            return verdict
        verdict = RetrainVerdict(drifted=self.drifted_since_mark(),
                                 tests=max((f.n_tests for f in self.features.values()), default=0),
                                 max_ratio=self.max_ratio())
        if verdict.drifted:
            self.reset()  # the new model learnt the new distribution
        else:
            self.mark()
        self.verdicts[run_id] = verdict
        while len(self.verdicts) > _VERDICTS_KEPT:
            del self.verdicts[next(iter(self.verdicts))]
        return verdict

    def mark(self) -> None:
        for f in self.features.values():
            f.mark()

    def drifted_since_mark(self) -> list[str]:
        """Features whose drift was confirmed since the last :meth:`mark` (or reset), or still is."""
        return sorted(n for n, f in self.features.items() if f.drifted_since_mark or f.drifting)

    def drifting(self) -> dict[str, FeatureDrift]:
        return {n: f for n, f in self.features.items() if f.drifting}

    def tested(self, min_tests: int) -> bool:
        """Whether any feature has been tested at least ``min_tests`` times since its reset or mark."""
        return any(f.n_tests >= min_tests for f in self.features.values())

    def max_ratio(self) -> float:
        """Largest test score (1 = threshold) since the reset or mark (0 when never tested)."""
        return max((f.max_ratio for f in self.features.values()), default=0.0)


@dataclass(frozen=True)
class RetrainVerdict:
    """What the drift tests said about the period before one successful retrain."""

    drifted: list[str]  # features whose drift was confirmed in it
    tests: int  # most tests of one feature in it: whether the inputs were watched enough to say "no drift"
    max_ratio: float  # largest test score in it (1 = threshold)


_VERDICTS_KEPT = 8
_TINY = 1e-30  # what np.log is given for a value <= 0 (which then counts as the reference's smallest)
# a feature whose reference is right-skewed (Kelly's quantile skewness at least this; a log-normal's with sigma 1 is
# 0.57, a gamma's with shape 2 0.32, a symmetric one's 0) and whose logs are at most half as skewed is on the log scale
_LOG_MIN_SKEW = 0.25
_DAY_S = 86400.0
_WEEK_S = 7 * _DAY_S
_MAX_CODES = 48  # a feature whose reference holds at most this many distinct values is discrete
_OTHER_SHARE = 0.5  # shares are not compared where most values are none of the reference's (a clock)
_SLOT_MIN_COUNT = 20  # values a half hour of the reference day needs before its shares are compared
_INF = float("inf")
_CONSTANT_SD = 1e-9  # a half hour of the reference day whose spread is under this (relative) had one value
_EPISODE_MAX_S = 3.5 * _DAY_S  # a drift that came back by itself within half a week may be the week's rhythm
_EPISODE_MARGIN_S = 7200.0  # the same hours of a later week, give or take two hours
_EPISODE_WEEKS = 5  # remembered this many weeks after it was last seen again
_EPISODES_KEPT = 8
# on the first day a drift is confirmed only from this KS D up (about half a spread of shift), or by a value's share:
# the 12-feature probe's mild cycles (0.2-0.5 sd) paged at D 0.13-0.16 half a day after their reference
_DAY1_MIN_D = 0.2
_DAY1_SLOW_MIN_D = 0.3  # on the first day a slowly rising drift is confirmed only from this KS D up
# ... reached within this long of crossing the bar. A cosine leaving its crest moves A(1 - cos wt): with an amplitude
# of 1.5-3 sd it takes 1.2-1.6 h from about 0.3 sd (the bar) to 0.8 sd (KS D 0.3), a ramp of 2 sd over 3 h 0.75 h
# (the realistic generator's first-day cycles opened 2 false alerts over seeds 1-10 at 1.4 and 1.55 h)
_DAY1_RAMP_S = 3600.0
# ... and only a move of location (a rank shift of at least this share of its bar) is such a ramp: a daily cycle moves
# the level; a spread that triples at once (rank shift near 0, KS D 0.26) is no cycle's ramp, however its rise was timed
_RISE_LOCATION_Z = 0.5
# after a first-day move that was held and came back, a drift is confirmed that day only from this KS D up, by a score
# that rose this much (in bars: D 0.3) within this long: a 2 sd daily cycle at full pace gains about 0.2 of D an hour,
# a unit change all of it at once
_DAY1_JUMP_D = 0.5
_DAY1_JUMP_RATIO = 2.5
_DAY1_JUMP_S = 1200.0
_RISE_QUIET_RATIO = 0.5  # a test under this share of the bar is "quiet" when timing a rise
_RISE_Z = 2.0  # ... and a rank shift this far the same way a window span before the crossing is a ramp under way
# a steady stretch this long makes a later change on the first day a change point: 90 minutes, since the crest or
# trough of a strong daily cycle often stays flat for an hour (the realistic generator's cycles of 1.5-3 sd opened
# 8 first-day false alerts over seeds 1-10 with an hour, 2 with 90 minutes)
_STEADY_S = 5400.0
# ... when its tests' median ratio is under this: a stationary feature's median is about 0.35 (KS D of 2000 against
# 500 values, 0.042, over the 0.12 floor), but an unlucky reference (its 2000 values a little off the population)
# lifts every later test: 0.45 on the public scorecard's seed 10, whose first-day drift a bar of 0.4 never confirmed
_STEADY_RATIO = 0.5
_STEADY_MAX_RATIO = 0.8  # ... and none of them over this (that seed's stationary tests reach 0.72)
_SLOTS = 48  # half hours of the reference day
_SLOT_MIN_N = 30  # values a half hour of the reference day needs for its mean and spread, else pooled ...
_SLOT_POOL_MAX = 8  # ... with up to this many half hours on each side
_SLOT_S = 1800.0
_SLOT_Q = 32  # quantiles kept of each half hour of the reference day (128 B: KS D to within 0.016)
_SLOT_Q_MIN_N = 200  # ... when at least this many were gathered (a slow feed's are taken out by mean and spread)
_SLOT_BUF_MAX = 1024  # values gathered of a half hour at most (thinned beyond)
_DAY_AGO_SLOTS = 40  # a half hour of the reference day counts once it is 20 hours old
MODEL_DRIFT = "model_drift"  # the name of the shared per-model state (DetectorContext.state)


def _welford(row: np.ndarray, values: np.ndarray) -> None:
    """Fold a batch into a (count, mean, sum of squared deviations, sum of absolute deviations) row
    (Chan et al.'s merge; the absolute deviations from the mean so far, the batch's own at first)."""
    n, mean, m2, absdev = row
    bn = values.size
    bmean = float(values.mean())
    row[3] = absdev + float(np.abs(values - (mean if n > 0 else bmean)).sum())
    bm2 = float(((values - bmean) ** 2).sum())
    tot = n + bn
    delta = bmean - mean
    row[0] = tot
    row[1] = mean + delta * bn / tot
    row[2] = m2 + bm2 + delta * delta * n * bn / tot


def _weighted_ks(points: np.ndarray, weights: np.ndarray, window_sorted: np.ndarray) -> float:
    """KS D between the distribution of weighted ``points`` and the sample ``window_sorted``: both are
    step functions, so the largest gap is at one of their steps."""
    order = np.argsort(points, kind="stable")
    p = points[order]
    cw = np.cumsum(weights[order])
    cw /= cw[-1]
    xs = np.concatenate((p, window_sorted))
    i = np.searchsorted(p, xs, "right")
    f_ref = np.where(i > 0, cw[np.maximum(i - 1, 0)], 0.0)
    f_win = np.searchsorted(window_sorted, xs, "right") / window_sorted.size
    return float(np.max(np.abs(f_ref - f_win)))


def _spread_ties(values: np.ndarray, step: float) -> np.ndarray:
    """``values`` sorted, each run of equal values spread evenly over its lattice cell (+- ``step`` / 2):
    a discrete distribution as the continuous one whose ECDF joins its steps."""
    v = np.sort(values)
    n = v.size
    if n == 0:
        return v
    starts = np.flatnonzero(np.concatenate(([True], v[1:] != v[:-1])))
    lengths = np.diff(np.append(starts, n))
    pos = np.arange(n) - np.repeat(starts, lengths)
    return v + step * ((pos + 0.5) / np.repeat(lengths, lengths) - 0.5)


def _kelly_skewness(sorted_values: np.ndarray) -> float:
    """Kelly's skewness, (q90 + q10 - 2 q50) / (q90 - q10), of sorted values: from quantiles, so one
    extreme value of a heavy tail (a Student-t's) does not make a symmetric feature look skewed."""
    n = sorted_values.size
    q10, q50, q90 = (float(sorted_values[int(q * (n - 1))]) for q in (0.1, 0.5, 0.9))
    return (q90 + q10 - 2 * q50) / (q90 - q10) if q90 > q10 else 0.0
