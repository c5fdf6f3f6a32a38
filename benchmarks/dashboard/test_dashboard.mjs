#!/usr/bin/env node
// test_dashboard.mjs: builds dashboard pages from testdata/ and checks them in
// headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core).
//
//   node benchmarks/dashboard/test_dashboard.mjs [--screenshot PATH] [--chromium PATH]
//
// Checks: the CLI's input handling (malformed JSON -> exit 2 naming file and
// line; history appended, same-commit rerun replaces, --no-append writes
// nothing); the full page loads with no console error, page error or request
// to anything but its own file; every expected chart exists, has data and has
// non-blank pixels on its canvas; a page with no inputs renders "No data" text
// and no chart. Writes a full-page screenshot (default: screenshot.png beside
// this file). Prints "N passed, N failed" and exits 1 on any failure.

import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { groupOf, normalizeEcho, parseGbenchName } from './build.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const TD = path.join(HERE, 'testdata');

function flag(name, def) {
  const i = process.argv.indexOf(name);
  if (i >= 0 && i + 1 < process.argv.length) return process.argv[i + 1];
  const eq = process.argv.find(a => a.startsWith(name + '='));
  return eq ? eq.slice(name.length + 1) : def;
}
const SCREENSHOT = path.resolve(flag('--screenshot', path.join(HERE, 'screenshot.png')));
const CHROMIUM = flag('--chromium', process.env.CHROMIUM || '/usr/bin/chromium');

let passed = 0;
let failed = 0;
function check(name, ok, detail) {
  if (ok) { passed++; console.log(`PASS ${name}`); } else { failed++; console.log(`FAIL ${name}${detail ? ': ' + detail : ''}`); }
}
function equal(name, got, want) {
  const g = JSON.stringify(got);
  const w = JSON.stringify(want);
  check(name, g === w, `got ${g}, want ${w}`);
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dashboard-test-'));
function build(args) {
  const r = spawnSync(process.execPath, [path.join(HERE, 'build.mjs'), ...args], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

// ------------------------------------------------------------ pure functions

equal('parseGbenchName', parseGbenchName('BM_Yield_PingPong/fast/procs:2/real_time'),
      { family: 'BM_Yield_PingPong', tokens: ['fast'], args: { procs: '2' } });
equal('groupOf thread baseline', groupOf('BM_Thread_Spawn_Join'), { group: 'BM_Spawn_Join', familyIsBaseline: true });
equal('groupOf Baseline suffix', groupOf('BM_NetFD_ReadWrite_Baseline'), { group: 'BM_NetFD_ReadWrite', familyIsBaseline: true });
equal('groupOf plain', groupOf('BM_Spawn_Join'), { group: 'BM_Spawn_Join', familyIsBaseline: false });
equal('normalizeEcho flat results + loadgen names',
      normalizeEcho({ results: [{ config: 'c', server: 's', round_trips_per_s: 10, latency_ns: { p99: 5000 },
                                  server_proc: { cpu_ticks: 2 }, clk_tck: 100, round_trips: 1000 }] }, 'x'),
      [{ config: 'c', server: 's', rps: 10, p99_us: 5, cpu_ns_per_rt: 20000 }]);
{
  const simple = normalizeEcho(JSON.parse(fs.readFileSync(path.join(TD, 'echo_simple.json'), 'utf8')), 'simple');
  equal('normalizeEcho simple configs/servers shape: size', simple.length, 9);
  const g = simple.find(r => r.config === 'streaming 8 conns 512B' && r.server === 'gonet');
  check('normalizeEcho: CPU per round trip from raw loadgen ticks',
        Math.abs(g.cpu_ns_per_rt - 180 / 100 * 1e9 / 3050000) < 1e-6 && g.p99_us === 2400 && g.rps === 610000,
        JSON.stringify(g));
}
equal('normalizeEcho servers list',
      normalizeEcho({ configs: [{ name: 'c', servers: [{ name: 's', rps: 1, p99_us: 2, cpu_ns_per_rt: 3 }] }] }, 'x'),
      [{ config: 'c', server: 's', rps: 1, p99_us: 2, cpu_ns_per_rt: 3 }]);

// ------------------------------------------------------------ CLI

{
  const bad = path.join(tmp, 'bad.json');
  fs.writeFileSync(bad, '{\n  "benchmarks": [\n    {"name": "x",}\n  ]\n}\n');
  const hist = path.join(tmp, 'hist_bad.json');
  fs.copyFileSync(path.join(TD, 'history.json'), hist);
  const before = fs.readFileSync(hist, 'utf8');
  const r = build(['--gbench', bad, '--history', hist, '--commit', 'x', '--out', path.join(tmp, 'bad.html')]);
  check('malformed JSON exits 2', r.code === 2, `exit ${r.code}`);
  check('malformed JSON message names file and line',
        r.err.includes(bad) && /malformed JSON at line 3 column \d+/.test(r.err), r.err.trim());
  check('malformed JSON leaves history untouched', fs.readFileSync(hist, 'utf8') === before);
  check('malformed JSON writes no page', !fs.existsSync(path.join(tmp, 'bad.html')));

  const wrongShape = build(['--echo', path.join(TD, 'gbench_fiber.json'), '--out', path.join(tmp, 'w.html')]);
  check('wrong echo shape exits 2 with a message',
        wrongShape.code === 2 && wrongShape.err.includes('unrecognized echo JSON'), wrongShape.err.trim());
  const unknown = build(['--bogus']);
  check('unknown flag exits 2', unknown.code === 2 && unknown.err.includes('unknown argument'), unknown.err.trim());
}

const FULL_HTML = path.join(tmp, 'full.html');
const EMPTY_HTML = path.join(tmp, 'empty.html');
{
  const hist = path.join(tmp, 'history.json');
  fs.copyFileSync(path.join(TD, 'history.json'), hist);
  const n0 = JSON.parse(fs.readFileSync(hist, 'utf8')).entries.length;
  const args = ['--gbench', path.join(TD, 'gbench_fiber.json'), '--gbench', path.join(TD, 'gbench_netfd.json'),
                '--echo', path.join(TD, 'echo.json'), '--gocompare', path.join(TD, 'gocompare.json'),
                '--history', hist, '--commit', 'feedface0001', '--date', '2024-02-01T00:00:00Z', '--out', FULL_HTML];
  const r = build(args);
  check('full build exits 0', r.code === 0, r.err);
  let h = JSON.parse(fs.readFileSync(hist, 'utf8'));
  check('history appended', h.entries.length === n0 + 1 && h.entries.at(-1).commit === 'feedface0001',
        `entries ${h.entries.length}`);
  const f = h.entries.at(-1).figures;
  check('history figures: gbench median in ns', f['gbench_ns|BM_Timer_AddCancel/procs:1'] === 75, JSON.stringify(f).slice(0, 200));
  check('history figures: echo from run.py summary', f['echo_cpu_ns|streaming_4c_512b / gonet'] === 590 &&
        f['echo_rps|pingpong_1c_64b / epoll'] === 41000 * 1.25 && f['echo_rss_bytes|gonet'] === 9300);
  check('history figures: failed echo runs leave no figure', !('echo_rps|pingpong_1000c_512b / asio' in f));
  check('history figures: go ratio', typeof f['go_ratio|timer add + cancel procs:1'] === 'number');
  build(args);
  h = JSON.parse(fs.readFileSync(hist, 'utf8'));
  check('same-commit rerun replaces the last entry', h.entries.length === n0 + 1);
  const snapshot = fs.readFileSync(hist, 'utf8');
  build([...args.slice(0, -4), '--commit', 'other', '--no-append', '--out', path.join(tmp, 'na.html')]);
  check('--no-append leaves history untouched', fs.readFileSync(hist, 'utf8') === snapshot);

  const missing = build(['--gbench', path.join(tmp, 'does-not-exist.json'), '--out', EMPTY_HTML]);
  check('missing input is a warning, not an error', missing.code === 0 && missing.err.includes('no such file'), missing.err);

  const html = fs.readFileSync(FULL_HTML, 'utf8');
  check('page has no external script/link/img/url()',
        !/<(script|img|iframe)[^>]+src=|<link[^>]+href=|url\(\s*['"]?https?:/i.test(html));
}

// ------------------------------------------------------------ browser

const EXPECTED_CHARTS = [
  'gbench-channel-buffered-roundtrip', 'gbench-channel-unbuffered-roundtrip', 'gbench-fdmutex-rwlock',
  'gbench-mutex-contended', 'gbench-mutex-uncontended', 'gbench-netfd-readwrite', 'gbench-spawn-join',
  'gbench-timer-addcancel', 'gbench-yield-pingpong',
  'gocompare-ns',
  'echo-rps', 'echo-p99-us', 'echo-cpu-ns-per-rt', 'echo-rss',
  'history-gbench-ns', 'history-go-ratio', 'history-echo-rps', 'history-echo-p99-us', 'history-echo-cpu-ns',
  'history-echo-rss-bytes',
];

async function openPage(browser, file) {
  const page = await browser.newPage({ viewport: { width: 1360, height: 900 } });
  const problems = [];
  page.on('console', m => { if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`); });
  page.on('pageerror', e => problems.push(`page error: ${e.message}`));
  page.on('requestfailed', r => { if (!r.url().startsWith('file:')) problems.push(`request failed: ${r.url()}`); });
  await page.route('**/*', route => {
    const url = route.request().url();
    if (url === pathToFileURL(file).href) return route.continue();
    problems.push(`unexpected request: ${url}`);
    return route.abort();
  });
  await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
  await page.waitForFunction(() => window.__dashboard && window.__dashboard.ready, null, { timeout: 15000 });
  return { page, problems };
}

// For each canvas: chart present, datasets with drawn elements, share of non-blank pixels.
function inspectCharts() {
  return [...document.querySelectorAll('canvas')].map(c => {
    const chart = Chart.getChart(c);
    const ctx = c.getContext('2d');
    const { data } = ctx.getImageData(0, 0, c.width, c.height);
    let inked = 0;
    for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) inked++;
    const elements = chart ? chart.data.datasets.reduce((n, d, i) => n + chart.getDatasetMeta(i).data
      .filter((e, j) => d.data[j] !== null && e && !e.skip && Number.isFinite(e.x) && Number.isFinite(e.y)).length, 0) : 0;
    // Bars drawn with (almost) no length: e.g. a log axis starting at the value.
    let flatBars = 0;
    if (chart && chart.config.type === 'bar') {
      const horizontal = chart.options.indexAxis === 'y';
      chart.data.datasets.forEach((d, i) => {
        for (const [j, e] of chart.getDatasetMeta(i).data.entries()) {
          if (d.data[j] === null || !e || e.skip || !Number.isFinite(e.x) || !Number.isFinite(e.y)) continue;
          if (Math.abs(horizontal ? e.x - e.base : e.y - e.base) < 2) flatBars++;
        }
      });
    }
    return { id: c.id, hasChart: !!chart, width: c.width, height: c.height, inked: inked / (c.width * c.height),
             elements, flatBars };
  });
}

let browser;
try {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found (apt-get install -y chromium)`);
  const args = ['--disable-gpu', '--disable-dev-shm-usage', '--font-render-hinting=none'];
  if (process.getuid && process.getuid() === 0) args.push('--no-sandbox');
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args });

  {
    const { page, problems } = await openPage(browser, FULL_HTML);
    equal('full page: no console errors, page errors or outside requests', problems, []);
    const state = await page.evaluate(() => ({ charts: window.__dashboard.charts, errors: window.__dashboard.errors }));
    equal('full page: no chart errors', state.errors, []);
    equal('full page: expected charts built', [...state.charts].sort(), [...EXPECTED_CHARTS].sort());
    const charts = await page.evaluate(inspectCharts);
    equal('full page: one canvas per chart', charts.map(c => c.id).sort(), [...EXPECTED_CHARTS].sort());
    for (const c of charts) {
      check(`chart ${c.id}: rendered with data, non-blank pixels, no flat bars`,
            c.hasChart && c.width > 100 && c.height > 100 && c.elements > 0 && c.inked > 0.01 &&
              c.flatBars === 0,
            JSON.stringify(c));
    }
    const noData = await page.locator('p.nodata').count();
    equal('full page: no "No data" placeholders', noData, 0);
    const debugNote = await page.getByText('DEBUG build').count();
    check('full page: DEBUG-build note shown', debugNote >= 1);
    const ratioCells = await page.locator('table.ratios tbody tr').count();
    check('full page: ratio table has a row per go_compare row', ratioCells === 13, `rows ${ratioCells}`);
    fs.mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    check('screenshot written', fs.statSync(SCREENSHOT).size > 10000);
    console.log(`screenshot: ${SCREENSHOT}`);
  }
  {
    const { page, problems } = await openPage(browser, EMPTY_HTML);
    equal('empty page: no console errors, page errors or outside requests', problems, []);
    equal('empty page: no canvases', await page.locator('canvas').count(), 0);
    equal('empty page: "No data" in all four sections', await page.locator('p.nodata').count(), 4);
    const text = await page.locator('#gbench').innerText();
    check('empty page: names the missing file', text.includes('does-not-exist.json (not found)'), text);
  }
} catch (e) {
  check('browser checks ran', false, e.stack || String(e));
} finally {
  if (browser) await browser.close();
  fs.rmSync(tmp, { recursive: true, force: true });
}

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
