#!/usr/bin/env python3
"""Echo comparison: gonet vs Go net vs Asio coroutines vs raw epoll.

Builds every server and the neutral load generator (or takes them prebuilt),
runs the configurations in interleaved rounds (A B C D, A B C D, ...) with the
server and the load generator pinned to disjoint cores, and reports medians,
ratios to Go and to raw epoll, server CPU time per round trip and server RSS per
idle connection, as JSON (--out) and a markdown table (stdout and --md).

Two-core mode (default): server on core 0 with one worker (GOMAXPROCS=1,
--procs=1, --threads=1), load generator single-threaded on core 1.
Many-core mode (--many-core): servers get procs = cores/2 on the first half of
the cores, the load generator cores/2 threads on the second half.

Server CPU per round trip = busy jiffies of the server's cores (/proc/stat,
read by the load generator at the edges of the timed window) / round trips.
On a shared machine other processes may run on those cores too, so the server
process's own utime+stime per round trip is reported beside it.

--network unix runs everything over Unix stream sockets instead of loopback TCP:
each server run listens on --addr=unix:/tmp/echo-XXXX/s (a fresh directory under
/tmp, since a socket path must fit in 108 bytes; removed after the run).

Python 3 standard library only. Typical use:
  benchmarks/echo/run.py --rounds 3 --duration 3 --out /tmp/echo.json --md /tmp/echo.md
  benchmarks/echo/run.py --network unix --rounds 1 --duration 3
  benchmarks/echo/run.py --prebuilt DIR --many-core     # on a machine without toolchains
Environment: GONET_SERVER=path (or --gonet_server) names the gonet echo server
binary (flags --addr, --procs); without it run.py tries to build
//examples:echo_server and skips gonet, saying so, if that fails.
"""

import argparse
import datetime
import json
import os
import platform
import resource
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

# name -> (mode, conns, size, inflight)
CONFIGS = {
    "pingpong_1c_64b": ("pingpong", 1, 64, 1),
    "pingpong_64c_64b": ("pingpong", 64, 64, 1),
    "pingpong_1000c_512b": ("pingpong", 1000, 512, 1),
    "streaming_4c_512b": ("streaming", 4, 512, 1024),
}
SERVERS = ["gonet", "go", "asio", "epoll"]  # interleaving order A B C D
BINARY = {"gonet": "echo_server", "go": "go_server", "asio": "asio_server",
          "epoll": "epoll_server"}


def copy_exe(src, dst):
    if os.path.exists(dst):
        os.remove(dst)  # Bazel outputs are read-only; a reused --workdir holds old copies
    shutil.copyfile(src, dst)
    os.chmod(dst, 0o755)


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def die(msg):
    log("run.py: ERROR: " + msg)
    sys.exit(1)


# ------------------------------------------------------------------ build

def build(args, bindir):
    """Builds (or copies prebuilt) binaries into bindir; returns {server: path}."""
    found = {}
    if args.prebuilt:
        src = os.path.abspath(args.prebuilt)
        for name in ["loadgen"] + [BINARY[s] for s in SERVERS]:
            p = os.path.join(src, name)
            if os.access(p, os.X_OK):
                found[name] = p
        if "loadgen" not in found:
            die("--prebuilt %s has no loadgen binary" % src)
    else:
        bazel = [os.path.join(REPO, "bazelw"), "--output_base=" + args.output_base]
        flags = ["--symlink_prefix=/", "--jobs=%d" % args.jobs]
        targets = ["//benchmarks/echo:loadgen", "//benchmarks/echo:epoll_server",
                   "//benchmarks/echo:asio_server"]
        log("run.py: building %s" % " ".join(targets))
        r = subprocess.run(bazel + ["build"] + flags + targets, cwd=REPO)
        if r.returncode != 0:
            die("bazel build failed")
        bin_root = subprocess.run(bazel + ["info", "bazel-bin"], cwd=REPO, check=True,
                                  capture_output=True, text=True).stdout.strip()
        for name in ["loadgen", "epoll_server", "asio_server"]:
            dst = os.path.join(bindir, name)
            copy_exe(os.path.join(bin_root, "benchmarks/echo", name), dst)
            found[name] = dst
        # Go's net, static.
        go = shutil.which("go")
        if go:
            dst = os.path.join(bindir, "go_server")
            env = dict(os.environ, CGO_ENABLED="0", GOFLAGS="-mod=mod", GOPROXY="off")
            r = subprocess.run([go, "build", "-o", dst, "."], cwd=os.path.join(HERE, "go_server"),
                               env=env)
            if r.returncode == 0:
                found["go_server"] = dst
            else:
                log("run.py: SKIP go: go build failed")
        else:
            log("run.py: SKIP go: no Go toolchain on PATH")
        # gonet, unless named explicitly.
        if not args.gonet_server and "gonet" in args.servers:
            log("run.py: building //examples:echo_server (gonet)")
            r = subprocess.run(bazel + ["build"] + flags + ["//examples:echo_server"], cwd=REPO)
            p = os.path.join(bin_root, "examples", "echo_server")
            if r.returncode == 0 and os.access(p, os.X_OK):
                dst = os.path.join(bindir, "echo_server")
                copy_exe(p, dst)
                found["echo_server"] = dst
            else:
                log("run.py: //examples:echo_server did not build (see above)")
    if args.gonet_server:
        if os.access(args.gonet_server, os.X_OK):
            found["echo_server"] = os.path.abspath(args.gonet_server)
        else:
            log("run.py: SKIP gonet: GONET_SERVER=%s is not an executable" % args.gonet_server)
    servers = {}
    for s in args.servers:
        if BINARY[s] in found:
            servers[s] = found[BINARY[s]]
        else:
            log("run.py: SKIP %s: no %s binary (%s)" % (
                s, BINARY[s], "set GONET_SERVER=path or --gonet_server" if s == "gonet"
                else "not built"))
    return found["loadgen"], servers


# ------------------------------------------------------------------ processes

def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_command(server, path, addr, procs):
    if server == "go":
        return [path, "-addr=" + addr, "-procs=%d" % procs]
    if server == "gonet":
        return [path, "--addr=" + addr, "--procs=%d" % procs]
    return [path, "--addr=" + addr, "--threads=%d" % procs]


class Server:
    def __init__(self, server, path, cpus, procs, logdir, tag, network="tcp"):
        self.sock_dir = None
        if network == "unix":
            # Every server takes --addr=unix:PATH; the path must not exist yet.
            self.sock_dir = tempfile.mkdtemp(prefix="echo-", dir="/tmp")
            self.addr = "unix:" + os.path.join(self.sock_dir, "s")
        else:
            self.addr = "127.0.0.1:%d" % free_port()
        env = dict(os.environ, GOMAXPROCS=str(procs))
        self.err_path = os.path.join(logdir, tag + ".server.err")
        self.err = open(self.err_path, "w")
        cmd = ["taskset", "-c", cpus] + server_command(server, path, self.addr, procs)
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.err, env=env,
                                     preexec_fn=raise_nofile)
        self.pid = self.proc.pid  # taskset execs the server: same pid
        deadline = time.time() + 15
        line = b""
        while time.time() < deadline:
            r, _, _ = select.select([self.proc.stdout], [], [], 0.1)
            if r:
                chunk = os.read(self.proc.stdout.fileno(), 4096)
                if not chunk:
                    break
                line += chunk
                if b"listening on" in line:
                    return
            if self.proc.poll() is not None:
                break
        self.stop()
        raise RuntimeError("%s did not print 'listening on' (see %s): %r" % (
            server, self.err_path, line[:200]))

    def rss_kb(self):
        with open("/proc/%d/status" % self.pid) as f:
            for l in f:
                if l.startswith("VmRSS:"):
                    return int(l.split()[1])
        raise RuntimeError("no VmRSS for pid %d" % self.pid)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(3)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.err.close()
        if self.sock_dir:  # gonet and Go unlink the socket on Close; epoll and Asio do not
            shutil.rmtree(self.sock_dir, ignore_errors=True)


def run_one(args, layout, loadgen, server, path, cfg_name, logdir, tag):
    mode, conns, size, inflight = CONFIGS[cfg_name]
    srv = Server(server, path, layout["server_cpus"], layout["procs"], logdir, tag, args.network)
    try:
        out = os.path.join(logdir, tag + ".json")
        threads = max(1, min(layout["loadgen_threads"], conns))
        cmd = ["taskset", "-c", layout["loadgen_cpus"], loadgen, "--addr=" + srv.addr,
               "--mode=" + mode, "--conns=%d" % conns, "--size=%d" % size,
               "--inflight=%d" % inflight, "--threads=%d" % threads,
               "--warmup_s=%g" % args.warmup, "--duration_s=%g" % args.duration,
               "--json=" + out, "--stat_cpus=" + layout["server_cpus"],
               "--server_pid=%d" % srv.pid]
        with open(os.path.join(logdir, tag + ".loadgen.err"), "w") as err:
            r = subprocess.run(cmd, stderr=err, stdout=subprocess.DEVNULL,
                               timeout=args.warmup + args.duration + 60, preexec_fn=raise_nofile)
        if r.returncode != 0:
            with open(os.path.join(logdir, tag + ".loadgen.err")) as f:
                msg = [l for l in f.read().splitlines() if "FAIL" in l]
            return {"ok": False, "error": (msg[-1] if msg else "loadgen exit %d" % r.returncode)}
        if srv.proc.poll() is not None:
            return {"ok": False, "error": "server exited during the run"}
        with open(out) as f:
            j = json.load(f)
    finally:
        srv.stop()
    ns_per_tick = 1e9 / j["clk_tck"]
    rts = j["round_trips"]
    res = {
        "ok": True,
        "round_trips_per_s": j["round_trips_per_s"],
        "p50_us": j["latency_ns"]["p50"] / 1e3,
        "p99_us": j["latency_ns"]["p99"] / 1e3,
        "p999_us": j["latency_ns"]["p999"] / 1e3,
        "server_core_cpu_ns_per_rt": j["stat_cpus"]["busy_jiffies"] * ns_per_tick / rts,
        "server_core_busy_frac": j["stat_cpus"]["busy_jiffies"] / max(1, j["stat_cpus"]["total_jiffies"]),
        "server_proc_cpu_ns_per_rt": (j["server_proc"]["cpu_ticks"] * ns_per_tick / rts
                                      if j["server_proc"]["cpu_ticks"] >= 0 else None),
        "raw": j,
    }
    return res


def measure_rss(args, layout, loadgen, server, path, logdir, tag):
    srv = Server(server, path, layout["server_cpus"], layout["procs"], logdir, tag, args.network)
    lg = None
    try:
        time.sleep(0.2)
        before = srv.rss_kb()
        threads = max(1, layout["loadgen_threads"])
        cmd = ["taskset", "-c", layout["loadgen_cpus"], loadgen, "--addr=" + srv.addr, "--idle",
               "--conns=%d" % args.rss_conns, "--size=64", "--threads=%d" % threads,
               "--connect_timeout_s=60", "--stall_s=30"]
        errf = open(os.path.join(logdir, tag + ".loadgen.err"), "w")
        lg = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errf,
                              preexec_fn=raise_nofile)
        deadline = time.time() + 90
        buf = b""
        while b"connections ready" not in buf:
            if time.time() > deadline or lg.poll() is not None:
                raise RuntimeError("idle loadgen did not get ready (see %s.loadgen.err)" % tag)
            r, _, _ = select.select([lg.stdout], [], [], 0.1)
            if r:
                buf += os.read(lg.stdout.fileno(), 4096)
        time.sleep(0.5)
        after = srv.rss_kb()
        return {"ok": True, "conns": args.rss_conns, "rss_before_kb": before,
                "rss_after_kb": after,
                "bytes_per_conn": (after - before) * 1024.0 / args.rss_conns}
    except (RuntimeError, OSError) as e:
        return {"ok": False, "error": str(e)}
    finally:
        if lg is not None:
            lg.stdin.close()
            try:
                lg.wait(10)
            except subprocess.TimeoutExpired:
                lg.kill()
                lg.wait()
        srv.stop()


# ------------------------------------------------------------------ report

METRICS = ["round_trips_per_s", "p50_us", "p99_us", "p999_us", "server_core_cpu_ns_per_rt",
           "server_proc_cpu_ns_per_rt", "server_core_busy_frac"]


def summarize(runs, servers):
    summary = {}
    for cfg, per_server in runs.items():
        summary[cfg] = {}
        for s in servers:
            ok = [r for r in per_server.get(s, []) if r["ok"]]
            fails = [r["error"] for r in per_server.get(s, []) if not r["ok"]]
            entry = {"runs": len(ok), "failures": fails}
            for m in METRICS:
                vals = [r[m] for r in ok if r.get(m) is not None]
                entry[m] = statistics.median(vals) if vals else None
                if m == "round_trips_per_s" and vals:
                    entry["round_trips_per_s_min"] = min(vals)
                    entry["round_trips_per_s_max"] = max(vals)
            summary[cfg][s] = entry
        for base in ("go", "epoll"):
            b = summary[cfg].get(base)
            for s in servers:
                e = summary[cfg][s]
                for m in ("round_trips_per_s", "p99_us", "server_core_cpu_ns_per_rt",
                          "server_proc_cpu_ns_per_rt"):
                    key = "%s_vs_%s" % (m, base)
                    e[key] = (e[m] / b[m] if b and e.get(m) and b.get(m) else None)
    return summary


def summarize_rss(rss, servers):
    out = {}
    for s in servers:
        ok = [r for r in rss.get(s, []) if r["ok"]]
        out[s] = {"runs": len(ok), "failures": [r["error"] for r in rss.get(s, []) if not r["ok"]],
                  "bytes_per_conn": statistics.median([r["bytes_per_conn"] for r in ok]) if ok else None,
                  "rss_before_kb": statistics.median([r["rss_before_kb"] for r in ok]) if ok else None,
                  "rss_after_kb": statistics.median([r["rss_after_kb"] for r in ok]) if ok else None}
    for base in ("go", "epoll"):
        for s in servers:
            b = out.get(base, {}).get("bytes_per_conn")
            v = out[s]["bytes_per_conn"]
            out[s]["bytes_per_conn_vs_" + base] = v / b if v is not None and b else None
    return out


def fmt(v, spec="%.0f"):
    return "–" if v is None else spec % v


def ratio(v):
    return "–" if v is None else "%.2f" % v


def markdown(meta, summary, rss, servers):
    L = []
    network = meta.get("network", "tcp")
    L.append("## Echo comparison over %s (%s)" % (
        "Unix stream sockets" if network == "unix" else "loopback TCP", meta["layout_desc"]))
    L.append("")
    L.append("Machine: %s, %d CPUs, kernel %s. %d rounds interleaved (%s), %g s warm-up + %g s "
             "timed window each. Medians over rounds; ×Go / ×epoll are ratios of medians "
             "(round trips/s: higher is better; p99 and CPU: lower is better). CPU ns/rt "
             "(core) = busy time of the server's cores from /proc/stat over the window ÷ round "
             "trips; (proc) = the server process's utime+stime ÷ round trips (counts only the "
             "server: prefer it when other processes share the server's cores)." % (
                 meta["cpu_model"], meta["cpus"], meta["kernel"], meta["rounds"],
                 " ".join(servers), meta["warmup_s"], meta["duration_s"]))
    L.append("")
    for cfg, per in summary.items():
        mode, conns, size, inflight = CONFIGS[cfg]
        L.append("### %s: %s, %d conn%s, %d B%s" % (
            cfg, mode, conns, "s" if conns > 1 else "", size,
            ", up to %d in flight per conn" % inflight if mode == "streaming" else ""))
        L.append("")
        L.append("| server | rt/s | (min–max) | ×Go | ×epoll | p50 µs | p99 µs | ×Go | ×epoll | "
                 "p999 µs | CPU ns/rt (core) | ×Go | ×epoll | CPU ns/rt (proc) | ×Go | ×epoll | "
                 "core busy |")
        L.append("|---|" + "---:|" * 16)
        for s in servers:
            e = per[s]
            if not e["runs"]:
                L.append("| %s | failed: %s |" % (s, "; ".join(e["failures"])[:200]))
                continue
            L.append("| %s | %s | %s–%s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | "
                     "%s | %s | %s |" % (
                         s, fmt(e["round_trips_per_s"]), fmt(e["round_trips_per_s_min"]),
                         fmt(e["round_trips_per_s_max"]),
                         ratio(e["round_trips_per_s_vs_go"]), ratio(e["round_trips_per_s_vs_epoll"]),
                         fmt(e["p50_us"], "%.1f"), fmt(e["p99_us"], "%.1f"),
                         ratio(e["p99_us_vs_go"]), ratio(e["p99_us_vs_epoll"]),
                         fmt(e["p999_us"], "%.1f"), fmt(e["server_core_cpu_ns_per_rt"]),
                         ratio(e["server_core_cpu_ns_per_rt_vs_go"]),
                         ratio(e["server_core_cpu_ns_per_rt_vs_epoll"]),
                         fmt(e["server_proc_cpu_ns_per_rt"]),
                         ratio(e["server_proc_cpu_ns_per_rt_vs_go"]),
                         ratio(e["server_proc_cpu_ns_per_rt_vs_epoll"]),
                         fmt(e["server_core_busy_frac"] * 100 if e["server_core_busy_frac"] is not None else None, "%.0f%%")))
            if e["failures"]:
                L.append("| %s (failed runs) | %s |" % (s, "; ".join(e["failures"])[:200]))
        L.append("")
    if rss:
        L.append("### Server RSS per idle connection (%d idle connections, one 64 B echo each)"
                 % meta["rss_conns"])
        L.append("")
        L.append("| server | RSS before KiB | RSS after KiB | bytes/conn | ×Go | ×epoll |")
        L.append("|---|---:|---:|---:|---:|---:|")
        for s in servers:
            e = rss[s]
            if not e["runs"]:
                L.append("| %s | failed: %s |" % (s, "; ".join(e["failures"])[:200]))
                continue
            L.append("| %s | %s | %s | %s | %s | %s |" % (
                s, fmt(e["rss_before_kb"]), fmt(e["rss_after_kb"]), fmt(e["bytes_per_conn"]),
                ratio(e["bytes_per_conn_vs_go"]), ratio(e["bytes_per_conn_vs_epoll"])))
        L.append("")
    return "\n".join(L) + "\n"


# ------------------------------------------------------------------ main

def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for l in f:
                if l.startswith("model name"):
                    return l.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--duration", type=float, default=5.0, help="timed window, seconds")
    p.add_argument("--warmup", type=float, default=1.0)
    p.add_argument("--configs", default=",".join(CONFIGS), help="comma list of " + ",".join(CONFIGS))
    p.add_argument("--servers", default=",".join(SERVERS), help="comma list of " + ",".join(SERVERS))
    p.add_argument("--many-core", action="store_true",
                   help="servers with procs=cores/2 on the first half, loadgen on the second")
    p.add_argument("--quick", action="store_true", help="tiny run (CI smoke)")
    p.add_argument("--network", choices=["tcp", "unix"], default="tcp",
                   help="loopback TCP (default) or Unix stream sockets under /tmp")
    p.add_argument("--prebuilt", help="take binaries from DIR instead of building")
    p.add_argument("--gonet_server", default=os.environ.get("GONET_SERVER"),
                   help="gonet echo server binary (default $GONET_SERVER)")
    p.add_argument("--output_base", default=os.environ.get(
        "ECHO_BAZEL_OUTPUT_BASE", os.path.expanduser("~/.cache/bazel_echo")))
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--rss_conns", type=int, default=10000)
    p.add_argument("--rss_rounds", type=int, default=1)
    p.add_argument("--no_rss", action="store_true")
    p.add_argument("--workdir", help="where binaries and logs go (default: a temp dir)")
    p.add_argument("--out", help="results JSON path")
    p.add_argument("--md", help="markdown table path")
    p.add_argument("--render", metavar="RESULTS_JSON",
                   help="only re-render the markdown of an earlier --out file")
    args = p.parse_args()

    if args.render:
        with open(args.render) as f:
            res = json.load(f)
        servers = res["meta"]["servers"]
        md = markdown(res["meta"], summarize(res["runs"], servers),
                      summarize_rss(res["rss_runs"], servers) if res["rss"] else {}, servers)
        if args.md:
            with open(args.md, "w") as f:
                f.write(md)
        sys.stdout.write(md)
        return

    args.configs = [c for c in args.configs.split(",") if c]
    args.servers = [s for s in args.servers.split(",") if s]
    for c in args.configs:
        if c not in CONFIGS:
            die("unknown config %s (have %s)" % (c, ", ".join(CONFIGS)))
    for s in args.servers:
        if s not in SERVERS:
            die("unknown server %s (have %s)" % (s, ", ".join(SERVERS)))
    if args.quick:
        args.rounds, args.duration, args.warmup = 1, 0.5, 0.2
        args.rss_conns = min(args.rss_conns, 500)
    if args.rounds < 1:
        die("--rounds must be >= 1")
    if not shutil.which("taskset"):
        die("taskset not found (util-linux)")

    ncpu = len(os.sched_getaffinity(0))
    cpus = sorted(os.sched_getaffinity(0))
    if args.many_core:
        if ncpu < 4:
            die("--many-core needs at least 4 CPUs, have %d" % ncpu)
        half = ncpu // 2
        layout = {"server_cpus": ",".join(map(str, cpus[:half])),
                  "loadgen_cpus": ",".join(map(str, cpus[half:2 * half])),
                  "procs": half, "loadgen_threads": half}
        layout["layout_desc"] = "many-core: server procs=%d on CPUs %s, loadgen %d threads on %s" % (
            half, layout["server_cpus"], half, layout["loadgen_cpus"])
    else:
        if ncpu < 2:
            die("need at least 2 CPUs")
        layout = {"server_cpus": str(cpus[0]), "loadgen_cpus": str(cpus[1]), "procs": 1,
                  "loadgen_threads": 1}
        layout["layout_desc"] = "two-core: server procs=1 on CPU %s, loadgen on CPU %s" % (
            cpus[0], cpus[1])

    workdir = args.workdir or tempfile.mkdtemp(prefix="echo_bench_")
    bindir = os.path.join(workdir, "bin")
    logdir = os.path.join(workdir, "logs")
    os.makedirs(bindir, exist_ok=True)
    os.makedirs(logdir, exist_ok=True)
    loadgen, servers = build(args, bindir)
    order = [s for s in SERVERS if s in servers]
    if not order:
        die("no server to run")
    log("run.py: servers %s; configs %s; network %s; %s; logs in %s" % (
        " ".join(order), " ".join(args.configs), args.network, layout["layout_desc"], logdir))
    raise_nofile()

    runs = {c: {s: [] for s in order} for c in args.configs}
    rss = {s: [] for s in order}
    t_start = time.time()
    for rnd in range(args.rounds):
        for cfg in args.configs:
            for s in order:
                tag = "r%d.%s.%s" % (rnd, cfg, s)
                try:
                    res = run_one(args, layout, loadgen, s, servers[s], cfg, logdir, tag)
                except (RuntimeError, OSError, subprocess.TimeoutExpired) as e:
                    res = {"ok": False, "error": str(e)}
                res["round"] = rnd
                runs[cfg][s].append(res)
                if res["ok"]:
                    log("run.py: round %d %-20s %-6s %10.0f rt/s  p99 %8.1f us  core %6.0f ns/rt  "
                        "proc %s ns/rt" % (rnd, cfg, s, res["round_trips_per_s"], res["p99_us"],
                                           res["server_core_cpu_ns_per_rt"],
                                           fmt(res["server_proc_cpu_ns_per_rt"])))
                else:
                    log("run.py: round %d %-20s %-6s FAILED: %s" % (rnd, cfg, s, res["error"]))
        if not args.no_rss and rnd < args.rss_rounds:
            for s in order:
                r = measure_rss(args, layout, loadgen, s, servers[s], logdir, "r%d.rss.%s" % (rnd, s))
                rss[s].append(r)
                if r["ok"]:
                    log("run.py: round %d rss %-6s %d conns: %.0f -> %.0f KiB, %.0f bytes/conn" % (
                        rnd, s, r["conns"], r["rss_before_kb"], r["rss_after_kb"],
                        r["bytes_per_conn"]))
                else:
                    log("run.py: round %d rss %-6s FAILED: %s" % (rnd, s, r["error"]))

    summary = summarize(runs, order)
    rss_summary = summarize_rss(rss, order) if not args.no_rss else {}
    meta = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        "host": platform.node(), "cpu_model": cpu_model(), "cpus": ncpu,
        "kernel": platform.release(), "network": args.network, "rounds": args.rounds, "warmup_s": args.warmup,
        "duration_s": args.duration, "servers": order, "configs": args.configs,
        "rss_conns": args.rss_conns, "wall_s": time.time() - t_start,
        "binaries": {s: servers[s] for s in order}, "loadgen": loadgen, **layout,
        "server_notes": {
            "gonet": "//examples:echo_server: one fiber per connection",
            "go": "go_server/main.go: one goroutine per connection, 4 KiB Read buffer, "
                  "CGO_ENABLED=0, GOMAXPROCS=procs",
            "asio": "asio_server.cc: one C++20 coroutine per connection, 4 KiB buffer, "
                    "io_context run by procs threads",
            "epoll": "epoll_server.cc: edge-triggered epoll, procs threads with SO_REUSEPORT, "
                     "one 4 KiB read buffer per thread",
        },
    }
    result = {"meta": meta, "summary": summary, "rss": rss_summary, "runs": runs,
              "rss_runs": rss}
    md = markdown(meta, summary, rss_summary, order)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=2)
    if args.md:
        with open(args.md, "w") as f:
            f.write(md)
    sys.stdout.write(md)
    failures = sum(1 for r in runs.values() for lst in r.values() for x in lst if not x["ok"])
    failures += sum(1 for lst in rss.values() for x in lst if not x["ok"])
    if failures:
        log("run.py: %d run(s) failed; see the table and %s" % (failures, logdir))
        sys.exit(1)


if __name__ == "__main__":
    main()
