#!/usr/bin/env python3
"""Puts the fiber runtime's benchmark figures next to Go's on the same machine.

Ours: Google Benchmark JSON from //benchmarks:fiber_benchmark, either a file
(--ours) or built and run here (--bazel). Go: `go test -bench` over
fiber_bench_test.go in this folder, run in the same invocation (or read from a
saved text output with --go-output). For each pair of matching benchmarks the
median over the repetitions is taken, and a markdown table
(benchmark | procs | ours (ns) | Go (ns) | ours/Go) is printed; --out writes
the same as JSON for benchmarks/dashboard. Any benchmark missing on either side
shows as n/a. Python 3 standard library only. See README.md.
"""

import argparse
import datetime
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(HERE))

SCHEMA = "gonet-go-compare/1"

# One row family per pair: (label, ours family, ours variant token or None,
# divisor applied to ours, Go benchmark name without the -N procs suffix).
# A Google Benchmark name is split on '/': the first part is the family, bare
# parts are variant tokens ("fast"), "key:value" parts are arguments ("procs:2").
PAIRS = [
    ("switch: Yield ping-pong (fast) vs Gosched ping-pong",
     "BM_Yield_PingPong", "fast", 1, "BenchmarkGoroutineSwitch/gosched"),
    ("switch: Yield ping-pong (ucontext) vs Gosched ping-pong",
     "BM_Yield_PingPong", "ucontext", 1, "BenchmarkGoroutineSwitch/gosched"),
    ("switch: unbuffered channel round trip / 2 vs chan ping-pong",
     "BM_Channel_Unbuffered_RoundTrip", None, 2, "BenchmarkGoroutineSwitch/chan"),
    ("spawn + join one fiber / goroutine",
     "BM_Spawn_Join", None, 1, "BenchmarkSpawnJoin"),
    ("unbuffered channel round trip",
     "BM_Channel_Unbuffered_RoundTrip", None, 1, "BenchmarkChanUnbufferedRoundTrip"),
    ("buffered channel round trip",
     "BM_Channel_Buffered_RoundTrip", None, 1, "BenchmarkChanBufferedRoundTrip"),
    ("mutex lock+unlock, uncontended",
     "BM_Mutex_Uncontended", None, 1, "BenchmarkMutexUncontended"),
    ("rwmutex rlock+runlock, uncontended",
     "BM_RWMutex_RLock_Uncontended", None, 1, "BenchmarkRWMutexRLock"),
    ("select, two cases (one ready)",
     "BM_Select_TwoCase", None, 1, "BenchmarkSelectTwoCase"),
    ("timer Reset + Stop",
     "BM_Timer_ResetStop", None, 1, "BenchmarkTimerResetStop"),
    ("context WithCancel + cancel (cancelable parent)",
     "BM_Context_WithCancel", None, 1, "BenchmarkContextWithCancel"),
    ("mutex lock+unlock, contended (handoff)",
     "BM_Mutex_Contended", None, 1, "BenchmarkMutexContended"),
    ("timer add + cancel",
     "BM_Timer_AddCancel", None, 1, "BenchmarkTimerAddCancel"),
    ("getppid direct (Go: syscall.RawSyscall)",
     "BM_Direct_Getppid", None, 1, "BenchmarkRawSyscallGetppid"),
    ("getppid in Blocking() (Go: syscall.Syscall, entersyscall/exitsyscall)",
     "BM_Blocking_Getppid", None, 1, "BenchmarkSyscallGetppid"),
    ("poller wake round trip (Go: pipe via netpoller)",
     "BM_Poller_WakeRoundTrip", None, 1, "BenchmarkPollerPipeRoundTrip"),
]

# Name parts that only say how time was measured; they do not tell variants apart.
TIMING_TOKENS = {"real_time", "process_time", "manual_time"}
UNIT_TO_NS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}
DEBUG_NOTE = ("Google Benchmark reports library_build_type=debug: Debian's libbenchmark "
              "is a DEBUG build. That only affects the library's own bookkeeping "
              "between timed regions; the code measured is built with -c opt.")


class InputError(Exception):
    """A malformed or unusable input; the message says which file and why."""


def parse_gbench_name(name):
    """'BM_X/fast/procs:2/real_time' -> ('BM_X', ['fast'], {'procs': '2'})."""
    parts = name.split("/")
    tokens, args = [], {}
    for p in parts[1:]:
        if p in TIMING_TOKENS or p == "":
            continue
        if ":" in p:
            k, v = p.split(":", 1)
            args[k] = v
        else:
            tokens.append(p)
    return parts[0], tokens, args


def entry_ns(entry, source):
    """One Google Benchmark entry's time in ns per iteration (real time).

    A user counter named ns_per_* (e.g. ns_per_switch) wins over real_time, so a
    benchmark whose iteration holds several operations can report per operation.
    """
    for k, v in entry.items():
        if k.startswith("ns_per_") and isinstance(v, (int, float)):
            return float(v)
    unit = entry.get("time_unit", "ns")
    if unit not in UNIT_TO_NS:
        raise InputError(f"{source}: benchmark {entry.get('name')!r} has unknown time_unit {unit!r}")
    t = entry.get("real_time")
    if not isinstance(t, (int, float)):
        raise InputError(f"{source}: benchmark {entry.get('name')!r} has no numeric real_time")
    return float(t) * UNIT_TO_NS[unit]


def load_gbench(text, source):
    """Parses Google Benchmark JSON into ({run_name: [ns samples]}, context)."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(f"{source}: not valid JSON ({e.msg} at line {e.lineno} column {e.colno})")
    if not isinstance(doc, dict) or not isinstance(doc.get("benchmarks"), list):
        raise InputError(f"{source}: not Google Benchmark JSON (no top-level \"benchmarks\" list)")
    samples, medians = {}, {}
    for entry in doc["benchmarks"]:
        if not isinstance(entry, dict) or "name" not in entry:
            raise InputError(f"{source}: a \"benchmarks\" entry is not an object with a name")
        if entry.get("error_occurred"):
            print(f"compare.py: {source}: {entry['name']} reported an error: "
                  f"{entry.get('error_message', '?')}; skipped", file=sys.stderr)
            continue
        run_name = entry.get("run_name", entry["name"])
        run_type = entry.get("run_type", "iteration")
        if run_type == "iteration":
            samples.setdefault(run_name, []).append(entry_ns(entry, source))
        elif run_type == "aggregate" and entry.get("aggregate_name") == "median":
            medians[run_name] = entry_ns(entry, source)
    # With --benchmark_report_aggregates_only only the aggregates are there.
    for run_name, ns in medians.items():
        samples.setdefault(run_name, [ns])
    return samples, doc.get("context", {})


GO_LINE = re.compile(r"^(Benchmark\S+?)(?:-(\d+))?\s+(\d+)\s+(.*)$")


def load_go(text):
    """Parses `go test -bench` output into {(name, procs): [ns/op samples]}.

    A name without a -N suffix ran with GOMAXPROCS=1 (Go adds the suffix only
    for other values). A custom ns/switch metric is not used: ns/op already is
    per switch in fiber_bench_test.go.
    """
    out = {}
    for line in text.splitlines():
        m = GO_LINE.match(line.strip())
        if not m:
            continue
        name, procs, rest = m.group(1), int(m.group(2) or 1), m.group(4).split()
        metrics = {rest[i + 1]: rest[i] for i in range(0, len(rest) - 1, 2)}
        if "ns/op" in metrics:
            out.setdefault((name, procs), []).append(float(metrics["ns/op"]))
    return out


def build_rows(ours, go):
    """Matches ours against Go per PAIRS and per procs; returns the row dicts."""
    rows = []
    parsed = {rn: parse_gbench_name(rn) for rn in ours}
    for label, family, variant, divisor, go_name in PAIRS:
        # (procs, extra args label) -> ours run_name
        matches = {}
        for rn, (fam, tokens, args) in parsed.items():
            if fam != family or (variant is not None and variant not in tokens):
                continue
            procs = int(args.get("procs", "1"))
            extra = [t for t in tokens if t != variant]
            extra += [f"{k}:{v}" for k, v in sorted(args.items()) if k != "procs"]
            matches[(procs, "/".join(extra))] = rn
        go_procs = {p for (n, p) in go if n == go_name}
        keys = set(matches) | {(p, "") for p in go_procs}
        if not keys:
            keys = {(1, "")}
        for procs, extra in sorted(keys):
            rn = matches.get((procs, extra))
            ours_samples = [s / divisor for s in ours[rn]] if rn else []
            go_samples = go.get((go_name, procs), [])
            ours_ns = statistics.median(ours_samples) if ours_samples else None
            go_ns = statistics.median(go_samples) if go_samples else None
            rows.append({
                "label": label + (f" [{extra}]" if extra else ""),
                "procs": procs,
                "ours_benchmark": rn,
                "ours_divisor": divisor,
                "go_benchmark": go_name + (f"-{procs}" if procs != 1 else ""),
                "ours_ns": ours_ns,
                "go_ns": go_ns,
                "ratio": (ours_ns / go_ns) if (ours_ns is not None and go_ns) else None,
                "ours_samples": ours_samples,
                "go_samples": go_samples,
            })
    return rows


def fmt_ns(v):
    if v is None:
        return "n/a"
    return f"{v:.1f}" if v >= 10 else f"{v:.2f}"


def markdown(result):
    lines = []
    notes = result["notes"]
    lines.append(f"Medians over repetitions (ours: {result['repetitions']['ours'] or '?'}, "
                 f"Go: {result['repetitions']['go'] or '?'}); {result['go_version'] or 'Go ?'}; "
                 f"ours/Go < 1 means ours is faster.")
    if result.get("gbench_library_build_type") == "debug":
        lines.append("")
        lines.append(f"Note: {DEBUG_NOTE}")
    lines.append("")
    lines.append("| benchmark | procs | ours (ns) | Go (ns) | ours/Go |")
    lines.append("|---|---:|---:|---:|---:|")
    for r in result["rows"]:
        ratio = f"{r['ratio']:.2f}x" if r["ratio"] is not None else "n/a"
        lines.append(f"| {r['label']} | {r['procs']} | {fmt_ns(r['ours_ns'])} | "
                     f"{fmt_ns(r['go_ns'])} | {ratio} |")
    for n in notes:
        if n != DEBUG_NOTE:
            lines.append("")
            lines.append(f"Note: {n}")
    return "\n".join(lines) + "\n"


def run_bazel(args):
    """Builds and runs //benchmarks:fiber_benchmark; returns its JSON text."""
    fd, out_path = tempfile.mkstemp(prefix="fiber_benchmark_", suffix=".json")
    os.close(fd)
    cmd = ["./bazelw"]
    if args.bazel_output_base:
        cmd.append(f"--output_base={args.bazel_output_base}")
    cmd += ["run", "-c", "opt", "--jobs=2", args.bazel_target, "--",
            "--benchmark_format=json", f"--benchmark_repetitions={args.repetitions}",
            f"--benchmark_out={out_path}", "--benchmark_out_format=json"]
    if args.benchmark_filter:
        cmd.append(f"--benchmark_filter={args.benchmark_filter}")
    print("compare.py: running " + " ".join(cmd), file=sys.stderr)
    proc = subprocess.run(cmd, cwd=REPO_ROOT, stdout=subprocess.PIPE)
    try:
        if proc.returncode != 0:
            raise InputError(f"bazel run {args.bazel_target} exited with {proc.returncode}")
        with open(out_path) as f:
            text = f.read()
        return text if text.strip() else proc.stdout.decode()
    finally:
        os.unlink(out_path)


def run_go(args):
    """Runs the Go benchmarks in this folder; returns (output text, go version)."""
    cmd = ["go", "test", "-run", "^$", "-bench", args.go_bench, "-count", str(args.repetitions),
           "-benchtime", args.benchtime, "-cpu", args.procs, "."]
    print("compare.py: running " + " ".join(cmd) + f" (in {HERE})", file=sys.stderr)
    env = dict(os.environ, GOFLAGS="-mod=mod", GO111MODULE="on")
    env.pop("GOMAXPROCS", None)  # -cpu decides it
    proc = subprocess.run(cmd, cwd=HERE, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT)
    text = proc.stdout.decode()
    if proc.returncode != 0:
        raise InputError(f"go test -bench failed (exit {proc.returncode}):\n{text}")
    return text


def go_version():
    try:
        return subprocess.run(["go", "version"], stdout=subprocess.PIPE,
                              check=True).stdout.decode().strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--ours", metavar="FILE", help="Google Benchmark JSON of fiber_benchmark")
    src.add_argument("--bazel", action="store_true",
                     help="build and run //benchmarks:fiber_benchmark with ./bazelw (-c opt)")
    p.add_argument("--go-output", metavar="FILE",
                   help="saved `go test -bench` output to use instead of running Go")
    p.add_argument("--save-go-output", metavar="FILE", help="write the raw Go output here")
    p.add_argument("--repetitions", "-n", type=int, default=5,
                   help="repetitions on both sides (default 5)")
    p.add_argument("--benchtime", default="200ms", help="go test -benchtime (default 200ms)")
    p.add_argument("--procs", default="1,2", help="GOMAXPROCS values, go test -cpu (default 1,2)")
    p.add_argument("--go-bench", default=".", help="go test -bench regexp (default .)")
    p.add_argument("--bazel-target", default="//benchmarks:fiber_benchmark")
    p.add_argument("--bazel-output-base", metavar="DIR", help="Bazel --output_base startup option")
    p.add_argument("--benchmark-filter", help="--benchmark_filter for fiber_benchmark")
    p.add_argument("--out", metavar="FILE", help="write the result as JSON (for the dashboard)")
    p.add_argument("--markdown", metavar="FILE", help="also write the table to this file")
    args = p.parse_args(argv)

    try:
        if args.bazel:
            ours_text, ours_source = run_bazel(args), args.bazel_target
        else:
            ours_source = args.ours
            try:
                with open(args.ours) as f:
                    ours_text = f.read()
            except OSError as e:
                raise InputError(f"{args.ours}: cannot read ({e.strerror})")
        ours, context = load_gbench(ours_text, ours_source)

        if args.go_output:
            try:
                with open(args.go_output) as f:
                    go_text = f.read()
            except OSError as e:
                raise InputError(f"{args.go_output}: cannot read ({e.strerror})")
        else:
            go_text = run_go(args)
        if args.save_go_output:
            with open(args.save_go_output, "w") as f:
                f.write(go_text)
        go = load_go(go_text)
        if not go:
            print("compare.py: no Go benchmark results found; Go column is n/a", file=sys.stderr)
    except InputError as e:
        print(f"compare.py: error: {e}", file=sys.stderr)
        return 2

    notes = []
    build_type = context.get("library_build_type")
    if build_type == "debug":
        notes.append(DEBUG_NOTE)
    notes.append("Our benchmarks without a /procs:N argument are compared with GOMAXPROCS=1.")
    notes.append("The poller row's Go side includes 4 pipe syscalls per round trip; "
                 "see README.md.")
    ours_reps = max((len(v) for v in ours.values()), default=0)
    go_reps = max((len(v) for v in go.values()), default=0)
    m = re.search(r"go\d+(\.\d+)*", go_text)
    result = {
        "schema": SCHEMA,
        "generated_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "ours_source": ours_source,
        "go_source": args.go_output or "go test -bench (this run)",
        "go_version": (go_version() if not args.go_output else (m.group(0) if m else None)),
        "repetitions": {"ours": ours_reps, "go": go_reps},
        "gbench_library_build_type": build_type,
        "gbench_context": {k: context.get(k) for k in ("date", "host_name", "num_cpus",
                                                        "mhz_per_cpu", "library_build_type")},
        "notes": notes,
        "rows": build_rows(ours, go),
    }
    table = markdown(result)
    sys.stdout.write(table)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(table)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=1)
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
