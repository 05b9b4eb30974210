"""The model's behaviour (docs/scaling.md). From the repository root:

    .venv/bin/python -m unittest discover -s dev/scaling -v
"""

import dataclasses
import math
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import simulate as sim  # noqa: E402

WARM = sim.Settings(table_start=40_000)
NEW = sim.Settings(table_start=sim.NEW_TABLE_WRITES)
RECOMMENDED = dataclasses.replace(WARM, segments=32, workers=8)


def run(base: sim.Settings, **changes) -> sim.Result:
    return sim.simulate(dataclasses.replace(base, **changes))


class Workers(unittest.TestCase):
    def test_a_single_worker_has_no_headroom_over_a_warm_table(self):
        # One 1,024 MB worker (0.58 vCPU) is CPU-bound at ~41k rows/s: within 5% of the
        # table's 40k, so it cannot keep the table busy through any slowdown.
        capacity, limiter = sim.worker_pages_per_s(64, 0.0, WARM)
        self.assertEqual(limiter, "CPU")
        self.assertLess(capacity * WARM.page_items, 40_000 * 1.05)
        # With less CPU, or the template's current ScanSegments=4, it is the bound.
        for changes, limiter in (({"memory_mb": 512}, "CPU"), ({"segments": 4}, "in flight")):
            r = run(WARM, rows=10_000_000, workers=1, **changes)
            self.assertEqual(r.bound, f"workers ({limiter})", changes)
            self.assertGreater(r.worker_bound_share, 0.99)
            self.assertLess(r.peak_rate, 40_000 * 0.6)
            self.assertEqual(r.throttled, 0)

    def test_16_or_more_workers_write_100m_rows_within_the_hour_bound_by_the_table(self):
        for workers in (16, 32, 40, 64):
            r = run(WARM, rows=100_000_000, workers=workers)
            self.assertLessEqual(r.minutes, 60, workers)
            self.assertEqual(r.bound, "table", workers)
            # Only the cold start and the handovers between invocations leave the table
            # waiting on the workers.
            self.assertLess(r.worker_bound_share, 0.01, workers)
            self.assertAlmostEqual(r.peak_rate, 40_000, delta=1)
            self.assertGreater(r.table_use, 0.99, workers)

    def test_the_recommended_setting_stays_table_bound_at_slower_writes(self):
        r = run(RECOMMENDED)
        self.assertLessEqual(r.minutes, 60)
        self.assertEqual(r.bound, "table")
        self.assertLess(r.exhausted, 1e-3)
        self.assertLess(r.handed_back, 1e-6)
        # Half as many throttled requests as 64 segments, as fast.
        r64 = run(RECOMMENDED, segments=64, workers=16)
        self.assertLess(r.throttled, 0.6 * r64.throttled)
        self.assertAlmostEqual(r.minutes, r64.minutes, delta=0.2)
        slow = run(RECOMMENDED, write_latency_s=0.050)
        self.assertEqual(slow.bound, "table")
        self.assertLessEqual(slow.minutes, 60)

    def test_more_than_40_slices_needs_a_distributed_map(self):
        self.assertFalse(run(WARM, rows=1_000_000, workers=40).needs_distributed_map)
        self.assertTrue(run(WARM, rows=1_000_000, workers=64).needs_distributed_map)


class TheTable(unittest.TestCase):
    def test_a_new_table_is_slower_and_throttles_more_than_a_warm_one(self):
        for rows in (10_000_000, 100_000_000):
            new, warm = run(NEW, rows=rows), run(WARM, rows=rows)
            self.assertGreater(new.minutes, warm.minutes * 2, rows)
            self.assertGreater(new.throttled, warm.throttled, rows)
            self.assertGreater(new.exhausted, warm.exhausted, rows)
            self.assertGreater(new.handed_back, warm.handed_back, rows)
            self.assertLess(new.peak_rate, 40_000, rows)

    def test_an_on_demand_table_doubles_at_most_every_30_minutes(self):
        table = sim.Table(NEW)
        self.assertEqual(table.limit(0), 4_000)
        self.assertEqual(table.partitions, 4)
        table.served(1, 4_000)
        self.assertEqual(table.limit(1_800), 4_000)
        self.assertEqual(table.limit(1_802), 8_000)
        table.served(1_803, 8_000)
        self.assertEqual(table.limit(3_602), 8_000)
        self.assertEqual(table.limit(3_604), 16_000)
        self.assertEqual(table.partitions, 16)
        # Never past the table quota, however high the peak.
        table.served(3_605, 40_000)
        self.assertEqual(table.limit(10_000), 40_000)
        self.assertEqual(table.partitions, 40)

    def test_a_cap_is_never_exceeded(self):
        for base, cap in ((WARM, 20_000), (NEW, 6_000), (WARM, 40_000)):
            r = run(base, rows=10_000_000, workers=16, cap=cap)
            self.assertLessEqual(r.peak_rate, cap + 1e-6, (base.table_start, cap))
            self.assertLessEqual(r.max_served_over_limit, 1e-6)
            self.assertGreaterEqual(r.minutes, 10_000_000 / cap / 60)
        # A capped table still has the partitions it was warmed to: they never merge.
        self.assertEqual(run(WARM, rows=1_000_000, cap=20_000).partitions, 40)

    def test_reads_are_not_the_bound(self):
        # 40,000 rows/s is 40 pages/s of ~250 KB: 31 read units each (0.5 per 4 KB),
        # ~1,240 a second, a tenth of what even a new table serves (12,000).
        units = sim.read_units(dataclasses.replace(WARM, rows=40_000, segments=40))
        self.assertEqual(units, 40 * 31)
        self.assertLess(units, 12_000 / 5)


class Accounting(unittest.TestCase):
    def test_every_row_in_is_written(self):
        cases = (
            dict(rows=1_234_567, segments=7, workers=3),
            dict(rows=10_000_001, segments=64, workers=40),  # slices of 2 and of 1
            dict(rows=100_000_000, segments=64, workers=16, table_start=4_000),
            dict(rows=999, segments=64, workers=64),
        )
        for case in cases:
            r = run(WARM, **case)
            self.assertTrue(math.isclose(r.rows_written, case["rows"], rel_tol=1e-9), case)

    def test_the_bill(self):
        r = run(WARM, rows=100_000_000, workers=16)
        self.assertAlmostEqual(r.costs["writes"], 62.50)
        self.assertEqual(r.read_units, 3_100_000)
        self.assertAlmostEqual(r.costs["reads"], 0.3875)
        # 41.7 minutes: three invocations per slice, plus the planner and the summary.
        self.assertEqual(r.invocations, 16 * 3 + 2)
        # 1 Map + 16 x (3 x (Task + Choice) + Succeed) + the final Task: no Task retries.
        self.assertEqual(r.transitions, 1 + 16 * 7 + 1)
        self.assertAlmostEqual(r.gb_s, 16 * r.minutes * 60, delta=0.01 * r.gb_s)
        self.assertAlmostEqual(r.costs["lambda"], r.gb_s * 0.0000133334 + 50 * 0.2e-6)

    def test_throttling_slows_a_slice_and_fails_nothing(self):
        # 100 M rows on a new table: chunks run past their attempts every night, but each
        # only waits 20 s (or a few times 20 s) and is resent; no Task is retried.
        r = run(RECOMMENDED, table_start=sim.NEW_TABLE_WRITES)
        self.assertGreater(r.exhausted, 10)
        per_chunk = r.extra_wait_s / r.exhausted
        self.assertGreaterEqual(per_chunk, sim.BACKOFF_MAX_S)
        self.assertLess(per_chunk, 1.5 * sim.BACKOFF_MAX_S)
        # A page goes back only if its chunk is still refused at the stop time: under one
        # a night, a small share of the chunks past their attempts.
        self.assertGreater(r.handed_back, 0)
        self.assertLess(r.handed_back, 1)
        self.assertLess(r.handed_back, 0.05 * r.exhausted)
        self.assertLess(r.rewrite_cost, 0.01)
        # Transitions: Task and Choice per invocation, nothing for retries.
        per_slice = 8 * (2 * r.slice_invocations // 8 + 1)
        self.assertEqual(r.transitions, 1 + per_slice + 1)
        self.assertFalse(r.timed_out)
        # A run that is never throttled never waits.
        clean = run(RECOMMENDED, segments=4, workers=4)
        self.assertEqual((clean.exhausted, clean.extra_wait_s, clean.handed_back), (0, 0, 0))

    def test_a_night_times_out_after_12_hours(self):
        self.assertEqual(sim.NIGHT_TIMEOUT_S, 12 * 3600)
        slow = run(RECOMMENDED, cap=2_000)  # 100 M rows at 2,000 writes/s: ~14 hours
        self.assertTrue(slow.timed_out)
        self.assertFalse(run(RECOMMENDED).timed_out)

    def test_a_chunk_past_its_last_write(self):
        # One item left after the last write: a single 20 s wait (a 1-item call throttled
        # whole is retried by the SDK, never left unprocessed).
        self.assertEqual(sim._past_last_write(0.3, 1), (0.0, 0.0))
        left, waits = sim._past_last_write(0.3, 2)
        self.assertAlmostEqual(left, 0.42 / 0.91)
        self.assertAlmostEqual(waits, left)  # one item left: one wait
        left, waits = sim._past_last_write(0.3, 5)
        self.assertGreater(waits, left)  # more items left may need more than one
        # Never more waits than an invocation has room for.
        left, waits = sim._past_last_write(0.94, 25)
        self.assertLessEqual(waits, left * sim.MAX_LATE_RESENDS)

    def test_a_pages_writes(self):
        clean = sim.page_writes(0.0, WARM)
        self.assertAlmostEqual(clean.seconds, 10 * 0.015)  # 40 requests, 4 at a time
        self.assertEqual(
            (clean.requests, clean.throttled, clean.exhausted, clean.extra_s), (40, 0, 0, 0))
        previous = clean
        for q in (0.01, 0.05, 0.2, 0.5):
            pw = sim.page_writes(q, WARM)
            self.assertGreater(pw.seconds, previous.seconds, q)
            self.assertGreater(pw.throttled, previous.throttled, q)
            self.assertAlmostEqual(pw.requests - pw.throttled, 40, delta=0.5)
            self.assertGreater(pw.exhausted, previous.exhausted, q)
            # Each chunk past its attempts holds its slot for at least one 20 s wait.
            self.assertGreaterEqual(pw.extra_s, pw.exhausted * sim.BACKOFF_MAX_S * 0.999, q)
            self.assertGreater(pw.seconds, pw.extra_s, q)
            previous = pw


if __name__ == "__main__":
    unittest.main()
