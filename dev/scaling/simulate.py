#!/usr/bin/env python3
"""One nightly batch run, simulated against DynamoDB's published behaviour.

From the repository root:

    .venv/bin/python dev/scaling/simulate.py                # the grid, as plain text
    .venv/bin/python dev/scaling/simulate.py --markdown     # the grid, for docs/scaling.md
    .venv/bin/python dev/scaling/simulate.py --rows 100M --workers 16 --tables warm --detail

The run: a planner invocation splits the attribute table's Scan into TotalSegments
segments, grouped into Workers slices; a Step Functions Map runs the slices at once, each
a loop of invocations of at most 14 minutes of work; a final Task writes the summary.
Inside an invocation every segment loops: Scan a page of 1,000 rows, score it, write it
with BatchWriteItem (25 items a request, 4 in flight), and only then read the next page
(functions/batch/src/pipeline.rs). Throttled writes are resent with exponential backoff
and full jitter, 100 ms doubling to 20 s. A chunk past its attempts (10 SDK attempts of a
call throttled whole, or 10 writes with items left) does not fail the invocation: it is
resent every 20 s until the invocation's stop time, and only if it is still refused then
is its page handed back, to be read and written again by the slice's next invocation.

How it is computed (docs/scaling.md has the assumptions and what is left out):

- A page's writes are simulated request by request (`page_writes`): each item of a
  request is throttled with probability q, a request throttled whole is retried by the
  SDK, a partly written one has its unprocessed items resent by the pipeline, each after
  its jittered backoff, which holds one of the segment's 4 slots while it sleeps. That
  gives, for each q, how long a page's writes take and how many requests they need.
  Chunks past their attempts are too rare to sample: their chance and their 20 s waits
  are summed as expectations, the waits added to the page's time.
- The run is stepped through time (1 s steps). At each step q is the rate at which the
  table turns writes away: 0 while the workers offer less than the table serves, else the
  value at which the workers, slowed by their own backoff, write exactly what the table
  serves. Backoff settles within seconds; the table changes over minutes.

Standard library only (Python 3.11).
"""

from __future__ import annotations

import argparse
import bisect
import dataclasses
import functools
import heapq
import math
import random
import sys
from dataclasses import dataclass, field

# --- Prices: us-east-1 list prices, all in one place ------------------------------------

PRICES = {
    "write_per_million_wru": 0.625,  # DynamoDB on-demand write request units
    "read_per_million_rru": 0.125,  # DynamoDB on-demand read request units
    "lambda_per_gb_s": 0.0000133334,  # Lambda arm64 duration
    "lambda_per_million_requests": 0.20,
    "sfn_per_thousand_transitions": 0.025,  # Step Functions Standard
    # Raising a table's warm throughput is charged once (AWS docs: "if you proactively
    # increase these default warm throughput values ... you will be charged for those
    # requests"); its price could not be confirmed, so it is not in the totals.
    "warm_throughput_one_time": None,
}

# --- DynamoDB, Lambda and Step Functions facts -------------------------------------------

NEW_TABLE_WRITES = 4_000  # writes/s a new on-demand table serves at once
DOUBLING_WINDOW_S = 1_800  # on-demand serves up to 2x its previous peak, 30 min on
TABLE_WRITE_QUOTA = 40_000  # default table-level on-demand write quota
PARTITION_WCU = 1_000  # writes/s one partition serves
RRU_BLOCK_BYTES = 4_096  # reads are charged per 4 KB of a page ...
RRU_PER_BLOCK = 0.5  # ... at half a unit when eventually consistent
MB_PER_VCPU = 1_769  # Lambda: 1,769 MB is one vCPU's worth of CPU
MAX_VCPU = 6
INLINE_MAP_MAX_CONCURRENCY = 40  # above this the Map must be a Distributed Map

# The state machine's Retry of a slice's Task failed by the run's own errors (ScanFailed,
# WriteFailed, WritesExhausted, DeadlineExceeded, ...; template.yaml, NightlyRun,
# ScoreSlice): up to 5 more invocations from the slice's cursor, each after a wait drawn
# uniformly below 30 s doubling, at most 300 s (full jitter). A refused call (ScanRefused,
# WriteRefused: a missing table, denied access) is not retried. Throttling no longer fails
# an invocation (its writes always run under a deadline), so the model, which has no other
# failures, has no Task retries.
NIGHT_TIMEOUT_S = 43_200  # the state machine's TimeoutSeconds: a night fails after 12 h
TASK_RETRIES = 5
TASK_RETRY_INTERVAL_S = 30.0
TASK_RETRY_BACKOFF = 2.0
TASK_RETRY_MAX_DELAY_S = 300.0

# The write retry policy (libs/aws-adapter/src/clients.rs and the pipeline's ResendPolicy).
BACKOFF_FIRST_S = 0.1
BACKOFF_MAX_S = 20.0
SDK_MAX_ATTEMPTS = 10  # attempts per BatchWriteItem call (throttled whole: the SDK retries)
PIPELINE_MAX_WRITES = 10  # writes per 25-item chunk (UnprocessedItems: the pipeline resends)
# Past either, under a deadline: resent every BACKOFF_MAX_S (no jitter) until the stop time,
# at most (900 s - 60 s) / 20 s times in an invocation.
MAX_LATE_RESENDS = 42


@dataclass(frozen=True)
class Settings:
    """One run's settings and every assumption, with the values docs/scaling.md states."""

    rows: int = 100_000_000
    workers: int = 16  # Map concurrency: slices running at once
    segments: int = 64  # TotalSegments of the parallel Scan
    memory_mb: int = 1_024  # the template's MemorySize
    table_start: int = 40_000  # writes/s the predictions table serves at once (WarmThroughput)
    cap: int | None = None  # OnDemandThroughput.MaxWriteRequestUnits
    quota: int = TABLE_WRITE_QUOTA
    write_latency_s: float = 0.015  # one BatchWriteItem round trip inside the region
    scan_latency_s: float = 0.025  # one Scan page of 1,000 rows
    rows_per_vcpu_s: float = 500_000  # docs/batch.md "Measured", items built included
    request_cpu_s: float = 250e-6  # SDK, signing, JSON and TLS per BatchWriteItem request
    scan_page_cpu_s: float = 2e-3  # SDK, TLS and JSON per Scan page (~250 KB)
    page_items: int = 1_000  # the Scan's Limit
    batch_items: int = 25  # BatchWriteItem's maximum
    writes_in_flight: int = 4  # per segment
    item_bytes: int = 250  # an attribute row as stored (reads are charged on it)
    timeout_s: float = 900  # Lambda's maximum
    margin_s: float = 60  # DEADLINE_MARGIN_SECONDS: stop reading pages this long before
    cold_start_s: float = 1.0  # a slice's first invocation: new sandbox, model loaded
    handover_s: float = 0.5  # Task done -> Choice -> next Task's invocation starts
    plan_s: float = 1.0  # the scheduled invocation that plans and starts the execution
    summary_s: float = 1.0  # the final Task: sums the slices, stores the summary
    step_s: float = 1.0

    @property
    def vcpu(self) -> float:
        return min(MAX_VCPU, self.memory_mb / MB_PER_VCPU)

    @property
    def work_window_s(self) -> float:
        return self.timeout_s - self.margin_s


# --- A page's writes under throttling, request by request --------------------------------


@dataclass(frozen=True)
class PageWrites:
    """One segment's page of writes, on average, when each item is throttled with q."""

    seconds: float  # first request sent to last answer (4 requests in flight)
    requests: float  # BatchWriteItem requests, resends and SDK retries included
    throttled: float  # requests that came back throttled (an error or UnprocessedItems)
    exhausted: float  # expected chunks past their attempts (then resent every 20 s)
    extra_s: float  # expected seconds of those 20 s waits (in `seconds` too)


# Rejection rates q at which pages are sampled; between them figures are interpolated.
Q_GRID = (0.0,) + tuple(1e-4 * 1.25**i for i in range(42))  # up to ~0.94
Q_MAX = Q_GRID[-1]
PAGE_SAMPLES = 200


def _backoff_bound(n: int) -> float:
    """The n-th backoff's upper bound; full jitter sleeps uniformly below it."""
    return min(BACKOFF_MAX_S, BACKOFF_FIRST_S * 2 ** (n - 1))


def _binomial_cdfs(q: float, n: int) -> list[list[float]]:
    """cdfs[k][j]: probability that at most j of k items are throttled."""
    cdfs: list[list[float]] = [[1.0]]
    for k in range(1, n + 1):
        acc, cdf = 0.0, []
        for j in range(k + 1):
            acc += math.comb(k, j) * q**j * (1 - q) ** (k - j)
            cdf.append(acc)
        cdf[-1] = 1.0
        cdfs.append(cdf)
    return cdfs


def _partly(q: float, n: int) -> float:
    """Chance that a call of n items ends with some, not all, left (UnprocessedItems):
    one throttled whole is retried by the SDK, so this is conditioned on not being so."""
    whole = q**n
    return (1 - (1 - q) ** n - whole) / (1 - whole) if n > 1 else 0.0


@functools.lru_cache(maxsize=None)
def _past_last_write(q: float, pending: int) -> tuple[float, float]:
    """A chunk's last allowed write, of `pending` items: (chance it leaves m items, the
    expected 20 s resends then needed, weighted by that chance).

    m is drawn as the write's rejects (1 to pending - 1). Each resend of m items leaves some
    again with _partly(q, m); as m only shrinks, 1 / (1 - _partly(q, m)) =
    (1 - q**m) / (1 - q)**m resends is at most what it takes. No invocation has room for
    more than MAX_LATE_RESENDS of them."""
    p = _partly(q, pending)
    if p == 0:
        return 0.0, 0.0
    weight = 1 - (1 - q) ** pending - q**pending
    waits = sum(
        math.comb(pending, m) * q**m * (1 - q) ** (pending - m) / weight
        * min(MAX_LATE_RESENDS, (1 - q**m) / (1 - q) ** m)
        for m in range(1, pending)
    )
    return p, p * waits


def _chunk(rng: random.Random, q: float, cdfs, items: int, latency: float):
    """One chunk's writes: (seconds its slot is held, requests, throttled, chunks past
    their attempts, seconds of 20 s waits), the last two as expectations."""
    pending, seconds, requests, throttled = items, 0.0, 0, 0
    exhausted = waits = 0.0
    writes, attempt = 1, 1
    while True:
        if attempt == 1:
            # The chance that this call is throttled whole on every attempt (the SDK's
            # retries spent: WriteFailed), or, on the last allowed write, ends with items
            # left (WritesExhausted). Either way the chunk is then resent every 20 s: once
            # after a failed call (a new call almost surely gets through), as often as the
            # items left need after the last write. Summed over the calls made these are
            # expectations; the sampled chunk carries on without those waits, so that rare
            # events need no rare samples.
            failed = (q**pending) ** SDK_MAX_ATTEMPTS
            exhausted += failed
            waits += failed / (1 - failed)
            if writes == PIPELINE_MAX_WRITES:
                left, resends = _past_last_write(q, pending)
                exhausted += left
                waits += resends
        requests += 1
        seconds += latency
        rejected = bisect.bisect_left(cdfs[pending], rng.random())
        if rejected == 0:
            return seconds, requests, throttled, exhausted, waits * BACKOFF_MAX_S
        throttled += 1
        if rejected == pending:
            # ProvisionedThroughputExceeded: the SDK backs off and retries the call; after
            # its last attempt the pipeline calls again (its 20 s wait is counted above).
            if attempt < SDK_MAX_ATTEMPTS:
                seconds += rng.random() * _backoff_bound(attempt)
                attempt += 1
            else:
                attempt = 1
        else:
            # UnprocessedItems: the pipeline backs off and resends what is left (past its
            # last write, every 20 s, counted above).
            pending = rejected
            if writes < PIPELINE_MAX_WRITES:
                seconds += rng.random() * _backoff_bound(writes)
            writes += 1
            attempt = 1


@functools.lru_cache(maxsize=None)
def _sampled_page(q: float, latency: float, page_items: int, batch: int, in_flight: int):
    sizes = [batch] * (page_items // batch) + ([page_items % batch] if page_items % batch else [])
    if q == 0:
        rounds = math.ceil(len(sizes) / in_flight)
        return PageWrites(rounds * latency, len(sizes), 0.0, 0.0, 0.0)
    # The same draws at every q, so that the figures move smoothly as q does.
    rng = random.Random(20261128)
    cdfs = _binomial_cdfs(q, batch)
    seconds = requests = throttled = exhausted = extra = 0.0
    for _ in range(PAGE_SAMPLES):
        # buffer_unordered(4): a chunk starts when one of the 4 slots frees; a chunk in
        # backoff keeps its slot; the page is done when its last chunk is.
        slots = [0.0] * in_flight
        for size in sizes:
            held, r, t, e, w = _chunk(rng, q, cdfs, size, latency)
            heapq.heappush(slots, heapq.heappop(slots) + held)
            requests += r
            throttled += t
            exhausted += e
            extra += w
        seconds += max(slots)
    n = PAGE_SAMPLES
    # A chunk in its 20 s waits holds its slot and is the page's last to finish: the
    # page takes that much longer (a little less in fact: the waits start once the
    # chunk's own writes are spent, while the other slots go on).
    return PageWrites((seconds + extra) / n, requests / n, throttled / n, exhausted / n, extra / n)


def page_writes(q: float, s: Settings) -> PageWrites:
    """A page's writes at rejection rate q, interpolated between sampled rates."""
    q = min(max(q, 0.0), Q_MAX)
    key = (s.write_latency_s, s.page_items, s.batch_items, s.writes_in_flight)
    i = bisect.bisect_right(Q_GRID, q) - 1
    if i >= len(Q_GRID) - 1:
        return _sampled_page(Q_MAX, *key)
    lo, hi = Q_GRID[i], Q_GRID[i + 1]
    a, b = _sampled_page(lo, *key), _sampled_page(hi, *key)
    w = (q - lo) / (hi - lo)
    mix = [x + w * (y - x) for x, y in zip(dataclasses.astuple(a), dataclasses.astuple(b))]
    if a.exhausted > 0 and b.exhausted > 0:
        # Chunks past their attempts grow like q**10: interpolate them, and their waits,
        # geometrically.
        for k, (x, y) in ((3, (a.exhausted, b.exhausted)), (4, (a.extra_s, b.extra_s))):
            mix[k] = math.exp(math.log(x) + w * math.log(y / x))
    return PageWrites(*mix)


def worker_pages_per_s(segments: int, q: float, s: Settings) -> tuple[float, str]:
    """Pages a second one worker with `segments` segments writes, and what limits it."""
    pw = page_writes(q, s)
    cpu_per_page = (
        s.page_items / s.rows_per_vcpu_s + s.scan_page_cpu_s + pw.requests * s.request_cpu_s
    )
    # A segment reads its next page only when the last write of this one is answered.
    cycle = s.scan_latency_s + cpu_per_page / s.vcpu + pw.seconds
    in_flight = segments / cycle
    cpu = s.vcpu / cpu_per_page
    return (cpu, "CPU") if cpu < in_flight else (in_flight, "in flight")


# --- The predictions table --------------------------------------------------------------


class Table:
    """An on-demand table: what it serves, as its history lets it."""

    def __init__(self, s: Settings):
        self.start = max(NEW_TABLE_WRITES, s.table_start)
        self.cap = s.cap if s.cap is not None else math.inf
        self.quota = s.quota
        self.peak_times: list[float] = [0.0]
        self.peaks: list[float] = [0.0]
        self.reached = min(self.start, self.quota)
        self.partitions = math.ceil(round(self.reached) / PARTITION_WCU)

    def limit(self, t: float) -> float:
        # Up to double the peak served 30 minutes ago (so at most one doubling per 30
        # minutes), never below what it served at once when the run began.
        i = bisect.bisect_right(self.peak_times, t - DOUBLING_WINDOW_S) - 1
        allowance = max(self.start, 2 * self.peaks[i]) if i >= 0 else self.start
        self.reached = max(self.reached, min(allowance, self.quota, self.cap))
        # Partitions split to serve what the table has reached and never merge; product
        # ids hash uniformly, so each takes 1/partitions of the writes and together they
        # serve partitions x 1,000 >= reached: the partitions never bind on their own.
        # (Rounded: a peak of 16,000.0000001 writes/s is 16 partitions' worth.)
        needed = math.ceil(round(self.reached) / PARTITION_WCU)
        self.partitions = max(self.partitions, needed)
        return min(allowance, self.quota, self.cap, self.partitions * PARTITION_WCU)

    def served(self, t: float, rate: float) -> None:
        if rate > self.peaks[-1]:
            self.peak_times.append(t)
            self.peaks.append(rate)


# --- The slices: a loop of invocations each --------------------------------------------


class Slices:
    """`count` identical slices of `segments` segments, run as Task -> Choice loops."""

    def __init__(self, count: int, segments: int, rows_each: float, s: Settings):
        self.count, self.segments, self.rows_left = count, segments, rows_each
        self.s = s
        self.phase, self.left = "cold", s.cold_start_s
        self.invocations = 1
        self.billed_s = 0.0  # per slice
        self.finished_at: float | None = None

    def advance(self, dt: float, drain_s: float) -> tuple[float, float, float]:
        """Moves on by dt: (seconds of full-speed work in it, billed seconds in it, the
        part of that work done after the stop time, on the pages in hand)."""
        work = billed = late = 0.0
        while dt > 1e-12:
            use = min(dt, self.left)
            if self.phase == "work":
                work += use
                billed += use
            elif self.phase == "drain":
                # No new pages; the pages in hand are finished: half speed on average.
                work += 0.5 * use
                late += 0.5 * use
                billed += use
            elif self.phase == "cold":
                billed += use
            dt -= use
            self.left -= use
            if self.left <= 1e-12:
                self._next(drain_s)
        return work, billed, late

    def _next(self, drain_s: float) -> None:
        if self.phase in ("cold", "gap"):
            if self.phase == "gap":
                self.invocations += 1
            self.phase, self.left = "work", self.s.work_window_s
        elif self.phase == "work":
            self.phase, self.left = "drain", min(drain_s, self.s.margin_s)
        else:  # drain: the invocation returns its cursor; the Choice loops
            self.phase, self.left = "gap", self.s.handover_s


def plan(s: Settings) -> list[tuple[int, int]]:
    """(slices, segments each): TotalSegments spread evenly over the workers."""
    workers = min(s.workers, s.segments)
    base, extra = divmod(s.segments, workers)
    groups = [(extra, base + 1), (workers - extra, base)]
    return [(n, seg) for n, seg in groups if n > 0]


# --- One run ----------------------------------------------------------------------------


@dataclass
class Result:
    settings: Settings
    minutes: float = 0.0
    bound: str = ""
    worker_bound_share: float = 0.0  # of the writing time: workers offered less than served
    table_use: float = 0.0  # rows written / what the table would have served meanwhile
    peak_rate: float = 0.0
    rows_written: float = 0.0
    requests: float = 0.0
    throttled: float = 0.0
    exhausted: float = 0.0  # expected chunks past their attempts (resent every 20 s)
    extra_wait_s: float = 0.0  # expected seconds of those 20 s waits, summed over chunks
    handed_back: float = 0.0  # expected pages handed back unfinished (at most)
    mean_q: float = 0.0  # share of item writes throttled, over the run's rows
    invocations: int = 0
    gb_s: float = 0.0
    transitions: float = 0.0
    read_units: float = 0.0
    partitions: int = 0
    max_served_over_limit: float = 0.0  # > 0 would mean a limit was broken
    timeline: list[tuple] = field(default_factory=list)

    @property
    def needs_distributed_map(self) -> bool:
        return min(self.settings.workers, self.settings.segments) > INLINE_MAP_MAX_CONCURRENCY

    @property
    def slice_invocations(self) -> int:
        return self.invocations - 2  # not the planner, not the summary

    @property
    def timed_out(self) -> bool:
        """The night would outlast the state machine's 12 hours: it ends failed."""
        return self.minutes * 60 > NIGHT_TIMEOUT_S

    @property
    def rewrite_cost(self) -> float:
        """Dollars at most for the pages handed back: each rewritten whole (1,000 rows)."""
        rows = self.handed_back * self.settings.page_items
        return rows / 1e6 * PRICES["write_per_million_wru"]

    @property
    def costs(self) -> dict[str, float]:
        """Dollars a night; throttled requests are not charged."""
        return {
            "writes": self.rows_written / 1e6 * PRICES["write_per_million_wru"],
            "reads": self.read_units / 1e6 * PRICES["read_per_million_rru"],
            "lambda": self.gb_s * PRICES["lambda_per_gb_s"]
            + self.invocations / 1e6 * PRICES["lambda_per_million_requests"],
            "sfn": self.transitions / 1e3 * PRICES["sfn_per_thousand_transitions"],
        }

    @property
    def cost(self) -> float:
        return sum(self.costs.values())


def read_units(s: Settings) -> float:
    """Scan's read units: each page's bytes rounded up to 4 KB, half a unit per block."""
    per_block = RRU_PER_BLOCK
    total = 0.0  # segments differ by at most one row
    base, extra = divmod(s.rows, s.segments)
    for rows, count in ((base + 1, extra), (base, s.segments - extra)):
        full, rest = divmod(rows, s.page_items)
        units = full * math.ceil(s.page_items * s.item_bytes / RRU_BLOCK_BYTES) * per_block
        units += math.ceil(rest * s.item_bytes / RRU_BLOCK_BYTES) * per_block
        total += units * count
    return total


def simulate(s: Settings, timeline_every_s: float = 0) -> Result:
    res = Result(settings=s)
    table = Table(s)
    groups = [Slices(n, seg, s.rows / s.segments * seg, s) for n, seg in plan(s)]
    dt = s.step_s
    t = start = s.plan_s  # the Map starts once the planner has started the execution
    drain_s = page_writes(0.0, s).seconds
    solved: dict = {}  # equilibria by (limit, slices' state): most steps repeat the last
    served_possible = worker_bound_s = weighted_q = 0.0
    next_sample = start
    while any(g.finished_at is None for g in groups):
        limit = table.limit(t)
        active = [g for g in groups if g.finished_at is None]
        # Each slice's speed over the step (0 to 1), rounded so that steps repeat exactly.
        steps = [(g, round(work / dt, 9), billed, late / work if work else 0.0)
                 for g in active for work, billed, late in [g.advance(dt, drain_s)]]
        key = (limit, tuple((g.count, g.segments, speed) for g, speed, _, _ in steps))
        if key not in solved:
            solved[key] = _equilibrium(*key, s)
        q, scale, capacity = solved[key]
        pw = page_writes(q, s)

        # A chunk past its attempts at time t before the stop time has its page handed back
        # if its 20 s waits outlast the stop time: spread over an invocation's window, its
        # expected waits over the window's length (a little more than the exact share, as
        # the waits are capped by the time left). Only in an invocation that reaches its
        # stop time: a slice's last one finishes before. After the stop time, on the pages
        # in hand, it is handed back at once.
        mean_wait = pw.extra_s / pw.exhausted if pw.exhausted else 0.0
        back_early = min(1.0, mean_wait / s.work_window_s)
        written = 0.0
        for g, speed, billed, late in steps:
            rows = worker_pages_per_s(g.segments, q, s)[0] * s.page_items * scale * speed * dt
            if rows >= g.rows_left:
                # This slice's last rows: it finishes within the step.
                used = g.rows_left / rows if rows > 0 else 1.0
                rows = g.rows_left
                g.finished_at = t + used * dt
                billed *= used
            g.rows_left -= rows
            g.billed_s += billed
            exhausted = g.count * rows / s.page_items * pw.exhausted
            stops = g.phase != "work" or g.rows_left > rows / dt * g.left
            res.handed_back += exhausted * ((1 - late) * back_early * stops + late)
            written += rows * g.count

        pages = written / s.page_items
        res.requests += pages * pw.requests
        res.throttled += pages * pw.throttled
        res.exhausted += pages * pw.exhausted
        res.extra_wait_s += pages * pw.extra_s
        res.rows_written += written
        weighted_q += q * written
        rate = written / dt
        res.peak_rate = max(res.peak_rate, rate)
        res.max_served_over_limit = max(res.max_served_over_limit, rate - limit)
        served_possible += limit * dt
        if capacity < limit * 0.999:
            worker_bound_s += dt
        table.served(t + dt, rate)
        drain_s = s.scan_latency_s + pw.seconds  # the page in hand when work stops
        if timeline_every_s and t >= next_sample:
            res.timeline.append((t, limit, rate, q, table.partitions))
            next_sample += timeline_every_s
        t += dt

    end = max(g.finished_at for g in groups)
    res.minutes = (end + s.summary_s) / 60
    res.table_use = res.rows_written / served_possible
    res.mean_q = weighted_q / res.rows_written
    res.worker_bound_share = min(1.0, worker_bound_s / (end - start))
    widest = max(seg for _, seg in plan(s))
    limiter = worker_pages_per_s(widest, 0.0, s)[1]
    res.bound = f"workers ({limiter})" if res.worker_bound_share > 0.5 else "table"
    res.partitions = table.partitions
    res.invocations = sum(g.count * g.invocations for g in groups) + 2  # + planner, summary
    gb = s.memory_mb / 1024
    res.gb_s = (sum(g.count * g.billed_s for g in groups) + s.plan_s + s.summary_s) * gb
    # 1 Map + per slice (Task + Choice per invocation, the end Pass) + the final Task. No Task
    # retries: throttling slows a slice, it fails no invocation. A page handed back adds
    # no invocation either: its invocation was at its stop time anyway.
    per_slice = sum(g.count * (2 * g.invocations + 1) for g in groups)
    res.transitions = 1 + per_slice + 1
    res.read_units = read_units(s)
    return res


def _equilibrium(limit: float, shape: tuple, s: Settings) -> tuple[float, float, float]:
    """(q, scale, unthrottled capacity) for one step; shape: (slices, segments, speed).

    q is 0 when the workers, unthrottled, write no more than the table serves; else the
    rejection rate at which their backoff slows them to exactly what it serves. scale
    trims the last rounding, so that what is written never exceeds the limit."""

    def rows_per_s(q: float) -> float:
        return sum(
            n * f * worker_pages_per_s(seg, q, s)[0] * s.page_items for n, seg, f in shape
        )

    capacity = rows_per_s(0.0)
    if capacity <= limit:
        return 0.0, 1.0, capacity
    lo, hi = 0.0, Q_MAX
    if rows_per_s(hi) > limit:  # beyond the sampled rates: throttle the rest outright
        return hi, limit / rows_per_s(hi), capacity
    for _ in range(40):
        mid = (lo + hi) / 2
        if rows_per_s(mid) > limit:
            lo = mid
        else:
            hi = mid
    return hi, min(1.0, limit / rows_per_s(hi)), capacity


# --- Output -----------------------------------------------------------------------------


def parse_count(text: str) -> int:
    text = text.strip().upper().replace(",", "").replace("_", "")
    for suffix, factor in (("K", 1_000), ("M", 1_000_000), ("B", 1_000_000_000)):
        if text.endswith(suffix):
            return int(float(text[:-1]) * factor)
    return int(text)


def compact(x: float) -> str:
    if x >= 1e6:
        return f"{x / 1e6:.1f} M"
    if x >= 1e4:
        return f"{x / 1e3:.0f} k"
    return f"{x:,.0f}"


def table_name(r: Result) -> str:
    s = r.settings
    name = "new" if s.table_start <= NEW_TABLE_WRITES else f"warm {s.table_start // 1000}k"
    return name + (f", cap {s.cap // 1000}k" if s.cap else "")


def few(x: float) -> str:
    """An expected count, often far below one."""
    if x == 0:
        return "0"
    if x < 0.005:
        return "< 0.01"
    return f"{x:.2f}" if x < 10 else compact(x)


COLUMNS = (
    "rows", "workers", "table", "minutes", "bound", "peak writes/s", "throttled requests",
    "chunks past attempts", "pages handed back", "invocations", "GB-s", "transitions",
    "writes $", "reads $", "Lambda $", "SFN $", "total $",
)


def row(r: Result) -> list[str]:
    s, c = r.settings, r.costs
    workers = f"{min(s.workers, s.segments)}" + (" ‡" if r.needs_distributed_map else "")
    return [
        compact(s.rows), workers, table_name(r), f"{r.minutes:.1f}", r.bound,
        f"{r.peak_rate:,.0f}", compact(r.throttled), few(r.exhausted), few(r.handed_back),
        f"{r.invocations:,}",
        f"{r.gb_s:,.0f}", f"{r.transitions:,.0f}", f"{c['writes']:.2f}", f"{c['reads']:.2f}",
        f"{c['lambda']:.3f}", f"{c['sfn']:.4f}", f"{r.cost:.2f}",
    ]


def render(results: list[Result], markdown: bool) -> str:
    cells = [list(COLUMNS)] + [row(r) for r in results]
    if markdown:
        lines = ["| " + " | ".join(cells[0]) + " |", "|" + "---|" * len(COLUMNS)]
        lines += ["| " + " | ".join(r) + " |" for r in cells[1:]]
    else:
        widths = [max(len(r[i]) for r in cells) for i in range(len(COLUMNS))]

        def fmt(r: list[str]) -> str:  # numbers right-aligned, the bound left-aligned
            return "  ".join(
                x.ljust(w) if i == COLUMNS.index("bound") else x.rjust(w)
                for i, (x, w) in enumerate(zip(r, widths))
            )

        lines = [fmt(cells[0]), fmt(["-" * w for w in widths])] + [fmt(r) for r in cells[1:]]
    return "\n".join(lines)


def describe(r: Result) -> str:
    s = r.settings
    pages = r.rows_written / s.page_items
    pw0 = page_writes(0.0, s)
    one = worker_pages_per_s(max(g[1] for g in plan(s)), 0.0, s)
    lines = [
        f"{compact(s.rows)} rows, {min(s.workers, s.segments)} workers, {s.segments} segments, "
        f"{s.memory_mb} MB ({s.vcpu:.2f} vCPU), table {table_name(r)}:",
        f"  wall time {r.minutes:.1f} min, bound: {r.bound} "
        f"(workers the bound {r.worker_bound_share:.2%} of the writing time), "
        f"table used {r.table_use:.1%}",
        f"  one worker unthrottled: {one[0] * s.page_items:,.0f} rows/s ({one[1]}); "
        f"a page's writes unthrottled {pw0.seconds * 1000:.0f} ms",
        f"  peak {r.peak_rate:,.0f} writes/s; {compact(r.requests)} BatchWriteItem requests, "
        f"{compact(r.throttled)} throttled ({r.throttled / pages:.2f} a page; "
        f"{r.mean_q:.1%} of item writes turned away); "
        f"expected chunks past their attempts {r.exhausted:.2g}, resent every "
        f"{BACKOFF_MAX_S:.0f} s: {r.extra_wait_s / 60:.2g} slot-minutes of waiting (in the "
        f"wall time)",
        f"  expected pages handed back at most {r.handed_back:.2g} (read and written again "
        f"by the next invocation: at most {compact(r.handed_back * s.page_items)} rows, "
        f"${r.rewrite_cost:.2f}, not in the cost); no Task retries (throttling fails no "
        f"invocation)" + ("; OUTLASTS THE NIGHT'S 12 HOURS: it ends failed"
                          if r.timed_out else ""),
        f"  {r.invocations} invocations, {r.gb_s:,.0f} GB-s, {r.transitions:,.0f} transitions"
        + (", needs a Distributed Map" if r.needs_distributed_map else ""),
        f"  partitions at the end {r.partitions}; reads {r.read_units:,.0f} RRU",
        "  cost: " + ", ".join(f"{k} ${v:.4f}" for k, v in r.costs.items())
        + f"; total ${r.cost:.2f}",
    ]
    if r.timeline:
        lines.append("  minute  table limit  written/s  throttle q  partitions")
        for t, limit, rate, q, parts in r.timeline:
            lines.append(f"  {t / 60:6.1f}  {limit:11,.0f}  {rate:9,.0f}  {q:10.3f}  {parts:10}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", default="1M,10M,100M", help="comma-separated, e.g. 1M,10M,100M")
    p.add_argument("--workers", default="1,2,4,8,16,32,40,64", help="comma-separated")
    p.add_argument("--tables", default="new,warm", help="new and/or warm")
    p.add_argument("--warm", type=int, default=40_000, help="WarmThroughput writes/s")
    p.add_argument("--cap", type=int, default=None, help="OnDemandThroughput cap, writes/s")
    p.add_argument("--segments", type=int, default=64, help="TotalSegments")
    p.add_argument("--memory", type=int, default=1024, help="MemorySize, MB")
    p.add_argument("--latency-ms", type=float, default=15.0, help="BatchWriteItem round trip")
    p.add_argument("--scan-latency-ms", type=float, default=25.0, help="Scan page round trip")
    p.add_argument("--request-cpu-us", type=float, default=250.0, help="CPU per request")
    p.add_argument("--rows-per-vcpu", type=float, default=500_000, help="pipeline rows/s/vCPU")
    p.add_argument("--markdown", action="store_true", help="a Markdown table")
    p.add_argument("--detail", action="store_true", help="every figure of each run")
    p.add_argument("--timeline", type=float, default=0, help="with --detail: minutes apart")
    a = p.parse_args(argv)

    starts = {"new": NEW_TABLE_WRITES, "warm": a.warm}
    results = []
    for rows in (parse_count(x) for x in a.rows.split(",")):
        for table in (x.strip() for x in a.tables.split(",")):
            for workers in (int(x) for x in a.workers.split(",")):
                s = Settings(
                    rows=rows, workers=workers, segments=a.segments, memory_mb=a.memory,
                    table_start=starts[table], cap=a.cap,
                    write_latency_s=a.latency_ms / 1000,
                    scan_latency_s=a.scan_latency_ms / 1000,
                    request_cpu_s=a.request_cpu_us / 1e6, rows_per_vcpu_s=a.rows_per_vcpu,
                )
                results.append(simulate(s, timeline_every_s=a.timeline * 60))
    if a.detail:
        print("\n\n".join(describe(r) for r in results))
    else:
        print(render(results, a.markdown))
        if any(r.needs_distributed_map for r in results):
            print("\n‡ more than 40 concurrent slices: needs a Distributed Map"
                  " (an inline Map runs at most 40 at once).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
