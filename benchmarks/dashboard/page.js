// page.js: draws the dashboard from the JSON that build.mjs inlines into the page
// (<script id="dashboard-data">). Runs in the browser after Chart.js (UMD, global
// `Chart`). Every chart is built in its own try block: a failure shows a red box
// and a console error (which test_dashboard.mjs turns into a failed test), and
// the other charts still render. When done it sets window.__dashboard.ready.
(function () {
  'use strict';

  const DATA = JSON.parse(document.getElementById('dashboard-data').textContent);
  const app = document.getElementById('app');
  const state = { ready: false, charts: [], errors: [] };
  window.__dashboard = state;

  const COLORS = {
    ours: '#2563eb', baseline: '#9ca3af', go: '#00add8',
  };
  const PALETTE = ['#2563eb', '#00add8', '#f59e0b', '#10b981', '#ef4444', '#8b5cf6',
                   '#ec4899', '#64748b', '#84cc16', '#0ea5e9', '#d946ef', '#f97316'];

  Chart.defaults.animation = false;
  Chart.defaults.font.family = 'system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif';
  Chart.defaults.font.size = 12;
  Chart.defaults.color = '#374151';
  Chart.defaults.plugins.legend.labels.boxWidth = 14;
  Chart.defaults.datasets.bar.maxBarThickness = 26;

  // ------------------------------------------------------------ helpers

  // One colour per echo server on every chart, in first-seen order.
  const serverOrder = [...new Set([...(DATA.echo || []).map(r => r.server), ...(DATA.echoRss || []).map(r => r.server)])];
  function serverColor(name) { return PALETTE[serverOrder.indexOf(name) % PALETTE.length]; }

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === 'class') e.className = v; else e.setAttribute(k, v);
    }
    for (const c of children) {
      if (c === null || c === undefined) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  function fmtNs(v) {
    if (v === null || v === undefined) return 'n/a';
    if (v >= 1e9) return (v / 1e9).toFixed(2) + ' s';
    if (v >= 1e6) return (v / 1e6).toFixed(2) + ' ms';
    if (v >= 1e3) return (v / 1e3).toFixed(2) + ' µs';
    return (v >= 10 ? v.toFixed(1) : v.toFixed(2)) + ' ns';
  }

  function fmtNum(v, digits) {
    if (v === null || v === undefined) return 'n/a';
    return v.toLocaleString('en-US', { maximumFractionDigits: digits ?? 1 });
  }

  function section(id, title, intro) {
    const s = el('section', { id }, el('h2', {}, title));
    if (intro) s.append(el('p', { class: 'intro' }, intro));
    app.append(s);
    return s;
  }

  function noData(parent, what) {
    parent.append(el('p', { class: 'nodata' }, `No data: ${what}`));
  }

  function sourcesText(list, flag) {
    if (!list || list.length === 0) return `no ${flag} given`;
    return list.map(s => s.found ? s.file : `${s.file} (not found)`).join(', ');
  }

  // Adds a card with a canvas and builds the chart; returns the Chart or null.
  function chartCard(parent, id, title, subtitle, height, makeConfig) {
    const canvas = el('canvas', { id, role: 'img', 'aria-label': title });
    const box = el('div', { class: 'chartbox' }, canvas);
    box.style.height = height + 'px';
    const card = el('div', { class: 'card' }, el('h3', {}, title),
                    subtitle ? el('p', { class: 'sub' }, subtitle) : null, box);
    parent.append(card);
    try {
      const config = makeConfig();
      config.options = Object.assign({ responsive: true, maintainAspectRatio: false }, config.options);
      const chart = new Chart(canvas, config);
      state.charts.push(id);
      return chart;
    } catch (e) {
      state.errors.push(`${id}: ${e && e.message}`);
      card.append(el('p', { class: 'error' }, `Chart failed: ${e && e.message}`));
      console.error(`dashboard: chart ${id} failed:`, e);
      return null;
    }
  }

  // A value axis: logarithmic when the values span more than `spread`x.
  function valueScale(values, title, spread, ns) {
    const v = values.filter(x => typeof x === 'number' && x > 0);
    const log = v.length > 1 && Math.max(...v) / Math.min(...v) > (spread || 30);
    const scale = {
      type: log ? 'logarithmic' : 'linear',
      beginAtZero: !log,
      // A log axis starting at the smallest value would draw that bar with no length.
      min: log ? Math.pow(10, Math.floor(Math.log10(Math.min(...v)))) : undefined,
      title: { display: true, text: title + (log ? ' (log scale)' : '') },
      grid: { color: '#e5e7eb' },
    };
    if (log) {
      // Label only 1, 2 and 5 times a power of ten; the other grid lines stay unlabelled.
      scale.ticks = { autoSkip: false, maxRotation: 0, callback: v => {
        const m = v / Math.pow(10, Math.floor(Math.log10(v) + 1e-9));
        if (![1, 2, 5].some(k => Math.abs(m - k) < 1e-6)) return '';
        return ns ? fmtNsShort(v) : fmtNum(v, 2);
      } };
    }
    if (!log && ns) scale.ticks = { callback: v => (v === 0 ? '0' : fmtNsShort(v)) };
    return scale;
  }

  function fmtNsShort(v) {
    if (v >= 1e9) return +(v / 1e9).toPrecision(3) + ' s';
    if (v >= 1e6) return +(v / 1e6).toPrecision(3) + ' ms';
    if (v >= 1e3) return +(v / 1e3).toPrecision(3) + ' µs';
    return +v.toPrecision(3) + ' ns';
  }

  function slug(s) { return s.replace(/[^A-Za-z0-9]+/g, '-').replace(/^-|-$/g, '').toLowerCase(); }

  // ------------------------------------------------------------ header

  function header() {
    const meta = el('p', { class: 'meta' },
      'Commit ', el('code', {}, DATA.commit), ' · measured ', DATA.date);
    const inputs = el('ul', { class: 'inputs' },
      el('li', {}, 'Google Benchmark: ', sourcesText(DATA.sources.gbench, '--gbench')),
      el('li', {}, 'Go comparison: ', sourcesText(DATA.sources.gocompare, '--gocompare')),
      el('li', {}, 'Echo: ', sourcesText(DATA.sources.echo, '--echo')));
    app.append(meta, inputs);
    const debug = DATA.gbench.contexts.some(c => c.library_build_type === 'debug') ||
                  (DATA.goCompare && DATA.goCompare.gbench_library_build_type === 'debug');
    if (debug) {
      app.append(el('p', { class: 'note' },
        'Note: Debian\'s Google Benchmark library is a DEBUG build (library_build_type=debug). ',
        'That only affects the library\'s bookkeeping between timed regions; the code measured ',
        'is built with -c opt.'));
    }
  }

  // ------------------------------------------------------------ Google Benchmark

  function gbenchSection() {
    const s = section('gbench', 'Fiber runtime vs baselines',
      'Median real time per operation over the repetitions, per Google Benchmark instance. ' +
      'Blue: gonet; grey: its baseline (BM_Thread_* / *Baseline* / a baseline variant). Lower is better.');
    const runs = DATA.gbench.runs;
    if (!runs.length) { noData(s, sourcesText(DATA.sources.gbench, '--gbench')); return; }
    const groups = new Map();
    for (const r of runs) {
      if (!groups.has(r.group)) groups.set(r.group, []);
      groups.get(r.group).push(r);
    }
    const grid = el('div', { class: 'grid' });
    s.append(grid);
    for (const [group, rs] of [...groups].sort((a, b) => a[0].localeCompare(b[0]))) {
      rs.sort((a, b) => (a.baseline - b.baseline) || a.label.localeCompare(b.label));
      const base = rs.filter(r => r.baseline);
      const sub = base.length ? `baseline: ${[...new Set(base.map(r => r.run.split('/')[0]))].join(', ')}`
                              : 'no baseline in the input';
      chartCard(grid, 'gbench-' + slug(group.replace(/^BM_/, '')), group.replace(/^BM_/, ''), sub,
        Math.max(170, 80 + 32 * rs.length), () => ({
        type: 'bar',
        data: {
          labels: rs.map(r => r.label),
          datasets: [
            { label: 'gonet', data: rs.map(r => r.baseline ? null : r.real_ns),
              backgroundColor: COLORS.ours, skipNull: true },
            { label: 'baseline', data: rs.map(r => r.baseline ? r.real_ns : null),
              backgroundColor: COLORS.baseline, skipNull: true },
          ],
        },
        options: {
          indexAxis: 'y',
          scales: {
            x: valueScale(rs.map(r => r.real_ns), 'time per op', 30, true),
            y: { grid: { display: false } },
          },
          plugins: {
            legend: { position: 'bottom' },
            tooltip: { callbacks: { label: ctx => {
              const r = rs[ctx.dataIndex];
              return `${r.run}: ${fmtNs(r.real_ns)} real, ${fmtNs(r.cpu_ns)} CPU (${r.samples.length} reps)`;
            } } },
          },
        },
      }));
    }
  }

  // ------------------------------------------------------------ Go comparison

  function goSection() {
    const s = section('gocompare', 'gonet vs Go',
      'Same operation in gonet\'s fiber runtime and in Go\'s runtime, same machine, median ns per op ' +
      '(benchmarks/go_compare). procs = worker threads / GOMAXPROCS. Lower is better.');
    const g = DATA.goCompare;
    if (!g || !g.rows.length) { noData(s, sourcesText(DATA.sources.gocompare, '--gocompare')); return; }
    const rows = g.rows;
    const labels = rows.map(r => `${r.label} · procs ${r.procs}`);
    chartCard(s, 'gocompare-ns', 'ns per operation: gonet vs Go' + (g.go_version ? ` (${g.go_version})` : ''),
      'Missing bars: that side has no such benchmark in the input.', 80 + 34 * rows.length, () => ({
        type: 'bar',
        data: {
          labels,
          datasets: [
            { label: 'gonet', data: rows.map(r => r.ours_ns), backgroundColor: COLORS.ours },
            { label: 'Go', data: rows.map(r => r.go_ns), backgroundColor: COLORS.go },
          ],
        },
        options: {
          indexAxis: 'y',
          scales: {
            x: valueScale(rows.flatMap(r => [r.ours_ns, r.go_ns]), 'time per op', 20, true),
            y: { grid: { display: false }, ticks: { autoSkip: false } },
          },
          plugins: {
            legend: { position: 'bottom' },
            tooltip: { callbacks: { afterBody: items => {
              const r = rows[items[0].dataIndex];
              return r.ratio !== null ? `gonet/Go = ${r.ratio.toFixed(2)}x` : 'gonet/Go: n/a';
            } } },
          },
        },
      }));
    const table = el('table', { class: 'ratios' },
      el('thead', {}, el('tr', {}, ...['benchmark', 'procs', 'gonet', 'Go', 'gonet/Go'].map(h => el('th', {}, h)))));
    const tbody = el('tbody');
    for (const r of rows) {
      const cls = r.ratio === null ? 'na' : r.ratio <= 1 ? 'better' : 'worse';
      tbody.append(el('tr', {},
        el('td', {}, r.label), el('td', { class: 'num' }, r.procs ?? '-'),
        el('td', { class: 'num' }, fmtNs(r.ours_ns)), el('td', { class: 'num' }, fmtNs(r.go_ns)),
        el('td', { class: 'num ' + cls }, r.ratio === null ? 'n/a' : r.ratio.toFixed(2) + 'x')));
    }
    table.append(tbody);
    s.append(el('div', { class: 'card' }, table));
    // The DEBUG-build note is already in the page header.
    for (const n of g.notes) if (!/DEBUG build/.test(n)) s.append(el('p', { class: 'note' }, 'Note: ' + n));
  }

  // ------------------------------------------------------------ echo

  function echoSection() {
    const s = section('echo', 'Echo server',
      'TCP echo over loopback, per load configuration and server (benchmarks/echo/run.py): medians over rounds.');
    const rows = DATA.echo;
    if (!rows.length && !(DATA.echoRss || []).length) { noData(s, sourcesText(DATA.sources.echo, '--echo')); return; }
    const configs = [...new Set(rows.map(r => r.config))];
    const servers = [...new Set(rows.map(r => r.server))];
    const grid = el('div', { class: 'grid' });
    s.append(grid);
    const metrics = [
      ['rps', 'Round trips per second', 'round trips / s', v => fmtNum(v, 0) + ' rt/s', 'higher is better'],
      ['p99_us', 'p99 latency', 'p99 latency, µs', v => fmtNum(v, 1) + ' µs', 'lower is better'],
      ['cpu_ns_per_rt', 'Server CPU per round trip', 'server CPU time per round trip', v => fmtNs(v), 'lower is better'],
    ];
    for (const [key, title, axis, fmt, better] of metrics) {
      const value = (c, sv) => {
        const r = rows.find(x => x.config === c && x.server === sv);
        return r ? r[key] : null;
      };
      if (!rows.length) continue;
      if (!rows.some(r => r[key] !== null)) {
        const card = el('div', { class: 'card' }, el('h3', {}, title));
        noData(card, `no "${key}" figure in the echo input`);
        grid.append(card);
        continue;
      }
      chartCard(grid, 'echo-' + slug(key), title,
        `${servers.length} servers × ${configs.length} configurations; ${better}`,
        300, () => ({
          type: 'bar',
          data: {
            labels: configs,
            datasets: servers.map(sv => ({
              label: sv, data: configs.map(c => value(c, sv)),
              backgroundColor: serverColor(sv),
            })),
          },
          options: {
            scales: {
              y: valueScale(rows.map(r => r[key]), axis, 30, key === 'cpu_ns_per_rt'),
              x: { title: { display: true, text: 'configuration' }, grid: { display: false } },
            },
            plugins: {
              legend: { position: 'bottom' },
              tooltip: { callbacks: { label: ctx => `${ctx.dataset.label}: ${fmt(ctx.raw)}` } },
            },
          },
        }));
    }
    echoRssChart(grid);
  }

  // ------------------------------------------------------------ history

  function echoRssChart(grid) {
    const rss = DATA.echoRss || [];
    if (!rss.length) return;
    chartCard(grid, 'echo-rss', 'Server memory per idle connection', 'RSS growth / connections; lower is better',
      300, () => ({
        type: 'bar',
        data: {
          labels: rss.map(r => r.server),
          datasets: [{ label: 'bytes per connection', data: rss.map(r => r.bytes_per_conn),
                       backgroundColor: rss.map(r => serverColor(r.server)) }],
        },
        options: {
          scales: {
            y: valueScale(rss.map(r => r.bytes_per_conn), 'bytes per idle connection', 30, false),
            x: { title: { display: true, text: 'server' }, grid: { display: false } },
          },
          plugins: {
            legend: { display: false },
            tooltip: { callbacks: { label: ctx => `${fmtNum(ctx.raw, 0)} bytes per connection` } },
          },
        },
      }));
  }

  function historySection() {
    const s = section('history', 'History across commits',
      'One point per commit from the history file (appended by build.mjs); hover a point for its date.');
    const entries = DATA.history;
    if (!entries || !entries.length) { noData(s, 'no --history file given, or it has no entries'); return; }
    const labels = entries.map(e => e.commit.slice(0, 9));
    const kinds = [
      ['gbench_ns', 'Google Benchmark medians', 'time per op', true],
      ['go_ratio', 'gonet / Go ratio (below 1: gonet faster)', 'gonet / Go', false],
      ['echo_rps', 'Echo round trips per second', 'round trips / s', false],
      ['echo_p99_us', 'Echo p99 latency', 'µs', false],
      ['echo_cpu_ns', 'Echo server CPU per round trip', 'ns per round trip', false],
      ['echo_rss_bytes', 'Echo server memory per idle connection', 'bytes per connection', false],
    ];
    const grid = el('div', { class: 'grid' });
    s.append(grid);
    let drawn = 0;
    for (const [kind, title, axis, logAllowed] of kinds) {
      const series = new Set();
      for (const e of entries) for (const k of Object.keys(e.figures)) if (k.startsWith(kind + '|')) series.add(k);
      if (!series.size) continue;
      drawn++;
      const names = [...series].sort();
      const all = [];
      const datasets = names.map((k, i) => {
        const data = entries.map(e => (typeof e.figures[k] === 'number' ? e.figures[k] : null));
        all.push(...data);
        const color = PALETTE[i % PALETTE.length];
        const label = k.slice(kind.length + 1).replace(/\/(real_time|process_time|manual_time)\b/g, '')
          .replace(/^BM_/, '');
        return { label, data, borderColor: color, backgroundColor: color,
                 spanGaps: true, pointRadius: 3, borderWidth: 2, tension: 0,
                 // Past the palette's length, colours repeat with a dashed line.
                 borderDash: i >= PALETTE.length ? [6, 3] : [],
                 pointStyle: i >= PALETTE.length ? 'rectRot' : 'circle' };
      });
      const legendH = 24 * Math.ceil(names.length / 2);
      chartCard(grid, 'history-' + slug(kind), title, `${names.length} series, ${entries.length} commits`,
        300 + legendH, () => ({
          type: 'line',
          data: { labels, datasets },
          options: {
            interaction: { mode: 'nearest', intersect: false },
            scales: {
              y: logAllowed ? valueScale(all, axis, 30, true) : { title: { display: true, text: axis }, grid: { color: '#e5e7eb' } },
              x: { title: { display: true, text: 'commit (oldest left)' }, grid: { display: false } },
            },
            plugins: {
              legend: { position: 'bottom', labels: { font: { size: 11 } } },
              tooltip: { callbacks: { title: items => {
                const e = entries[items[0].dataIndex];
                return `${e.commit} · ${e.date || ''}`;
              } } },
            },
          },
        }));
    }
    if (!drawn) noData(s, 'the history entries hold no figures');
  }

  // ------------------------------------------------------------ main

  document.getElementById('loading').remove();
  for (const part of [header, gbenchSection, goSection, echoSection, historySection]) {
    try {
      part();
    } catch (e) {
      state.errors.push(`${part.name}: ${e && e.message}`);
      app.append(el('p', { class: 'error' }, `Section failed: ${e && e.message}`));
      console.error('dashboard: section failed:', e);
    }
  }
  app.append(el('footer', {}, 'Generated by benchmarks/dashboard/build.mjs · charts by Chart.js ' +
    Chart.version + ' (MIT), inlined'));
  state.ready = true;
})();
