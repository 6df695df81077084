"""Probe round 13, GPU scenarios (see bench/probe_scenarios.py for the framework and scoring).

Imported by ``bench.probe_scenarios`` only (it imports that module's helpers, so import
``bench.probe_scenarios`` first, never this module on its own).

What this round varies (none of rounds 1-12 does): an RL job whose generation and training GPUs take turns
(half the node's ranks idle while the other half works), gang-scheduled pods that wait for all ranks (and a gang
that never completes), pipeline-parallel bubbles read by an exporter that takes instantaneous 10 s readings (and a
dead stage with the others spinning in NCCL), a spot node reclaimed and replaced by a new node with new GPUs
(rescheduled at once, or left empty), single-GPU batch pods of distinct jobs one of which leaves a child process
holding memory after it finished, an autoscaled endpoint whose replicas are removed every night, office-hours dev
boxes over a weekend, and a vLLM endpoint (90 % memory preallocated) left with only health probes."""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Callable
from typing import Any

from bench.probe_scenarios import (
    A100_PRICE,
    DAY,
    H100,
    HOUR,
    MIN,
    T0,
    Device,
    Event,
    GpuState,
    Scenario,
    States,
    _serving_load,
    _uuid,
    gpu_events,
    truth,
    wl,
)

Behaviour = Callable[[float], GpuState]


def _tl(segs: list[tuple[float, Behaviour]]) -> Behaviour:
    """Piecewise behaviour like ``timeline`` (the last segment that began rules), by bisection: fast for
    thousands of segments. ``segs`` need not be sorted (a stable sort keeps the later of equal starts)."""
    segs = sorted(segs, key=lambda x: x[0])
    starts = [s for s, _ in segs]

    def f(t: float) -> GpuState:
        i = max(0, bisect.bisect_right(starts, t) - 1)
        return segs[i][1](t)
    return f


def _const(util: Callable[[], float], sm: Callable[[], float | None], mem: float, w: Event | None) -> Behaviour:
    return lambda t: (util(), sm(), mem, w)


# ====================================================================== 1. RL: generation and training take turns
def gpu_rl_alternating(seed: int, hang: bool = False, days: float = 2.0, gpus: int = 8, gen: int = 4,
                       step_s: float = 30.0, phase_min: tuple[float, float] = (10.0, 15.0), hang_day: int = 1,
                       hang_at_h: float = 10.0, hang_h: float = 2.0) -> Scenario:
    """An on-policy RL job (GRPO, one Ray workload id) on ``gpus`` H100s of one node: GPUs 0..``gen``-1 run the
    vLLM rollout engines (90 % memory preallocated), the others the trainer (85 % memory). They take turns: a
    generation phase of ``phase_min`` (10-15 min) with the rollout GPUs busy (60-95 %) and the trainer GPUs idle
    (util 0, memory held), a weight sync of 30-60 s with every GPU busy, a training phase of 10-15 min with the
    trainer busy and the rollout GPUs idle, another sync, and so on, ``days``: must not alert. Each GPU's first
    idle phase after 15 min of busy time in all is an ambiguous truth: half its node peers of the same workload
    are at work, the picture of the straggler rule (an open is defensible the first time; after that the
    alternation is the job's known rhythm). ``hang``: at the first generation phase after ``hang_at_h`` on day
    ``hang_day`` (0-based) the rollout engines crash: every GPU sits idle holding its memory for ``hang_h``, then
    the job restarts and alternates again. Truth: every GPU, goal twice the longest routine phase (<= 30 min:
    a quiet spell clearly longer than any the GPU has had)."""
    r = random.Random(seed)
    w = wl("rl/grpo-math-7b", "training", "reasoning")
    uuids = [_uuid(r, "GPU") for _ in range(gpus)]
    end = T0 + days * DAY
    hang_from = T0 + hang_day * DAY + hang_at_h * HOUR
    phases: list[tuple[float, float, str]] = []  # (start, end, "gen" | "train" | "sync" | "hang")
    t, kind = T0, "gen"
    a = b = None
    while t < end:
        if hang and a is None and kind == "gen" and t >= hang_from:
            a, b = t, t + hang_h * HOUR
            phases.append((a, b, "hang"))
            t = b + r.uniform(60, 120)  # the restart: model loads, then generation again
            continue
        d = r.uniform(*phase_min) * MIN
        phases.append((t, t + d, kind))
        t += d
        s = r.uniform(30, 60)
        phases.append((t, t + s, "sync"))
        t += s
        kind = "train" if kind == "gen" else "gen"
    starts = [p[0] for p in phases]

    def phase(t: float) -> str:
        i = bisect.bisect_right(starts, t) - 1
        return phases[i][2] if i >= 0 and t < phases[i][1] else "gen"
    devs, tr = [], []
    for i, u in enumerate(uuids):
        rollout = i < gen
        mem = 0.9 if rollout else 0.85
        mine = "gen" if rollout else "train"

        def f(t: float, mine: str = mine, mem: float = mem) -> GpuState:
            p = phase(t)
            if p == "sync":
                return r.uniform(45, 80), None, mem, w
            if p == mine:
                return r.uniform(60, 95), None, mem, w
            return 0.0, r.uniform(0.0, 0.2), mem, w
        devs.append(Device("dgx-rl04", u, f, model=H100, price=4.5, pid=4100 + i))
        busy = 0.0  # busy time so far (the README's straggler rule: 15 min of busy history)
        for s, e, k in phases:
            if k == "hang":
                break
            if k in ("sync", mine):
                busy += e - s
                continue
            if busy >= 15 * MIN:
                tr.append(truth("idle", u, w["id"], s, e, detect_by=e, ambiguous=True, price=4.5,
                                note="first idle phase while half the job's GPUs work (the straggler picture)"))
                break
    if a is not None and b is not None:
        longest = max(e - s for s, e, k in phases if k in ("gen", "train") and e <= a)
        for u in uuids:
            tr.append(truth("idle", u, w["id"], a, b, goal_s=round(2 * longest), price=4.5,
                            note=f"rollout engines crashed: every GPU idle {hang_h:g} h holding memory; "
                                 f"routine phases up to {longest / MIN:.0f} min"))
    return Scenario("", gpu_events(r, devs, T0, end, step_s), tr)


# ====================================================================== 2. gang scheduling
def gpu_gang_wait(seed: int, deadlock: bool = False, days: float = 2.0, gpus: int = 8, step_s: float = 30.0,
                  spread_min: tuple[float, float] = (2.0, 12.0), stuck_day: int = 1, stuck_at_h: float = 9.0,
                  stuck_h: float = 3.0) -> Scenario:
    """A Kueue/Volcano-admitted node of ``gpus`` A100s running gang-scheduled 8-rank training jobs, a new workload
    id per job (``research/ddp-sweep-NNN``): between jobs every GPU is unallocated (workload null, no memory) for
    5-40 min (the stream starts as the first job's pods land); a job's pods then land one by one over
    ``spread_min`` (2-12 min), each waiting for the rendezvous with its CUDA context up (3 % memory, util 0) until
    the last rank arrives (+30-90 s), then all train 1.5-4 h (checkpoint pause of 2-3 min every 30 min, 80 %
    memory, the first one possibly right at the start: the checkpoint load) and leave at once, ``days``: must not
    alert (a rank's wait is at most ~13.5 min, ~16 min with a checkpoint load behind it). ``deadlock``: the first
    job admitted after ``stuck_at_h`` on day ``stuck_day``
    (0-based) needs 16 ranks but the second node never comes: its 8 pods sit at the rendezvous for ``stuck_h``
    (3 % memory, util 0) until the admission timeout evicts them, then the queue goes on. Truth: every GPU from its
    pod's arrival, goal 45 min (three times the longest routine wait: clearly longer than any)."""
    r = random.Random(seed)
    uuids = [_uuid(r, "GPU") for _ in range(gpus)]
    end = T0 + days * DAY
    stuck_from = T0 + stuck_day * DAY + stuck_at_h * HOUR
    segs: dict[str, list[tuple[float, Behaviour]]] = {u: [] for u in uuids}
    st = States(r)
    tr = []
    t, k, stuck_done = T0, 0, False
    for u in uuids:
        segs[u].append((T0, st.idle(None, 0.0)))
    while t < end:
        if k:
            t += r.uniform(5, 40) * MIN  # unallocated: waiting for admission (the stream starts with a job's pods)
        k += 1
        w = wl(f"research/ddp-sweep-{k:03d}", "training", "research")
        spread = r.uniform(*spread_min) * MIN
        arrive = {u: t + r.uniform(0, spread) for u in uuids}
        last = max(arrive.values())
        stuck = deadlock and not stuck_done and t >= stuck_from
        go = last + r.uniform(30, 90)
        stop = go + (stuck_h * HOUR if stuck else r.uniform(1.5, 4.0) * HOUR)
        phase = r.uniform(0, 30 * MIN)
        for u in uuids:
            segs[u].append((arrive[u], st.idle(w, 0.03)))
            if stuck:
                tr.append(truth("idle", u, w["id"], arrive[u], go + stuck_h * HOUR, goal_s=45 * MIN,
                                price=A100_PRICE, note=f"gang never complete: pod at the rendezvous {stuck_h:g} h"))
            else:
                segs[u].append((go, st.training(w, phase, 30 * MIN, r.uniform(2, 3) * MIN, 0.8)))
            segs[u].append((stop + r.uniform(-20, 20), st.idle(None, 0.0)))
        stuck_done = stuck_done or stuck
        t = stop + 20
    devs = [Device("gpu-pool-a17", u, _tl(segs[u]), pid=4200 + i) for i, u in enumerate(uuids)]
    return Scenario("", gpu_events(r, devs, T0, end, step_s), tr)


# ====================================================================== 3. pipeline-parallel bubbles
def gpu_pipeline_bubbles(seed: int, hang: bool = False, hours: float = 18.0, stages: int = 8, micro: int = 8,
                         step_s: float = 10.0, hang_at_h: float = 12.0, hang_h: float = 1.5) -> Scenario:
    """A pipeline-parallel (1F1B, ``micro`` = 8 micro-batches) pretraining job, one stage per H100 of one node (88 %
    memory), whose exporter takes an instantaneous reading every ``step_s`` (10) s (DCGM's util is a ~1 s average,
    scraped): an iteration of 22-34 s (+-0.3 s each) keeps stage s idle for its pipeline bubble (s micro-batch slots
    at the start, ``stages``-1-s at the end: 7/15 of the iteration in one piece, 10-16 s, across the iteration
    boundary), so about half a stage's samples read util 0 %, up to two in a row, and no stage is ever read busy
    for 60 s in a row (busy runs of 1-2 samples, 4 now and then where the bubble is just over the 10 s step); the
    whole job
    checkpoints 3-4 min every hour (all stages util 0, memory held), ``hours``: must not alert. ``hang``: at
    ``hang_at_h`` the last stage's process dies (XID error; the pod restarts in a crash loop: workload kept, memory
    0, util 0) and the other stages block in NCCL p2p: util 100 %, SM activity 0-1 %, memory held, for ``hang_h``.
    Truth: every stage (goal 10 min: a busy training job gone quiet, and its longest pause is 4 min)."""
    r = random.Random(seed)
    w = wl("llm/pretrain-70b-pp8", "training", "foundation")
    uuids = [_uuid(r, "GPU") for _ in range(stages)]
    end = T0 + hours * HOUR
    a, b = T0 + hang_at_h * HOUR, T0 + (hang_at_h + hang_h) * HOUR
    period = r.uniform(22, 34)
    its: list[float] = []  # iteration starts
    t = T0
    ck_phase = r.uniform(0, HOUR)
    ck_len = [r.uniform(3, 4) * MIN for _ in range(int(hours) + 2)]

    def ckpt(t: float) -> bool:
        k = int((t - T0 + ck_phase) // HOUR)
        return (t - T0 + ck_phase) % HOUR < ck_len[k]
    while t < end:
        its.append(t)
        t += period + r.gauss(0, 0.3)
    m = micro
    slot = 1.0 / (m + stages - 1)
    devs, tr = [], []
    for s, u in enumerate(uuids):
        lo, hi = s * slot, 1.0 - (stages - 1 - s) * slot  # busy part of the iteration

        def f(t: float, s: int = s, lo: float = lo, hi: float = hi) -> GpuState:
            if hang and a <= t < b:
                if s == stages - 1:
                    return 0.0, 0.0, 0.0, w
                return 100.0, r.uniform(0.0, 1.0), 0.88, w
            if ckpt(t):
                return 0.0, r.uniform(0.0, 0.3), 0.88, w
            i = bisect.bisect_right(its, t) - 1
            x = (t - its[max(i, 0)]) / period
            if lo <= x < hi:
                return r.uniform(88, 99), None, 0.88, w
            return 0.0, r.uniform(0.0, 0.3), 0.88, w
        devs.append(Device("dgx-pp02", u, f, model=H100, price=4.5, pid=4300 + s))
        if hang:
            tr.append(truth("idle", u, w["id"], a, b, goal_s=10 * MIN, price=4.5,
                            note="dead last stage, memory 0" if s == stages - 1 else
                                 "blocked in NCCL p2p: util 100 %, sm_active 0-1 %"))
    return Scenario("", gpu_events(r, devs, T0, end, step_s), tr)


# ====================================================================== 4. spot node reclaimed, replaced
def gpu_spot_replaced(seed: int, empty: bool = False, hours: float = 20.0, gpus: int = 8, step_s: float = 30.0,
                      reclaim_at_h: float = 8.0, boot_min: tuple[float, float] = (4.0, 9.0),
                      idle_h: float = 3.0) -> Scenario:
    """A spot node of ``gpus`` A100s ($1.20/h) trains one job (checkpoint pauses of 4 min every 50 min, 80 %
    memory); at ``reclaim_at_h`` the cloud reclaims it: a 1-2 min emergency checkpoint (util 0, memory held), then
    no sample from that node ever again. ``boot_min`` (4-9 min) later a replacement node (a new node name, new GPU
    uuids, no history) starts reporting its GPUs unallocated (workload null, no memory, util 0); 3-8 min after that
    the job's pods land on it, load the checkpoint (2-5 min at util 0, 80 % memory) and train to the end: must not
    alert (the old node's GPUs stop, they are not idle; the new GPUs' first quiet spell is under the README's 20 min
    default). ``empty``: the pods do not come back for ``idle_h`` (the job's quota moved): the new GPUs sit
    unallocated and idle from their first sample for ``idle_h``, then the pods arrive and train. Truth: every new
    GPU from its first sample, goal 20 min + one sample interval + 5 s (the issue: "a GPU with no history yet
    uses the configured default"; the README: 20 min for a GPU idle from its first sample, and a sample's state
    is that of its interval)."""
    r = random.Random(seed)
    st = States(r)
    w = wl("research/spot-finetune-llama", "training", "research")
    old = [_uuid(r, "GPU") for _ in range(gpus)]
    new = [_uuid(r, "GPU") for _ in range(gpus)]
    end = T0 + hours * HOUR
    rc = T0 + reclaim_at_h * HOUR
    save = rc - r.uniform(1, 2) * MIN
    up = rc + r.uniform(*boot_min) * MIN
    arrive = up + (idle_h * HOUR if empty else r.uniform(3, 8) * MIN)
    train = st.training(w, r.uniform(0, 3000), mem=0.8)
    train2 = st.training(w, r.uniform(0, 3000), mem=0.8)
    devs = [Device("spot-a100-7f3k", u, _tl([(T0, train), (save, st.idle(w, 0.8))]), price=1.2, pid=4400 + i)
            for i, u in enumerate(old)]
    ev = gpu_events(r, devs, T0, rc, step_s)
    devs2, tr = [], []
    for i, u in enumerate(new):
        ld = arrive + r.uniform(0, 40)
        devs2.append(Device("spot-a100-q9x2", u, _tl([(up, st.idle(None, 0.0)), (ld, st.idle(w, 0.8)),
                                                      (ld + r.uniform(2, 5) * MIN, train2)]), price=1.2,
                            pid=4500 + i))
    ev2 = gpu_events(r, devs2, up, end, step_s)
    if empty:
        first = {e["gpu_uuid"]: e["ts"] - e["interval_s"] for e in reversed(ev2)}
        for u in new:
            tr.append(truth("idle", u, None, first[u], arrive, goal_s=20 * MIN + step_s + 5, price=1.2,
                            note=f"replacement node, unallocated and idle from its first sample for {idle_h:g} h"))
    return Scenario("", ev + ev2, tr)


# ====================================================================== 5. a finished pod that keeps its memory
def gpu_completed_pod(seed: int, hoard: bool = False, days: float = 2.0, gpus: int = 8, step_s: float = 30.0,
                      hoard_gpus: tuple[int, ...] = (2, 5), hoard_day: int = 1, hoard_at_h: float = 10.0,
                      hoard_h: float = 3.0) -> Scenario:
    """A batch node of ``gpus`` A100s fed by a queue of single-GPU embedding jobs, a new workload id per job
    (``embed/shard-NNNNN``, kind batch): a pod lands (workload set), loads its model (1-3 min at util 0, 70 %
    memory), works 20-90 min (55-98 %), exits (workload null, no memory), and the next job's pod lands 1-15 min
    later, ``days``: must not alert. ``hoard``: on the GPUs ``hoard_gpus`` the first job to finish after
    ``hoard_at_h`` on day ``hoard_day`` (0-based; +0/+40 min for the second GPU) leaves a dataloader child process
    holding the CUDA context: the pod keeps its workload and 70 % memory at util 0 for ``hoard_h``, until someone
    deletes it and the queue goes on. Truth: those GPUs from the job's end, goal 30 min (twice the longest routine
    quiet spell of either kind this GPU has, 15 min: clearly longer; the batch kind's 90 min cold dwell applies only
    while the GPU's rhythm is unknown, and it has had dozens of jobs)."""
    r = random.Random(seed)
    st = States(r)
    uuids = [_uuid(r, "GPU") for _ in range(gpus)]
    end = T0 + days * DAY
    devs, tr = [], []
    k = 0
    for i, u in enumerate(uuids):
        segs: list[tuple[float, Behaviour]] = [(T0, st.idle(None, 0.0))]
        t = T0 + r.uniform(0, 10) * MIN
        hoard_from = T0 + hoard_day * DAY + hoard_at_h * HOUR + (40 * MIN if hoard_gpus.index(i) else 0) \
            if hoard and i in hoard_gpus else None
        while t < end:
            k += 1
            w = wl(f"embed/shard-{10000 + k:05d}", "batch", "data")
            ld = t + r.uniform(1, 3) * MIN
            done = ld + min(90.0, max(20.0, r.lognormvariate(math.log(40), 0.5))) * MIN
            segs += [(t, st.idle(w, 0.7)), (ld, st.busy(w, 55, 98, 0.7))]
            if hoard_from is not None and done >= hoard_from:
                segs.append((done, st.idle(w, 0.7)))
                tr.append(truth("idle", u, w["id"], done, done + hoard_h * HOUR, goal_s=30 * MIN, price=A100_PRICE,
                                note=f"finished job's child process holds 70 % memory for {hoard_h:g} h"))
                done += hoard_h * HOUR
                hoard_from = None
            segs.append((done, st.idle(None, 0.0)))
            t = done + r.uniform(1, 15) * MIN
        devs.append(Device("batch-a100-03", u, _tl(segs), pid=4600 + i))
    return Scenario("", gpu_events(r, devs, T0, end, step_s), tr)


# ====================================================================== 6. replicas removed every night
def gpu_autoscaled_night(seed: int, days: float = 3.5, gpus: int = 8, min_replicas: int = 2,
                         step_s: float = 60.0) -> Scenario:
    """An HPA-scaled endpoint, one replica per A100 of one node (model loaded 60 %, util 30-80 % with a daily
    cycle): at 22:00 (+-15 min) it scales down to ``min_replicas``, one pod every 2-5 min; the freed GPUs are
    unallocated (workload null, no memory, util 0) until it scales up again at 06:30-07:30 (one pod every 2-5 min,
    each loading its model 2-4 min at util 0). The stream starts Monday 00:00 scaled down, and one replica is also
    removed for 20-40 min around 13:00 each day, ``days``: the nightly spells after the first two must not alert
    (a spell of the same length every night: routine, the README's insight rather than a page; not "clearly longer
    than its own usual gaps"). The spells of the first night (idle from the first sample) and of the second (the
    first seen after a day's work) are ambiguous truths: capacity paid for and unused, and nothing yet says it is
    routine."""
    r = random.Random(seed)
    w = wl("serving/search-reranker", "inference", "search")
    uuids = [_uuid(r, "GPU") for _ in range(gpus)]
    end = T0 + days * DAY
    off: dict[str, list[tuple[float, float]]] = {u: [] for u in uuids}  # unallocated windows
    free = uuids[min_replicas:]
    t_up = T0 + 7 * HOUR + r.uniform(-30, 30) * MIN
    for j, u in enumerate(free):
        off[u].append((T0, t_up + j * r.uniform(2, 5) * MIN))
    nights = []
    for d in range(math.ceil(days)):
        noon = T0 + d * DAY + 13 * HOUR + r.uniform(-40, 40) * MIN
        if noon < end:
            off[r.choice(uuids)].append((noon, noon + r.uniform(20, 40) * MIN))
        down = T0 + d * DAY + 22 * HOUR + r.uniform(-15, 15) * MIN
        upn = T0 + (d + 1) * DAY + 7 * HOUR + r.uniform(-30, 30) * MIN
        if down >= end:
            break
        nights.append(d)
        x, y = down, upn
        for u in free:
            off[u].append((x, min(y, end + HOUR)))
            x += r.uniform(2, 5) * MIN
            y += r.uniform(2, 5) * MIN
    devs, tr = [], []
    for i, u in enumerate(uuids):
        segs: list[tuple[float, Behaviour]] = [(T0, lambda t: (_serving_load(r, t, 30.0, 80.0), None, 0.6, w))]
        for x, y in off[u]:
            segs += [(x, lambda t: (0.0, r.uniform(0.0, 0.2), 0.0, None)),
                     (y, lambda t: (0.0, r.uniform(0.0, 0.2), 0.6, w)),
                     (y + r.uniform(2, 4) * MIN, lambda t: (_serving_load(r, t, 30.0, 80.0), None, 0.6, w))]
        devs.append(Device("inf-a100-pool2", u, _tl(segs), pid=4700 + i))
        for n, (x, y) in enumerate(sorted(v for v in off[u] if v[1] - v[0] > 4 * HOUR)):
            if n < 2:
                tr.append(truth("idle", u, None, x, min(y, end), ambiguous=True, price=A100_PRICE,
                                note="night scale-down, first seen" if n else "idle unallocated from the first "
                                     "sample (scaled down at night)"))
    return Scenario("", gpu_events(r, devs, T0, end, step_s), tr)


# ====================================================================== 7. office-hours dev boxes
def gpu_devbox_office_hours(seed: int, boxes: int = 4, step_s: float = 60.0, cron: bool = True) -> Scenario:
    """Four dev-box pods (kind notebook, one A100 each, one node), Thursday 00:00 to Monday 00:00 (days 3-7 of the
    week of ``T0``): each user works 09:00-18:00 (+-45 min) on Thursday and Friday, in cells of 1-12 min at 40-95 %
    separated by quiet spells of 1-55 min (log-normal, median 8 min) and a 45-75 min lunch, with a model loaded
    (35-60 % memory) all the time, also at night and over the weekend (the kernel stays up). ``cron``: a scheduled
    cell runs 2-4 min at 02:00-03:00 every night on every box. Daytime quiet spells (up to 75 min) must not alert.
    Each night (from the last cell to the next morning's first, ~15 h, and the few hours before Thursday's first
    cell) is an ambiguous truth (routine overnight idling of a dev box: waste, but the daily rhythm; one anomaly
    per night at most, the cron cell must not split it). The weekend, from Friday's last cell to the end
    (~54 h holding memory), is a truth without a goal (an abandoned loaded model, clearly longer than any
    night)."""
    r = random.Random(seed)
    t0, t1 = T0 + 3 * DAY, T0 + 7 * DAY
    devs, tr = [], []
    users = ["ana", "bo", "chidi", "dara", "eli", "fay"]
    for i in range(boxes):
        u = _uuid(r, "GPU")
        w = wl(f"dev/{users[i % len(users)]}-workspace", "notebook", "ml-platform")
        mem = r.uniform(0.35, 0.6)
        cells: list[tuple[float, float]] = []
        for d in (3, 4):  # Thursday, Friday
            day = T0 + d * DAY
            t = day + 9 * HOUR + r.uniform(-45, 45) * MIN
            stop = day + 18 * HOUR + r.uniform(-45, 45) * MIN
            lunch: float | None = day + 12 * HOUR + r.uniform(0, 60) * MIN
            while t < stop:
                c = r.uniform(1, 12) * MIN
                cells.append((t, t + c))
                t += c
                if lunch is not None and t >= lunch:
                    t += r.uniform(45, 75) * MIN
                    lunch = None
                else:
                    t += min(55.0, max(1.0, r.lognormvariate(math.log(8), 0.8))) * MIN
        work_end = {d: max(y for x, y in cells if x < T0 + (d + 1) * DAY) for d in (3, 4)}
        work_start = {d: min(x for x, y in cells if x >= T0 + d * DAY) for d in (3, 4)}
        if cron:
            for d in range(3, 7):
                s = T0 + d * DAY + 2 * HOUR + r.uniform(0, 60) * MIN
                cells.append((s, s + r.uniform(2, 4) * MIN))
        cells.sort()
        quiet = _const(lambda: 0.0, lambda: r.uniform(0.0, 0.2), mem, w)
        busy = _const(lambda: r.uniform(40, 95), lambda: None, mem, w)
        segs: list[tuple[float, Behaviour]] = [(t0, quiet)]
        for x, y in cells:
            segs += [(x, busy), (y, quiet)]
        devs.append(Device("devbox-01", u, _tl(segs), pid=4800 + i))
        tr.append(truth("idle", u, w["id"], t0, work_start[3], ambiguous=True, price=A100_PRICE,
                        note="overnight before Thursday (model loaded)"))
        tr.append(truth("idle", u, w["id"], work_end[3], work_start[4], ambiguous=True, price=A100_PRICE,
                        note="Thursday night (model loaded)"))
        tr.append(truth("idle", u, w["id"], work_end[4], t1, price=A100_PRICE,
                        note="the weekend with the model loaded"))
    return Scenario("", gpu_events(r, devs, t0, t1, step_s), tr)


# ====================================================================== 8. vLLM left with its health probes
def gpu_vllm_probe_only(seed: int, mode: str = "probe", days: float = 2.5, replicas: int = 3, step_s: float = 30.0,
                        at_day: int = 2, at_h: float = 2.0, quiet_h: float = 5.0) -> Scenario:
    """A vLLM endpoint, ``replicas`` H100s of one node, each with 90 % of its memory preallocated for the KV cache
    (``gpu_memory_utilization=0.9``), serving 24/7 global traffic (util 25-75 % with a daily cycle). A synthetic
    monitor sends a 1-token request every 30 s (and the engine's scheduler loop ticks): on its own that reads
    util 1-4 %, SM activity 0.2-1.2 %. From ``at_h`` on day ``at_day`` (0-based) for ``quiet_h``:
    ``probe``: the ingress sends all user traffic to another region; only the monitor's requests remain (util
    1-4 %, SM 0.2-1.2 %, 90 % memory). Truth: every replica, goal 20 min (the issue: "an endpoint with its model
    loaded and near-zero traffic for hours is flagged"; a busy endpoint gone quiet, ~9 min in the README).
    ``probe_util``: the same, from an exporter without SM activity (util 3-8 %: monitor plus a DCGM field
    collection kernel): ambiguous (the README counts a steady 3-5 % as light use, the issue calls it near-zero).
    ``low`` (control): real traffic at its night low (util 6-14 %, SM 3-8 %, a few requests a second): must not
    alert."""
    r = random.Random(seed)
    w = wl("serving/vllm-llama3-70b", "inference", "assistant")
    uuids = [_uuid(r, "GPU") for _ in range(replicas)]
    end = T0 + days * DAY
    a = T0 + at_day * DAY + at_h * HOUR
    b = a + quiet_h * HOUR
    sm = mode != "probe_util"
    devs, tr = [], []
    for i, u in enumerate(uuids):
        def f(t: float) -> GpuState:
            if a <= t < b:
                if mode == "low":
                    return r.uniform(6, 14), r.uniform(3, 8), 0.9, w
                if mode == "probe_util":
                    return r.uniform(3, 8), None, 0.9, w
                return r.uniform(1, 4), r.uniform(0.2, 1.2), 0.9, w
            return _serving_load(r, t, 25.0, 75.0), None, 0.9, w
        devs.append(Device("inf-h100-vllm1", u, f, model=H100, price=4.5, sm=sm, pid=4900 + i))
        if mode != "low":
            tr.append(truth("idle", u, w["id"], a, b, goal_s=None if mode == "probe_util" else 20 * MIN,
                            ambiguous=mode == "probe_util", price=4.5,
                            note="only health probes: util 1-4 %, sm 0.2-1.2 %, 90 % memory" if sm else
                                 "only health probes, util-only exporter: util 3-8 %"))
    return Scenario("", gpu_events(r, devs, T0, end, step_s), tr)


def register(r: dict[str, tuple[Any, dict[str, Any]]]) -> None:
    """Add this round's scenarios to the registry ``r``."""
    r["gpu13_rl_alternating"] = (gpu_rl_alternating, {"hang": False})
    r["gpu13_rl_alternating_hang"] = (gpu_rl_alternating, {"hang": True})
    r["gpu13_gang_wait"] = (gpu_gang_wait, {"deadlock": False})
    r["gpu13_gang_deadlock"] = (gpu_gang_wait, {"deadlock": True})
    r["gpu13_pipeline_bubbles"] = (gpu_pipeline_bubbles, {"hang": False})
    r["gpu13_pipeline_bubbles_hang"] = (gpu_pipeline_bubbles, {"hang": True})
    r["gpu13_spot_replaced"] = (gpu_spot_replaced, {"empty": False})
    r["gpu13_spot_replaced_empty"] = (gpu_spot_replaced, {"empty": True})
    r["gpu13_completed_pod"] = (gpu_completed_pod, {"hoard": False})
    r["gpu13_completed_pod_hoard"] = (gpu_completed_pod, {"hoard": True})
    r["gpu13_autoscaled_night"] = (gpu_autoscaled_night, {})
    r["gpu13_devbox_office_hours"] = (gpu_devbox_office_hours, {"cron": True})
    r["gpu13_vllm_probe_only"] = (gpu_vllm_probe_only, {"mode": "probe"})
    r["gpu13_vllm_probe_only_util"] = (gpu_vllm_probe_only, {"mode": "probe_util"})
    r["gpu13_vllm_low_traffic"] = (gpu_vllm_probe_only, {"mode": "low"})
