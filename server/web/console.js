// The web console at "/": picks series from the discovery endpoints, asks /api/v1/query for the
// visible range with a window chosen from its width (a few hundred to 1,000 points per series,
// as a dashboard does), draws them with uPlot (embedded in jialingd), and re-queries on every
// zoom and pan. Also a table and CSV of what is shown, a live table of latest readings and the
// server's status digested from /metrics. State for the browser tests is kept on window.jialing.
"use strict";

(function () {
  const TARGET_POINTS = 1000; // per series: the window is the smallest nice one that stays below
  const NICE_WINDOWS = [
    ["1s", 1e3], ["2s", 2e3], ["5s", 5e3], ["10s", 1e4], ["15s", 15e3], ["30s", 3e4],
    ["1m", 6e4], ["2m", 12e4], ["5m", 3e5], ["10m", 6e5], ["15m", 9e5], ["30m", 18e5],
    ["1h", 36e5], ["2h", 72e5], ["3h", 108e5], ["6h", 216e5], ["12h", 432e5], ["1d", 864e5],
    ["2d", 1728e5], ["7d", 6048e5], ["1mo", 2592e6], ["3mo", 7776e6], ["1y", 31536e6],
  ];
  const RANGES = { "1h": 36e5, "6h": 216e5, "1d": 864e5, "7d": 6048e5, "30d": 2592e6, "365d": 31536e6 };
  const COLOURS = ["#0b6bcb", "#d9480f", "#2b8a3e", "#862e9c", "#c2255c", "#e67700", "#1098ad",
    "#5c940d", "#364fc7", "#a61e4d"];
  // Probed when the server has no discovery endpoints (older servers).
  const KNOWN_METRICS = ["pm25", "pm10", "o3", "no2", "so2", "co", "nh3n", "cod", "codmn", "do", "tp", "ph"];
  const REFRESH_MS = 5000;

  const $ = (id) => document.getElementById(id);
  const state = {
    pinned: [],        // selectors kept on the chart
    view: null,        // {from, to}: the visible range, epoch ms, half-open
    full: null,        // {from, to}: the range of the time inputs (double-click returns here)
    chart: null,
    labels: "",        // series labels of the chart, to know when it must be rebuilt
    seq: 0,            // query generation: answers of older ones are dropped
    rows: null,        // the joined data shown, for the table
    seriesLabels: [],
  };
  // What the browser tests read.
  const exposed = { points: [], window: null, queries: [], csvUrls: [], queryCount: 0, ready: false };
  window.jialing = exposed;

  // ---- HTTP ----
  function headers() {
    const token = $("token").value.trim();
    return token ? { Authorization: "Bearer " + token } : {};
  }
  async function getJSON(url) {
    const r = await fetch(url, { headers: headers() });
    const text = await r.text();
    let body = null;
    try { body = JSON.parse(text); } catch (e) { /* not JSON */ }
    if (!r.ok) {
      const err = new Error((body && body.error) || r.status + " " + r.statusText);
      err.status = r.status;
      throw err;
    }
    return body;
  }
  function qs(params) {
    return Object.entries(params).filter(([, v]) => v !== undefined && v !== null && v !== "")
      .map(([k, v]) => encodeURIComponent(k) + "=" + encodeURIComponent(v)).join("&");
  }
  function showError(message) {
    const el = $("error");
    el.hidden = !message;
    el.textContent = message || "";
  }

  // ---- time zones: the inputs show wall time in the chosen zone ----
  function zoneOffsetMs(tz, ms) {
    const parts = new Intl.DateTimeFormat("en-US", {
      timeZone: tz, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", second: "2-digit",
    }).formatToParts(new Date(ms));
    const p = {};
    for (const part of parts) p[part.type] = part.value;
    const wall = Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour, +p.minute, +p.second);
    return wall - Math.floor(ms / 1000) * 1000;
  }
  function wallToMs(text, tz) {
    if (!text) return null;
    const m = text.match(/^(\d+)-(\d+)-(\d+)T(\d+):(\d+)(?::(\d+))?/);
    if (!m) return null;
    const wall = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +(m[6] || 0));
    let guess = wall - zoneOffsetMs(tz, wall);
    guess = wall - zoneOffsetMs(tz, guess);
    return guess;
  }
  function msToWall(ms, tz) {
    const d = new Date(ms + zoneOffsetMs(tz, ms));
    return d.toISOString().slice(0, 19);
  }
  function fmtTime(ms, tz) {
    return msToWall(ms, tz).replace("T", " ");
  }

  // ---- the selector being built ----
  function quote(v) {
    return '"' + v.replace(/\\/g, "\\\\").replace(/"/g, '\\"') + '"';
  }
  function currentSelector() {
    const metric = $("metric").value;
    if (!metric) return "";
    const tags = [];
    for (const sel of document.querySelectorAll("#tags select")) {
      if (sel.value) tags.push(sel.dataset.key + "=" + quote(sel.value));
    }
    return tags.length ? metric + "{" + tags.join(",") + "}" : metric;
  }
  function chartedSelectors() {
    const list = state.pinned.slice();
    const cur = currentSelector();
    if (cur && !list.includes(cur)) list.push(cur);
    return list;
  }
  function renderPinned() {
    const ul = $("selectors");
    ul.textContent = "";
    for (const sel of state.pinned) {
      const li = document.createElement("li");
      const span = document.createElement("span");
      span.textContent = sel;
      const rm = document.createElement("button");
      rm.type = "button";
      rm.textContent = "×";
      rm.title = "remove from the chart";
      rm.onclick = () => {
        state.pinned = state.pinned.filter((s) => s !== sel);
        renderPinned();
        refresh();
      };
      li.append(span, rm);
      ul.append(li);
    }
  }

  // ---- discovery ----
  async function loadMetrics() {
    let names = [];
    try {
      const body = await getJSON("/api/v1/metrics");
      for (const s of body.series || [])
        names.push({ name: s.metric, count: s.values && s.values[0] ? s.values[0][0] : null });
    } catch (e) {
      if (e.status === 401) throw e;
      // No discovery on this server: probe the usual environmental metrics.
      for (const name of KNOWN_METRICS) {
        try {
          const body = await getJSON("/api/v1/series?" + qs({ series: name }));
          if (body.series && body.series.length) names.push({ name, count: body.series.length });
        } catch (e2) { /* skip */ }
      }
    }
    const select = $("metric");
    select.textContent = "";
    for (const m of names) {
      const o = document.createElement("option");
      o.value = m.name;
      o.textContent = m.count != null ? m.name + " (" + m.count + ")" : m.name;
      select.append(o);
    }
    const preferred = names.find((m) => m.name === "pm25") || names[0];
    if (preferred) select.value = preferred.name;
    return names.length;
  }

  async function loadTags() {
    const metric = $("metric").value;
    const box = $("tags");
    box.textContent = "";
    if (!metric) return;
    let keys = null, valuesOf = {};
    try {
      const body = await getJSON("/api/v1/tags?" + qs({ metric }));
      keys = ((body.series && body.series[0] && body.series[0].values) || []).map((r) => r[0]);
      await Promise.all(keys.map(async (key) => {
        const b = await getJSON("/api/v1/tags?" + qs({ metric, key }));
        valuesOf[key] = ((b.series && b.series[0] && b.series[0].values) || []).map((r) => r[0]);
      }));
    } catch (e) {
      // Without discovery: the tags of the metric's series.
      const body = await getJSON("/api/v1/series?" + qs({ series: metric }));
      valuesOf = {};
      for (const s of body.series || [])
        for (const [k, v] of Object.entries(s.tags || {}))
          (valuesOf[k] = valuesOf[k] || new Set()).add(v);
      keys = Object.keys(valuesOf).sort();
      for (const k of keys) valuesOf[k] = Array.from(valuesOf[k]).sort();
    }
    for (const key of keys) {
      const label = document.createElement("label");
      label.textContent = key + " ";
      const sel = document.createElement("select");
      sel.dataset.key = key;
      sel.id = "tag-" + key;
      const any = document.createElement("option");
      any.value = "";
      any.textContent = "(any)";
      sel.append(any);
      for (const v of valuesOf[key] || []) {
        const o = document.createElement("option");
        o.value = v;
        o.textContent = v;
        sel.append(o);
      }
      sel.onchange = () => refresh();
      label.append(sel);
      box.append(label);
    }
  }

  // The whole time span of the charted selectors, from /api/v1/series.
  async function dataSpan() {
    let first = Infinity, last = -Infinity;
    for (const sel of chartedSelectors()) {
      const body = await getJSON("/api/v1/series?" + qs({ series: sel }));
      for (const s of body.series || []) {
        for (const row of s.values || []) {
          first = Math.min(first, row[0]);
          last = Math.max(last, row[1]);
        }
      }
    }
    if (!isFinite(first)) {
      const now = Date.now();
      return { from: now - 864e5, to: now };
    }
    return { from: first, to: last + 1 };
  }

  // ---- ranges ----
  function setRange(range) {
    const tz = $("tz").value;
    state.full = range;
    $("from").value = msToWall(range.from, tz);
    $("to").value = msToWall(range.to, tz);
    setView(range);
  }
  async function applyPreset(name) {
    for (const b of document.querySelectorAll("#presets button"))
      b.classList.toggle("on", b.dataset.range === name);
    if (name === "all") {
      setRange(await dataSpan());
    } else {
      const span = await dataSpan();
      const to = Math.max(span.to, Date.now());
      setRange({ from: to - RANGES[name], to });
    }
  }
  function rangeFromInputs() {
    const tz = $("tz").value;
    const from = wallToMs($("from").value, tz), to = wallToMs($("to").value, tz);
    if (from == null || to == null || !(from < to)) {
      showError("the range needs a From before its To");
      return;
    }
    for (const b of document.querySelectorAll("#presets button")) b.classList.remove("on");
    state.full = { from, to };
    setView(state.full);
  }
  let viewTimer = null;
  function setView(view, delayMs) {
    state.view = { from: Math.floor(view.from), to: Math.ceil(view.to) };
    clearTimeout(viewTimer);
    if (delayMs) viewTimer = setTimeout(refresh, delayMs);
    else refresh();
  }

  function chooseWindow(spanMs) {
    const choice = $("window").value;
    if (choice !== "auto") return choice;
    const need = spanMs / TARGET_POINTS;
    for (const [name, ms] of NICE_WINDOWS) if (ms >= need) return name;
    return NICE_WINDOWS[NICE_WINDOWS.length - 1][0];
  }
  function aggregates() {
    const list = Array.from(document.querySelectorAll("#aggs input:checked")).map((i) => i.value);
    return list.length ? list : ["mean"];
  }
  function queryParams(selector, format) {
    const win = chooseWindow(state.view.to - state.view.from);
    const p = { series: selector, from: state.view.from, to: state.view.to, tz: $("tz").value };
    if (win !== "raw") {
      p.window = win;
      p.agg = aggregates().join(",");
      if ($("fill").value !== "none") p.fill = $("fill").value;
    }
    if (format) p.format = format;
    return p;
  }

  function seriesLabel(s) {
    const tags = Object.entries(s.tags || {}).map(([k, v]) => k + "=" + v).join(",");
    return tags ? s.metric + "{" + tags + "}" : s.metric;
  }

  // ---- query and draw ----
  async function refresh() {
    if (!state.view) return;
    const seq = ++state.seq;
    const selectors = chartedSelectors();
    const win = chooseWindow(state.view.to - state.view.from);
    const urls = selectors.map((s) => "/api/v1/query?" + qs(queryParams(s)));
    $("info").textContent = "loading…";
    let answers;
    try {
      answers = await Promise.all(urls.map(getJSON));
    } catch (e) {
      if (seq === state.seq) {
        showError(e.message);
        $("info").textContent = "";
      }
      return;
    }
    if (seq !== state.seq) return; // a newer query is on its way
    showError("");
    const tables = [], labels = [];
    for (const body of answers) {
      for (const s of body.series || []) {
        const cols = s.columns.slice(1);
        const xs = s.values.map((r) => r[0] / 1000);
        const table = [xs];
        cols.forEach((c, i) => {
          table.push(s.values.map((r) => r[i + 1]));
          labels.push(seriesLabel(s) + (win === "raw" ? "" : " " + c));
        });
        tables.push(table);
      }
    }
    const data = tables.length ? uPlot.join(tables) : [[]];
    draw(data, labels);
    state.rows = data;
    state.seriesLabels = labels;
    exposed.points = data.slice(1).map((ys) => ys.filter((v) => v !== null && v !== undefined).length);
    exposed.window = win;
    exposed.queries = urls;
    exposed.csvUrls = selectors.map((s) => "/api/v1/query?" + qs(queryParams(s, "csv")));
    exposed.view = Object.assign({}, state.view);
    exposed.queryCount++;
    exposed.ready = true;
    const total = exposed.points.reduce((a, b) => a + b, 0);
    $("info").textContent = (win === "raw" ? "raw readings" : "window " + win + " (" + aggregates().join(", ") + ")") +
      " · " + labels.length + " line" + (labels.length === 1 ? "" : "s") + " · " + total + " points · " +
      fmtTime(state.view.from, $("tz").value) + " → " + fmtTime(state.view.to, $("tz").value);
    if (!$("table-wrap").hidden) renderTable();
  }

  let applyingScale = false;
  function draw(data, labels) {
    const el = $("chart");
    const tz = $("tz").value;
    const key = labels.join("\n") + "\n" + tz;
    if (!state.chart || state.labels !== key) {
      if (state.chart) state.chart.destroy();
      const opts = {
        width: Math.max(el.clientWidth, 300),
        height: 380,
        tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), tz),
        scales: { x: { time: true } },
        // 24-hour, year-month-day tick labels (uPlot's template table: tick step in seconds,
        // label, then the labels that mark a new year / day / minute below it).
        axes: [{
          values: [
            [31536000, "{YYYY}", null, null, null, null, null, null, 1],
            [2419200, "{MM}", "\n{YYYY}", null, null, null, null, null, 1],
            [86400, "{MM}-{DD}", "\n{YYYY}", null, null, null, null, null, 1],
            [3600, "{HH}:{mm}", "\n{YYYY}-{MM}-{DD}", null, "\n{MM}-{DD}", null, null, null, 1],
            [60, "{HH}:{mm}", "\n{YYYY}-{MM}-{DD}", null, "\n{MM}-{DD}", null, null, null, 1],
            [1, ":{ss}", "\n{YYYY}-{MM}-{DD} {HH}:{mm}", null, "\n{MM}-{DD} {HH}:{mm}", null, "\n{HH}:{mm}", null, 1],
          ],
        }, {}],
        cursor: {
          drag: { x: true, y: false },
          bind: {
            dblclick: () => () => { if (state.full) setView(state.full); return null; },
          },
        },
        series: [{}].concat(labels.map((l, i) => ({
          label: l, stroke: COLOURS[i % COLOURS.length], width: 1.5, spanGaps: false,
          points: { show: false },
        }))),
        hooks: {
          setScale: [(u, scaleKey) => {
            if (scaleKey !== "x" || applyingScale) return;
            const min = u.scales.x.min * 1000, max = u.scales.x.max * 1000;
            if (!state.view || !isFinite(min) || !isFinite(max) || !(min < max)) return;
            const span = state.view.to - state.view.from;
            if (Math.abs(min - state.view.from) < span * 1e-3 && Math.abs(max - state.view.to) < span * 1e-3) return;
            setView({ from: min, to: max }, 150);
          }],
        },
      };
      state.chart = new uPlot(opts, data, el);
      state.labels = key;
      state.chart.over.addEventListener("wheel", onWheel, { passive: false });
    } else {
      applyingScale = true;
      state.chart.setData(data, false);
      applyingScale = false;
    }
    applyingScale = true;
    state.chart.setScale("x", { min: state.view.from / 1000, max: state.view.to / 1000 });
    applyingScale = false;
  }

  // Wheel: zoom around the cursor (uPlot draws; the range and the query are ours).
  function onWheel(e) {
    e.preventDefault();
    const u = state.chart;
    const at = u.posToVal(e.offsetX, "x") * 1000;
    const factor = e.deltaY < 0 ? 0.75 : 1 / 0.75;
    zoomAround(at, factor);
  }
  function zoomAround(at, factor) {
    const v = state.view;
    const from = at - (at - v.from) * factor, to = at + (v.to - at) * factor;
    if (to - from < 1000) return;
    setView({ from, to }, 150);
  }
  function pan(fraction) {
    const v = state.view, d = (v.to - v.from) * fraction;
    setView({ from: v.from + d, to: v.to + d });
  }

  // ---- table and CSV ----
  function renderTable() {
    const t = $("table");
    t.textContent = "";
    const data = state.rows;
    if (!data || !data[0].length) return;
    const tz = $("tz").value;
    const head = t.createTHead().insertRow();
    for (const h of ["time (" + tz + ")"].concat(state.seriesLabels)) {
      const th = document.createElement("th");
      th.textContent = h;
      head.append(th);
    }
    const body = t.createTBody();
    const n = Math.min(data[0].length, 5000);
    for (let i = 0; i < n; i++) {
      const tr = body.insertRow();
      tr.insertCell().textContent = fmtTime(data[0][i] * 1000, tz);
      for (let s = 1; s < data.length; s++) {
        const td = tr.insertCell();
        td.className = "num";
        const v = data[s][i];
        td.textContent = v === null || v === undefined ? "" : String(v);
      }
    }
    if (data[0].length > n) {
      const tr = body.insertRow();
      const td = tr.insertCell();
      td.colSpan = data.length;
      td.textContent = "… " + (data[0].length - n) + " more rows: download the CSV for all";
    }
  }
  async function downloadCsv() {
    const parts = [];
    for (const url of exposed.csvUrls) {
      const r = await fetch(url, { headers: headers() });
      if (!r.ok) { showError("CSV: " + r.status + " " + (await r.text())); return; }
      let text = await r.text();
      // One header for the whole file: later selectors' headers are dropped when equal.
      if (parts.length) {
        const nl = text.indexOf("\n");
        if (nl >= 0 && parts[0].slice(0, parts[0].indexOf("\n")) === text.slice(0, nl)) text = text.slice(nl + 1);
      }
      parts.push(text);
    }
    const blob = new Blob(parts, { type: "text/csv" });
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = "jialing-" + ($("metric").value || "query") + ".csv";
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10000);
  }

  // ---- latest readings, live ----
  let latestSeq = 0;
  async function refreshLatest() {
    const sel = $("latest-selector").value.trim() || currentSelector();
    if (!sel) return;
    const seq = ++latestSeq;
    const live = $("live");
    try {
      const body = await getJSON("/api/v1/latest?" + qs({ series: sel }));
      if (seq !== latestSeq) return;
      const t = $("latest");
      t.textContent = "";
      const series = body.series || [];
      const extra = series.length ? series[0].columns.slice(2) : []; // flags, review marks when present
      const head = t.createTHead().insertRow();
      for (const h of ["series", "time (" + $("tz").value + ")", "value", "age"].concat(extra)) {
        const th = document.createElement("th");
        th.textContent = h;
        head.append(th);
      }
      const tb = t.createTBody();
      const now = Date.now();
      for (const s of series) {
        for (const row of s.values) {
          const tr = tb.insertRow();
          tr.insertCell().textContent = seriesLabel(s);
          tr.insertCell().textContent = fmtTime(row[0], $("tz").value);
          const v = tr.insertCell();
          v.className = "num";
          v.textContent = String(row[1]);
          tr.insertCell().textContent = age(now - row[0]);
          for (let i = 2; i < row.length; i++) tr.insertCell().textContent = row[i] === null ? "" : String(row[i]);
        }
      }
      live.classList.remove("stale");
      live.textContent = "live · " + new Date().toLocaleTimeString();
    } catch (e) {
      live.classList.add("stale");
      live.textContent = "stale: " + e.message;
    }
  }
  function age(ms) {
    if (ms < 0) return "future";
    const s = Math.round(ms / 1000);
    if (s < 120) return s + " s";
    if (s < 7200) return Math.round(s / 60) + " min";
    if (s < 172800) return Math.round(s / 3600) + " h";
    return Math.round(s / 86400) + " d";
  }

  // ---- status from /metrics ----
  let lastIngest = null;
  async function refreshStatus() {
    try {
      const r = await fetch("/metrics", { headers: headers() });
      if (!r.ok) return;
      const m = {};
      for (const line of (await r.text()).split("\n")) {
        if (!line || line[0] === "#") continue;
        const sp = line.lastIndexOf(" ");
        m[line.slice(0, sp)] = Number(line.slice(sp + 1));
      }
      const now = performance.now(), pts = m["jialing_points_ingested_total"];
      if (lastIngest && pts >= lastIngest.pts)
        $("st-rate").textContent = Math.round((pts - lastIngest.pts) / ((now - lastIngest.at) / 1000)).toLocaleString("en");
      else $("st-rate").textContent = "0";
      lastIngest = { pts, at: now };
      $("st-series").textContent = (m["jialing_series"] || 0).toLocaleString("en");
      $("st-readings").textContent = (m["jialing_readings"] || 0).toLocaleString("en");
      $("st-store").textContent = bytes(m["jialing_store_bytes"] || 0);
    } catch (e) { /* the next round tries again */ }
  }
  function bytes(n) {
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return (i ? n.toFixed(1) : n) + " " + units[i];
  }

  // ---- wiring ----
  async function start() {
    $("token").value = localStorage.getItem("jialing.token") || "";
    $("token").onchange = () => { localStorage.setItem("jialing.token", $("token").value.trim()); start(); };
    const tz = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (tz && !Array.from($("tz").options).some((o) => o.value === tz)) {
      const o = document.createElement("option");
      o.value = tz;
      o.textContent = tz + " (this browser)";
      $("tz").append(o);
    }
    refreshStatus();
    try {
      const count = await loadMetrics();
      if (!count) { showError("No series yet: write some readings (see the README), then reload."); return; }
      await loadTags();
      await applyPreset("all");
      refreshLatest();
    } catch (e) {
      showError(e.status === 401 ? "This server needs a read token: enter it above." : e.message);
    }
  }
  $("metric").onchange = async () => { await loadTags(); await applyPreset("all"); refreshLatest(); };
  $("add").onclick = () => {
    const cur = currentSelector();
    if (cur && !state.pinned.includes(cur)) state.pinned.push(cur);
    renderPinned();
    refresh();
  };
  for (const b of document.querySelectorAll("#presets button")) b.onclick = () => applyPreset(b.dataset.range);
  $("from").onchange = rangeFromInputs;
  $("to").onchange = rangeFromInputs;
  $("tz").onchange = () => { if (state.full) setRange(state.full); };
  $("window").onchange = () => refresh();
  $("fill").onchange = () => refresh();
  for (const i of document.querySelectorAll("#aggs input")) i.onchange = () => refresh();
  $("pan-left").onclick = () => pan(-0.5);
  $("pan-right").onclick = () => pan(0.5);
  $("zoom-out").onclick = () => zoomAround((state.view.from + state.view.to) / 2, 2);
  $("show-table").onclick = () => {
    const wrap = $("table-wrap");
    wrap.hidden = !wrap.hidden;
    $("show-table").classList.toggle("on", !wrap.hidden);
    if (!wrap.hidden) renderTable();
  };
  $("csv").onclick = downloadCsv;
  $("latest-selector").onchange = refreshLatest;
  window.addEventListener("resize", () => {
    if (state.chart) state.chart.setSize({ width: Math.max($("chart").clientWidth, 300), height: 380 });
  });
  setInterval(refreshLatest, REFRESH_MS);
  setInterval(refreshStatus, REFRESH_MS);
  // Test hook: show [from, to) as a drag-zoom would.
  exposed.zoomTo = (from, to) => setView({ from, to });
  start();
})();
