// flagagg dashboard: follows GET /events (Server-Sent Events of round records, docs/architecture.md).
(function () {
  'use strict';
  const KEEP = 120;          // rounds kept for the line charts
  const HEAT_ROUNDS = 60;    // rounds kept for the quality heat map
  const $ = (id) => document.getElementById(id);

  const charts = {
    quality: echarts.init($('quality-chart')),
    heat: echarts.init($('quality-heatmap')),
    latency: echarts.init($('latency-chart')),
    throughput: echarts.init($('throughput-chart')),
  };
  window.addEventListener('resize', () => Object.values(charts).forEach((c) => c.resize()));

  let job = null;
  let rounds = [];   // {round, latency, fold, solve, output, mbps}
  let heat = [];     // {round, quality: {worker: q}}
  let seen = 0;
  window.flagagg = { roundsSeen: 0, lastRound: null };

  // Natural order: w2 before w10.
  const byName = (a, b) => a.localeCompare(b, undefined, { numeric: true });
  const fmt = (x, digits) => (x === undefined || x === null || Number.isNaN(x)) ? '–' : Number(x).toFixed(digits);
  const grid = { left: 48, right: 48, top: 30, bottom: 40 };

  function reset(info) {
    job = info;
    rounds = [];
    heat = [];
    seen = 0;
    $('job-name').textContent = info.job;
    $('job-rule').textContent = info.rule;
    $('job-workers').textContent = info.workers;
    $('job-dim').textContent = Number(info.dim).toLocaleString('en');
    ['round-id', 'participants', 'stragglers-count', 'excluded-count', 'latency', 'throughput']
      .forEach((id) => { $(id).textContent = '–'; });
    $('round-status').textContent = 'waiting for the first round';
    Object.values(charts).forEach((c) => c.clear());
  }

  function fillTable(id, rows, empty) {
    const body = document.querySelector('#' + id + ' tbody');
    body.replaceChildren();
    if (rows.length === 0) {
      const tr = body.insertRow();
      const td = tr.insertCell();
      td.colSpan = 2;
      td.className = 'empty';
      td.textContent = empty;
      return;
    }
    for (const [a, b] of rows) {
      const tr = body.insertRow();
      tr.insertCell().textContent = a;
      tr.insertCell().textContent = b;
    }
  }

  function onRound(r) {
    seen += 1;
    window.flagagg.roundsSeen = seen;
    window.flagagg.lastRound = r.round;
    const t = r.timings_ms || {};
    const latency = t.open_to_close;
    const mbps = latency > 0 ? (r.bytes_in / 1e6) / (latency / 1000) : null;
    const participants = r.participants || [];
    const stragglers = r.stragglers || [];
    const excluded = r.excluded || {};

    $('round-id').textContent = r.round;
    $('round-status').textContent = r.status + (r.error ? ': ' + r.error : '');
    $('participants').textContent = participants.length + ' / ' + r.workers;
    $('trigger').textContent = r.trigger || '';
    $('stragglers-count').textContent = stragglers.length;
    $('excluded-count').textContent = Object.keys(excluded).length;
    $('latency').textContent = fmt(latency, 0) + ' ms';
    $('throughput').textContent = mbps === null ? '–' : fmt(mbps, 1) + ' MB/s';
    $('rounds-seen').textContent = seen + ' rounds seen';

    fillTable('excluded-table', Object.entries(excluded).sort((a, b) => byName(a[0], b[0])), 'none');
    fillTable('stragglers-table', stragglers.map((s) => [s.worker, s.chunks + ' of ' + s.of]), 'none');
    fillTable('dropped-table', Object.entries(r.dropped_by_rule || {}).sort((a, b) => byName(a[0], b[0])), 'none');
    fillTable('rejected-table', Object.entries(r.rejected || {}), 'none');
    // A sharded job's round: each shard's columns, bytes in and times (one shard: no list).
    fillTable('shards-table', (r.shards || []).map((s) => [s.shard + ' [' + s.columns[0] + ', ' + s.columns[1] + ')',
      fmt(s.bytes_in / 1e6, 2) + ' MB · ' + fmt(s.fold_ms, 1) + ' ms · ' + fmt(s.output_ms, 1) + ' ms']), 'one shard');

    rounds.push({ round: r.round, latency, fold: t.fold_cpu, solve: t.solve, output: t.output, mbps });
    if (rounds.length > KEEP) rounds.shift();
    const details = r.details || {};
    if (details.quality) {
      heat.push({ round: r.round, quality: details.quality });
      if (heat.length > HEAT_ROUNDS) heat.shift();
    }
    drawWorkers(r, participants);
    drawHeat();
    drawLines();
  }

  // Per-worker bars of the last round: FA's quality and weight, the Krum family's scores, or the
  // coefficients of a linear rule. Workers the rule left out are red.
  function drawWorkers(r, participants) {
    const details = r.details || {};
    const workers = participants.slice().sort(byName);
    const selected = new Set(r.selected || participants);
    const color = (w) => (selected.has(w) ? '#3b82f6' : '#d64545');
    const series = [];
    let title;
    if (details.quality) {
      title = 'Per-worker quality and weight (round ' + r.round + ', FA: red = not selected)';
      series.push({ name: 'quality', type: 'bar', data: workers.map((w) => ({ value: details.quality[w],
        itemStyle: { color: color(w) } })) });
      if (details.weight) {
        series.push({ name: 'weight', type: 'line', yAxisIndex: 1, symbolSize: 6,
          data: workers.map((w) => details.weight[w]), itemStyle: { color: '#f59e0b' } });
      }
    } else if (details.scores) {
      title = 'Per-worker score (round ' + r.round + ', ' + r.rule + ': lower is better, red = dropped)';
      series.push({ name: 'score', type: 'bar', data: workers.map((w) => ({ value: details.scores[w],
        itemStyle: { color: color(w) } })) });
    } else if (r.coefficients) {
      title = 'Per-worker weight (round ' + r.round + ', ' + r.rule + ')';
      series.push({ name: 'weight', type: 'bar', data: workers.map((w) => ({ value: r.coefficients[w] || 0,
        itemStyle: { color: color(w) } })) });
    } else {
      title = r.rule + ' reports no per-worker quality (round ' + r.round + ')';
    }
    $('quality-title').textContent = title;
    charts.quality.setOption({
      animation: false,
      tooltip: { trigger: 'axis' },
      legend: { top: 0 },
      grid,
      xAxis: { type: 'category', data: workers, axisLabel: { interval: 0, rotate: workers.length > 16 ? 60 : 0 } },
      yAxis: [{ type: 'value', name: series.length ? series[0].name : '' },
        { type: 'value', name: 'weight', show: series.length > 1, splitLine: { show: false } }],
      series,
    }, true);
  }

  function drawHeat() {
    if (heat.length === 0) {
      return;
    }
    const workers = Array.from(new Set(heat.flatMap((h) => Object.keys(h.quality)))).sort(byName);
    const data = [];
    heat.forEach((h, x) => workers.forEach((w, y) => {
      const q = h.quality[w];
      if (q !== undefined && q !== null) {
        data.push([x, y, q]);
      }
    }));
    charts.heat.setOption({
      animation: false,
      tooltip: { formatter: (p) => 'round ' + heat[p.value[0]].round + ', ' + workers[p.value[1]] + ': q = '
        + fmt(p.value[2], 3) },
      grid: { left: 60, right: 70, top: 10, bottom: 40 },
      xAxis: { type: 'category', name: 'round', nameLocation: 'middle', nameGap: 26,
        data: heat.map((h) => h.round), splitArea: { show: true } },
      yAxis: { type: 'category', data: workers, splitArea: { show: true } },
      visualMap: { ...QUALITY_SCALE, calculable: true, orient: 'vertical', right: 0, top: 'center' },
      series: [{ name: 'quality', type: 'heatmap', data }],
    }, true);
  }

  function drawLines() {
    const x = rounds.map((p) => p.round);
    const line = (name, key) => ({ name, type: 'line', showSymbol: false, data: rounds.map((p) => p[key]) });
    charts.latency.setOption({
      animation: false, tooltip: { trigger: 'axis' }, legend: { top: 0 }, grid,
      xAxis: { type: 'category', data: x, name: 'round', nameLocation: 'middle', nameGap: 26 },
      yAxis: { type: 'value', name: 'ms' },
      series: [line('open to close', 'latency'), line('fold (cpu)', 'fold'), line('solve', 'solve'),
        line('output', 'output')],
    }, true);
    charts.throughput.setOption({
      animation: false, tooltip: { trigger: 'axis' }, grid,
      xAxis: { type: 'category', data: x, name: 'round', nameLocation: 'middle', nameGap: 26 },
      yAxis: { type: 'value', name: 'MB/s' },
      series: [{ name: 'MB/s in', type: 'line', areaStyle: { opacity: 0.15 }, showSymbol: false,
        data: rounds.map((p) => p.mbps) }],
    }, true);
  }

  function connect() {
    const source = new EventSource('/events');
    const status = $('connection');
    source.onopen = () => { status.textContent = 'live'; status.className = 'pill up'; };
    source.onerror = () => { status.textContent = 'reconnecting'; status.className = 'pill down'; };
    source.addEventListener('job', (e) => {
      const info = JSON.parse(e.data);
      // A reconnect to the same job keeps the view; a new job starts over.
      if (!job || job.job !== info.job) reset(info);
    });
    source.addEventListener('round', (e) => onRound(JSON.parse(e.data)));
  }
  connect();
}());
