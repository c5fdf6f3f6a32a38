#!/usr/bin/env node
// build.mjs: turns gonet's benchmark JSON into one self-contained HTML page.
//
//   node benchmarks/dashboard/build.mjs --gbench a.json [--gbench b.json] \
//       --echo echo.json --gocompare go.json \
//       --history benchmarks/dashboard/history.json --commit <sha> --out dashboard.html
//
// Inputs (every one optional; a missing flag or file shows "no data" on the page):
//   --gbench FILE     Google Benchmark JSON (--benchmark_format=json or
//                     --benchmark_out). Repeatable. Each family is charted against
//                     its baseline (BM_Thread_X / BM_X_Baseline, or an instance of
//                     the family whose variant part is "baseline"/"thread"...).
//   --echo FILE       echo benchmark results (benchmarks/echo/run.py --out, or the
//                     simpler shapes normalizeEcho() lists).
//   --gocompare FILE  JSON written by benchmarks/go_compare/compare.py --out.
//   --history FILE    history across commits; this run's key figures are appended
//                     (an entry with the same commit as the last one replaces it).
//                     Created if missing. --no-append reads it without writing.
// Output: --out FILE (default dashboard.html): Chart.js (UMD build, from
// node_modules) and all data inlined; the page loads nothing from anywhere.
// Malformed JSON is an error (exit 2) naming the file, line and column; the
// history file is then left untouched.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const HISTORY_SCHEMA = 'gonet-bench-history/1';
const GO_COMPARE_SCHEMA = 'gonet-go-compare/1';
const UNIT_TO_NS = { ns: 1, us: 1e3, ms: 1e6, s: 1e9 };
const TIMING_TOKENS = new Set(['real_time', 'process_time', 'manual_time']);
const BASELINE_TOKEN = /^(baseline|thread|threads|std|std_.*|pthread.*|absl.*|os)$/i;

export class InputError extends Error {}

const USAGE = `usage: node build.mjs [--gbench FILE]... [--echo FILE] [--gocompare FILE]
       [--history FILE] [--no-append] [--commit SHA] [--date ISO8601] [--title TEXT]
       [--out FILE]`;

export function parseArgs(argv) {
  const opts = { gbench: [], echo: [], gocompare: [], history: null, commit: null, date: null,
                 out: 'dashboard.html', title: 'gonet benchmark dashboard', noAppend: false };
  const takesValue = { '--gbench': 'gbench', '--echo': 'echo', '--gocompare': 'gocompare',
                       '--history': 'history', '--commit': 'commit', '--date': 'date',
                       '--out': 'out', '--title': 'title' };
  for (let i = 0; i < argv.length; i++) {
    let flag = argv[i];
    let value;
    const eq = flag.indexOf('=');
    if (flag.startsWith('--') && eq > 0) { value = flag.slice(eq + 1); flag = flag.slice(0, eq); }
    if (flag === '--no-append') { opts.noAppend = true; continue; }
    if (flag === '--help' || flag === '-h') { console.log(USAGE); process.exit(0); }
    const key = takesValue[flag];
    if (!key) throw new InputError(`unknown argument ${JSON.stringify(argv[i])}\n${USAGE}`);
    if (value === undefined) {
      if (i + 1 >= argv.length) throw new InputError(`${flag} needs a value\n${USAGE}`);
      value = argv[++i];
    }
    if (Array.isArray(opts[key])) opts[key].push(value); else opts[key] = value;
  }
  return opts;
}

// Reads and parses a JSON file. Returns null (with a warning) when the file does
// not exist; throws InputError naming file, line and column when it is malformed.
export function readJson(file, flag) {
  let text;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if (e.code === 'ENOENT') {
      console.warn(`build.mjs: warning: ${flag} ${file}: no such file; shown as "no data"`);
      return null;
    }
    throw new InputError(`${flag} ${file}: cannot read (${e.message})`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    const m = /position (\d+)/.exec(e.message);
    let where = '';
    if (m) {
      const before = text.slice(0, Number(m[1]));
      const line = before.split('\n').length;
      where = ` at line ${line} column ${Number(m[1]) - before.lastIndexOf('\n')}`;
    } else if (/end of JSON input/.test(e.message)) {
      where = ' (the file ends early)';
    }
    throw new InputError(`${flag} ${file}: malformed JSON${where}: ${e.message}`);
  }
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n === 0 ? null : n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

function num(v) { return typeof v === 'number' && Number.isFinite(v) ? v : null; }

// ---------------------------------------------------------------- Google Benchmark

// 'BM_X/fast/procs:2/real_time' -> { family: 'BM_X', tokens: ['fast'], args: {procs: '2'} }
export function parseGbenchName(name) {
  const [family, ...rest] = name.split('/');
  const tokens = [];
  const args = {};
  for (const p of rest) {
    if (p === '' || TIMING_TOKENS.has(p)) continue;
    const c = p.indexOf(':');
    if (c >= 0) args[p.slice(0, c)] = p.slice(c + 1); else tokens.push(p);
  }
  return { family, tokens, args };
}

// The chart group a family belongs to: BM_Thread_X and BM_X_Baseline join BM_X.
export function groupOf(family) {
  const g = family.replace(/^BM_Thread_/, 'BM_').replace(/_?Baseline(?=_|$)/, '');
  return { group: g, familyIsBaseline: g !== family };
}

function entryNs(e, source, field) {
  const unit = e.time_unit ?? 'ns';
  if (!(unit in UNIT_TO_NS)) {
    throw new InputError(`${source}: benchmark ${JSON.stringify(e.name)} has unknown time_unit ${JSON.stringify(unit)}`);
  }
  const v = num(e[field]);
  if (v === null) throw new InputError(`${source}: benchmark ${JSON.stringify(e.name)} has no numeric ${field}`);
  return v * UNIT_TO_NS[unit];
}

// Returns { context, runs: [{ run, label, group, baseline, real_ns, cpu_ns, samples }] }
// with one run per benchmark instance: the median over its repetitions (or the
// "median" aggregate when only aggregates were reported).
export function loadGbench(doc, source) {
  if (!doc || typeof doc !== 'object' || !Array.isArray(doc.benchmarks)) {
    throw new InputError(`${source}: not Google Benchmark JSON (no top-level "benchmarks" list)`);
  }
  const byRun = new Map();
  for (const e of doc.benchmarks) {
    if (!e || typeof e !== 'object' || typeof e.name !== 'string') {
      throw new InputError(`${source}: an entry of "benchmarks" is not an object with a "name"`);
    }
    if (e.error_occurred) {
      console.warn(`build.mjs: warning: ${source}: ${e.name} reported an error (${e.error_message ?? '?'}); skipped`);
      continue;
    }
    const run = e.run_name ?? e.name;
    const type = e.run_type ?? 'iteration';
    if (!byRun.has(run)) byRun.set(run, { real: [], cpu: [], aggReal: null, aggCpu: null });
    const r = byRun.get(run);
    if (type === 'iteration') {
      r.real.push(entryNs(e, source, 'real_time'));
      r.cpu.push(entryNs(e, source, 'cpu_time'));
    } else if (type === 'aggregate' && e.aggregate_name === 'median') {
      r.aggReal = entryNs(e, source, 'real_time');
      r.aggCpu = entryNs(e, source, 'cpu_time');
    }
  }
  const runs = [];
  for (const [run, r] of byRun) {
    if (r.real.length === 0 && r.aggReal === null) continue;
    const { family, tokens, args } = parseGbenchName(run);
    const { group, familyIsBaseline } = groupOf(family);
    const baseline = familyIsBaseline || tokens.some(t => BASELINE_TOKEN.test(t));
    const rest = [...tokens, ...Object.entries(args).map(([k, v]) => `${k}:${v}`)].join(' ');
    const shortFamily = family.replace(/^BM_/, '');
    runs.push({
      run, group, baseline,
      label: familyIsBaseline ? `${shortFamily}${rest ? ' ' + rest : ''}` : (rest || shortFamily),
      real_ns: r.real.length ? median(r.real) : r.aggReal,
      cpu_ns: r.cpu.length ? median(r.cpu) : r.aggCpu,
      samples: r.real.length ? r.real : [r.aggReal],
    });
  }
  return { context: doc.context ?? {}, runs };
}

// ---------------------------------------------------------------- echo

function firstNum(...vals) {
  for (const v of vals) if (num(v) !== null) return v;
  return null;
}

// One server's figures from any of the shapes below; p99 in µs, CPU in ns per round trip.
function echoFigures(o) {
  const rps = firstNum(o.rps, o.round_trips_per_s, o.rt_per_s);
  const p99 = firstNum(o.p99_us, num(o.p99_ns) !== null ? o.p99_ns / 1e3 : null,
                       num(o.latency_ns?.p99) !== null ? o.latency_ns.p99 / 1e3 : null,
                       num(o.latency_us?.p99) !== null ? o.latency_us.p99 : null);
  let cpu = firstNum(o.cpu_ns_per_rt, o.server_cpu_ns_per_rt, o.cpu_ns_per_round_trip,
                     o.server_core_cpu_ns_per_rt, o.server_proc_cpu_ns_per_rt);
  // Raw loadgen output: server ticks over the window / round trips in it.
  if (cpu === null && num(o.server_proc?.cpu_ticks) !== null && o.server_proc.cpu_ticks >= 0 &&
      num(o.clk_tck) && num(o.round_trips)) {
    cpu = o.server_proc.cpu_ticks / o.clk_tck * 1e9 / o.round_trips;
  }
  return { rps, p99_us: p99, cpu_ns_per_rt: cpu };
}

// Normalizes echo results to [{ config, server, rps, p99_us, cpu_ns_per_rt }].
// Accepted shapes (adapt here when benchmarks/echo/run.py's output changes):
//   R benchmarks/echo/run.py --out: {"meta":{"configs":[..]},"summary":{C:{S:{
//     "round_trips_per_s","p99_us","server_core_cpu_ns_per_rt",..}}},"rss":{..}}
//   A {"configs":[{"name":C,"servers":{S:{"rps":..,"p99_us":..,"cpu_ns_per_rt":..}}}]}
//   B {"configs":[{"name":C,"servers":[{"name"|"server":S, ...figures}]}]}
//   C {"results":[{"config":C,"server":S, ...figures}]}  (or a bare top-level list)
// Figures may use loadgen's names instead: round_trips_per_s, latency_ns.p99, and
// server_proc.cpu_ticks + clk_tck + round_trips for the CPU per round trip.
export function normalizeEcho(doc, source) {
  const out = [];
  const push = (config, server, o) => {
    if (!o || typeof o !== 'object') {
      throw new InputError(`${source}: figures for config ${JSON.stringify(config)} server ${JSON.stringify(server)} are not an object`);
    }
    out.push({ config: String(config), server: String(server), ...echoFigures(o) });
  };
  if (doc && doc.summary && typeof doc.summary === 'object' && !Array.isArray(doc.summary)) {
    const order = Array.isArray(doc.meta?.configs) ? doc.meta.configs : Object.keys(doc.summary);
    for (const c of order) {
      const perServer = doc.summary[c];
      if (!perServer) continue;
      if (typeof perServer !== 'object') throw new InputError(`${source}: summary[${JSON.stringify(c)}] is not an object`);
      for (const [s, o] of Object.entries(perServer)) push(c, s, o);
    }
  } else if (doc && Array.isArray(doc.configs)) {
    doc.configs.forEach((c, i) => {
      const name = c?.name ?? c?.config ?? `config ${i + 1}`;
      if (Array.isArray(c?.servers)) {
        for (const s of c.servers) push(name, s?.name ?? s?.server ?? '?', s);
      } else if (c?.servers && typeof c.servers === 'object') {
        for (const [s, o] of Object.entries(c.servers)) push(name, s, o);
      } else {
        throw new InputError(`${source}: configs[${i}] has no "servers" object or list`);
      }
    });
  } else if (Array.isArray(doc?.results) || Array.isArray(doc)) {
    for (const r of (Array.isArray(doc) ? doc : doc.results)) {
      push(r?.config ?? r?.name ?? '?', r?.server ?? '?', r);
    }
  } else {
    throw new InputError(`${source}: unrecognized echo JSON: expected {"configs":[...]} or {"results":[...]} (see build.mjs normalizeEcho)`);
  }
  return out;
}

// Server memory per idle connection, from run.py's "rss": {S: {"bytes_per_conn": ..}}.
// Returns [{ server, bytes_per_conn }] (empty when the input has none).
export function echoRss(doc) {
  const out = [];
  if (doc && doc.rss && typeof doc.rss === 'object' && !Array.isArray(doc.rss)) {
    for (const [server, o] of Object.entries(doc.rss)) {
      const v = num(o?.bytes_per_conn);
      if (v !== null) out.push({ server, bytes_per_conn: v });
    }
  }
  return out;
}

// ---------------------------------------------------------------- Go comparison

export function loadGoCompare(doc, source) {
  if (!doc || typeof doc !== 'object' || !Array.isArray(doc.rows)) {
    throw new InputError(`${source}: not go_compare JSON (no top-level "rows" list; expected schema ${GO_COMPARE_SCHEMA})`);
  }
  return {
    notes: Array.isArray(doc.notes) ? doc.notes : [],
    go_version: doc.go_version ?? null,
    gbench_library_build_type: doc.gbench_library_build_type ?? null,
    rows: doc.rows.map((r, i) => {
      if (!r || typeof r.label !== 'string') throw new InputError(`${source}: rows[${i}] has no "label"`);
      return { label: r.label, procs: r.procs ?? null, ours_ns: num(r.ours_ns), go_ns: num(r.go_ns),
               ratio: num(r.ratio), ours_benchmark: r.ours_benchmark ?? null,
               go_benchmark: r.go_benchmark ?? null };
    }),
  };
}

// ---------------------------------------------------------------- history

// This run's key figures, flat: "<kind>|<series>" -> number. Kinds: gbench_ns,
// go_ratio, echo_rps, echo_p99_us, echo_cpu_ns.
export function keyFigures(gbench, goCompare, echo, rss = []) {
  const f = {};
  for (const r of gbench) if (num(r.real_ns) !== null) f[`gbench_ns|${r.run}`] = r.real_ns;
  if (goCompare) {
    for (const r of goCompare.rows) {
      if (r.ratio !== null) f[`go_ratio|${r.label} procs:${r.procs}`] = r.ratio;
    }
  }
  for (const e of echo) {
    const s = `${e.config} / ${e.server}`;
    if (e.rps !== null) f[`echo_rps|${s}`] = e.rps;
    if (e.p99_us !== null) f[`echo_p99_us|${s}`] = e.p99_us;
    if (e.cpu_ns_per_rt !== null) f[`echo_cpu_ns|${s}`] = e.cpu_ns_per_rt;
  }
  for (const r of rss) f[`echo_rss_bytes|${r.server}`] = r.bytes_per_conn;
  return f;
}

export function appendHistory(history, entry) {
  const entries = history.entries;
  if (entries.length && entries[entries.length - 1].commit === entry.commit) entries.pop();
  entries.push(entry);
  return history;
}

function loadHistory(file) {
  if (!file) return null;
  if (!fs.existsSync(file)) {
    console.warn(`build.mjs: --history ${file} does not exist yet; starting a new history`);
    return { schema: HISTORY_SCHEMA, entries: [] };
  }
  const doc = readJson(file, '--history');
  if (!doc || typeof doc !== 'object' || !Array.isArray(doc.entries)) {
    throw new InputError(`--history ${file}: not a history file (no top-level "entries" list; schema ${HISTORY_SCHEMA})`);
  }
  doc.entries.forEach((e, i) => {
    if (!e || typeof e.commit !== 'string' || typeof e.figures !== 'object') {
      throw new InputError(`--history ${file}: entries[${i}] needs "commit" (string) and "figures" (object)`);
    }
  });
  return doc;
}

// ---------------------------------------------------------------- page

function defaultCommit() {
  try {
    return execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { cwd: HERE, stdio: ['ignore', 'pipe', 'ignore'] })
      .toString().trim();
  } catch {
    return 'unknown';
  }
}

// Makes text safe inside <script>: JSON with '<' escaped cannot end the element.
function scriptJson(value) {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

function escapeHtml(s) {
  return String(s).replace(/[&<>"']/g, c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
}

function chartJsSource() {
  const file = path.join(HERE, 'node_modules', 'chart.js', 'dist', 'chart.umd.min.js');
  let src;
  try {
    src = fs.readFileSync(file, 'utf8');
  } catch {
    throw new InputError(`Chart.js not found at ${file}; run "npm ci" in ${HERE} first`);
  }
  if (/<\/script/i.test(src)) throw new InputError(`${file} contains "</script" and cannot be inlined`);
  return src;
}

export function renderPage(data, title) {
  const css = fs.readFileSync(path.join(HERE, 'page.css'), 'utf8');
  const js = fs.readFileSync(path.join(HERE, 'page.js'), 'utf8');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">
<title>${escapeHtml(title)}</title>
<style>
${css}
</style>
</head>
<body>
<main id="app"><h1>${escapeHtml(title)}</h1><p id="loading">Rendering charts…</p></main>
<script id="dashboard-data" type="application/json">${scriptJson(data)}</script>
<script>
${chartJsSource()}
</script>
<script>
${js}
</script>
</body>
</html>
`;
}

const REPO_ROOT = path.resolve(HERE, '..', '..');

// How an input file is named on the page: relative to the repository when inside it.
function displayPath(file) {
  const rel = path.relative(REPO_ROOT, path.resolve(file));
  return rel.startsWith('..') || path.isAbsolute(rel) ? file : rel;
}

export function build(opts) {
  const gbench = [];
  const contexts = [];
  const sources = { gbench: [], echo: [], gocompare: [] };
  const multi = opts.gbench.length > 1;
  for (const file of opts.gbench) {
    const doc = readJson(file, '--gbench');
    sources.gbench.push({ file: displayPath(file), found: doc !== null });
    if (doc === null) continue;
    const { context, runs } = loadGbench(doc, file);
    contexts.push({ file: path.basename(file), ...context });
    for (const r of runs) gbench.push({ ...r, source: path.basename(file), multi });
  }
  // The same instance in two files (e.g. a default and a ucontext build) stays apart.
  const seen = new Map();
  for (const r of gbench) seen.set(r.run, (seen.get(r.run) ?? 0) + 1);
  for (const r of gbench) if (seen.get(r.run) > 1) r.label += ` [${r.source}]`;

  let echo = [];
  let rss = [];
  for (const file of opts.echo) {
    const doc = readJson(file, '--echo');
    sources.echo.push({ file: displayPath(file), found: doc !== null });
    if (doc !== null) {
      echo = echo.concat(normalizeEcho(doc, file));
      rss = rss.concat(echoRss(doc));
    }
  }

  let goCompare = null;
  for (const file of opts.gocompare) {
    const doc = readJson(file, '--gocompare');
    sources.gocompare.push({ file: displayPath(file), found: doc !== null });
    if (doc !== null) goCompare = loadGoCompare(doc, file);  // the last one given wins
  }

  const history = loadHistory(opts.history);
  const commit = opts.commit ?? defaultCommit();
  const date = opts.date ?? new Date().toISOString();
  const figures = keyFigures(gbench, goCompare, echo, rss);
  if (history && Object.keys(figures).length) {
    appendHistory(history, { commit, date, figures });
  }

  const data = {
    title: opts.title, commit, date, generated: new Date().toISOString(), sources,
    gbench: { contexts, runs: gbench.map(({ multi: _m, ...r }) => r) },
    goCompare, echo, echoRss: rss,
    history: history ? history.entries : null,
  };
  const html = renderPage(data, opts.title);
  fs.mkdirSync(path.dirname(path.resolve(opts.out)), { recursive: true });
  fs.writeFileSync(opts.out, html);
  if (history && opts.history && !opts.noAppend && Object.keys(figures).length) {
    const tmp = `${opts.history}.tmp${process.pid}`;
    fs.writeFileSync(tmp, JSON.stringify(history, null, 1) + '\n');
    fs.renameSync(tmp, opts.history);
  }
  return { html, figures, history, data };
}

function main() {
  try {
    const opts = parseArgs(process.argv.slice(2));
    const { figures, history } = build(opts);
    const n = Object.keys(figures).length;
    console.log(`build.mjs: wrote ${opts.out} (${n} key figures` +
      (opts.history ? `; history ${opts.history}: ${history.entries.length} entries` +
        (opts.noAppend || n === 0 ? ', not written' : '') : '') + ')');
  } catch (e) {
    if (e instanceof InputError) {
      console.error(`build.mjs: error: ${e.message}`);
      process.exit(2);
    }
    throw e;
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
