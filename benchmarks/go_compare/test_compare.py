#!/usr/bin/env python3
"""Tests for compare.py: parsing, matching, medians, n/a handling, errors, and
(when `go` is installed) one very short real run of fiber_bench_test.go.

Run: python3 benchmarks/go_compare/test_compare.py
"""

import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
from contextlib import redirect_stderr, redirect_stdout

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import compare  # noqa: E402

OURS = os.path.join(HERE, "testdata", "ours_fake.json")
GO = os.path.join(HERE, "testdata", "go_fake.txt")


def run_main(argv):
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        rc = compare.main(argv)
    return rc, out.getvalue(), err.getvalue()


class ParseTest(unittest.TestCase):
    def test_gbench_name(self):
        self.assertEqual(compare.parse_gbench_name("BM_Yield_PingPong/fast/procs:2/real_time"),
                         ("BM_Yield_PingPong", ["fast"], {"procs": "2"}))
        self.assertEqual(compare.parse_gbench_name("BM_Mutex_Uncontended"),
                         ("BM_Mutex_Uncontended", [], {}))

    def test_gbench_units_and_iterations_only(self):
        with open(OURS) as f:
            samples, ctx = compare.load_gbench(f.read(), OURS)
        self.assertEqual(ctx["library_build_type"], "debug")
        # us converted to ns; the _median aggregate is not counted as a sample.
        self.assertEqual(sorted(samples["BM_Timer_AddCancel/procs:1"]), [70.0, 75.0, 80.0])

    def test_aggregates_only(self):
        doc = {"benchmarks": [{"name": "BM_Spawn_Join_median", "run_name": "BM_Spawn_Join",
                               "run_type": "aggregate", "aggregate_name": "median",
                               "real_time": 1.5, "time_unit": "us"}]}
        samples, _ = compare.load_gbench(json.dumps(doc), "x")
        self.assertEqual(samples, {"BM_Spawn_Join": [1500.0]})

    def test_ns_per_counter_wins(self):
        doc = {"benchmarks": [{"name": "BM_Yield_PingPong/fast", "run_type": "iteration",
                               "real_time": 100.0, "time_unit": "ns", "ns_per_switch": 50.0}]}
        samples, _ = compare.load_gbench(json.dumps(doc), "x")
        self.assertEqual(samples["BM_Yield_PingPong/fast"], [50.0])

    def test_go_output(self):
        with open(GO) as f:
            go = compare.load_go(f.read())
        self.assertEqual(go[("BenchmarkGoroutineSwitch/gosched", 1)], [60.0, 70.0, 65.0])
        self.assertEqual(go[("BenchmarkGoroutineSwitch/gosched", 2)], [50.0, 54.0, 52.0])
        self.assertNotIn(("BenchmarkPollerPipeRoundTrip", 1), go)

    def test_malformed(self):
        with self.assertRaisesRegex(compare.InputError, r"bad\.json: not valid JSON"):
            compare.load_gbench('{"benchmarks": [', "bad.json")
        with self.assertRaisesRegex(compare.InputError, "no top-level"):
            compare.load_gbench('{"foo": 1}', "odd.json")
        with self.assertRaisesRegex(compare.InputError, "unknown time_unit"):
            compare.load_gbench('{"benchmarks": [{"name": "a", "real_time": 1, '
                                '"time_unit": "fortnights"}]}', "u.json")


class MainTest(unittest.TestCase):
    def test_table_and_json(self):
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "go.json")
            rc, table, _ = run_main(["--ours", OURS, "--go-output", GO, "--out", out])
            self.assertEqual(rc, 0)
            with open(out) as f:
                result = json.load(f)
        self.assertIn("| benchmark | procs | ours (ns) | Go (ns) | ours/Go |", table)
        self.assertIn("DEBUG build", table)
        rows = {(r["label"], r["procs"]): r for r in result["rows"]}
        fast1 = rows[("switch: Yield ping-pong (fast) vs Gosched ping-pong", 1)]
        self.assertEqual((fast1["ours_ns"], fast1["go_ns"]), (30.0, 65.0))
        self.assertAlmostEqual(fast1["ratio"], 30.0 / 65.0)
        self.assertIn("| switch: Yield ping-pong (fast) vs Gosched ping-pong | 1 | 30.0 | 65.0 | 0.46x |",
                      table)
        # Round trip halved for the per-switch row.
        chan = rows[("switch: unbuffered channel round trip / 2 vs chan ping-pong", 1)]
        self.assertEqual(chan["ours_ns"], 77.5)
        # Missing on both sides -> n/a, not a crash.
        poll = rows[("poller wake round trip (Go: pipe via netpoller)", 1)]
        self.assertIsNone(poll["ours_ns"])
        self.assertIsNone(poll["ratio"])
        self.assertIn("| poller wake round trip (Go: pipe via netpoller) | 1 | n/a | n/a | n/a |",
                      table)
        # A benchmark without /procs:N is procs 1.
        self.assertEqual(rows[("mutex lock+unlock, uncontended", 1)]["ours_ns"], 8.0)

    def test_bad_input_exit_code(self):
        with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
            f.write("not json")
            f.flush()
            rc, _, err = run_main(["--ours", f.name, "--go-output", GO])
        self.assertEqual(rc, 2)
        self.assertIn("not valid JSON", err)


@unittest.skipUnless(shutil.which("go"), "go not installed")
class LiveGoTest(unittest.TestCase):
    def test_go_benchmarks_run_and_parse(self):
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "go.json")
            proc = subprocess.run(
                [sys.executable, os.path.join(HERE, "compare.py"), "--ours", OURS,
                 "--repetitions", "1", "--benchtime", "200x", "--out", out],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)
            self.assertEqual(proc.returncode, 0, proc.stdout.decode())
            with open(out) as f:
                result = json.load(f)
        go_names = {(r["go_benchmark"]) for r in result["rows"] if r["go_ns"] is not None}
        for name in ["BenchmarkGoroutineSwitch/gosched", "BenchmarkGoroutineSwitch/chan-2",
                     "BenchmarkSpawnJoin", "BenchmarkChanUnbufferedRoundTrip",
                     "BenchmarkChanBufferedRoundTrip-2", "BenchmarkMutexUncontended",
                     "BenchmarkMutexContended-2", "BenchmarkTimerAddCancel",
                     "BenchmarkPollerPipeRoundTrip"]:
            self.assertIn(name, go_names)
        self.assertTrue(all(r["go_ns"] > 0 for r in result["rows"] if r["go_ns"] is not None))


if __name__ == "__main__":
    unittest.main()
