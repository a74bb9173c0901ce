/* curvecast dashboard page.
 *
 * Routes (in the URL hash): #/ the studies; #/study/ID one study; #/study/ID/trial/N one trial.
 * Every string from the server is written with textContent (via el() and text nodes), never as
 * HTML: study names and parameter values are chosen by users. Data is polled every
 * config.poll_interval seconds, so the page follows a running search; a refresh keeps the
 * user's zoom, selection, table page and filter.
 *
 * For tests and for people reading the page's DOM, the chart element carries its state:
 * data-trial-count (curves drawn), data-stops / data-stops-drawn (stop markers given / inside
 * the view), data-shadow-marks, data-x-range / data-y-range (the scales now), data-zoomed; the
 * schedule chart under it (#schedule-chart, shown when the trial has a learning-rate schedule)
 * carries data-trial-number, data-points and data-x-range.
 */
"use strict";

(function () {
  const COLORS = {
    complete: "#2563eb",
    pruned: "#9ca3af",
    running: "#059669",
    fail: "#7c3aed",
    waiting: "#7c3aed",
    stop: "#dc2626",
    shadow: "#c2410c",
    incumbent: "#d97706",
    selected: "#111827",
    schedule: "#0e7490",
  };
  const FILL = {
    running90: "rgba(5,150,105,0.16)",
    running50: "rgba(5,150,105,0.32)",
    verdict90: "rgba(220,38,38,0.14)",
    verdict50: "rgba(220,38,38,0.28)",
  };
  const PAGE_SIZE = 50;
  const main = document.getElementById("main");
  const statusEl = document.getElementById("status");
  const crumbs = document.getElementById("crumbs");
  let config = { poll_interval: 2 };
  let timer = null;
  let generation = 0; // bumps on navigation, so a late answer for an old page is dropped
  let page = null; // the page on screen: {route, chart, chartKey, zoom, ...}
  let refreshes = 0;
  // what the user chose on a study page, kept across refreshes (and across visits to a trial)
  const prefs = { study: null, selected: null, yMode: "robust", table: null };

  // ---- small helpers ----------------------------------------------------------------------
  function el(tag, props, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (v === null || v === undefined) continue;
      if (k === "class") e.className = v;
      else if (k === "data") {
        for (const [dk, dv] of Object.entries(v)) if (dv !== null && dv !== undefined) e.dataset[dk] = String(dv);
      }
      else if (k === "on") for (const [ev, fn] of Object.entries(v)) e.addEventListener(ev, fn);
      else e.setAttribute(k, String(v));
    }
    for (const c of children) {
      if (c === null || c === undefined || c === false) continue;
      e.append(c instanceof Node ? c : document.createTextNode(visible(String(c))));
    }
    return e;
  }

  // Bidirectional controls (U+202E and kin) would show a name reversed, and could spoof one:
  // every string from the server is shown with them spelled out, e.g. "[U+202E]".
  const BIDI = /[\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/g;
  function visible(text) {
    return text.replace(BIDI, (ch) => "[U+" + ch.charCodeAt(0).toString(16).toUpperCase().padStart(4, "0") + "]");
  }

  // A user-chosen name, cut to `limit` characters with an ellipsis; the full name (up to 2,000
  // characters) in its title, so a 100,000-character name cannot push the columns off-screen.
  const NAME_LIMIT = 80;
  function nameText(name, limit) {
    const t = visible(String(name));
    const n = limit || NAME_LIMIT;
    return t.length <= n ? t : t.slice(0, n - 1) + "…";
  }
  function nameTitle(name) {
    const t = visible(String(name));
    return t.length <= NAME_LIMIT ? null : (t.length > 2000 ? t.slice(0, 1999) + "…" : t);
  }

  function fmt(v, digits) {
    if (v === null || v === undefined || Number.isNaN(v)) return "–";
    if (typeof v !== "number") return String(v);
    if (Number.isInteger(v) && Math.abs(v) < 1e6) return String(v);
    const a = Math.abs(v);
    if (a !== 0 && (a >= 1e5 || a < 1e-3)) return v.toExponential(2);
    return String(Number(v.toPrecision(digits || 4)));
  }

  // A probability as the explanations write it (Python's "{:.3f}"), so the P column and the
  // reason text never disagree.
  function prob(v) {
    return v === null || v === undefined ? "–" : v.toFixed(3);
  }

  function pct(v) {
    return v === null || v === undefined ? "–" : (100 * v).toFixed(1) + "%";
  }

  function paramText(params) {
    return Object.entries(params || {})
      .map(([k, v]) => k + "=" + (typeof v === "number" ? fmt(v) : String(v)))
      .join(", ");
  }

  function setStatus(text, isError) {
    statusEl.textContent = text;
    statusEl.classList.toggle("error", !!isError);
  }

  async function getJSON(path, revalidate) {
    // the chart answers with an ETag: "no-cache" lets the browser reuse it when unchanged
    const r = await fetch(path, { headers: { Accept: "application/json" }, cache: revalidate ? "no-cache" : "no-store" });
    let body = null;
    try {
      body = await r.json();
    } catch (e) {
      body = null;
    }
    if (!r.ok) {
      const msg = body && body.error ? body.error : "HTTP " + r.status;
      const err = new Error(msg);
      err.status = r.status;
      throw err;
    }
    return body;
  }

  function card(label, value, title, extraClass) {
    return el("div", { class: "card" + (extraClass ? " " + extraClass : ""), title: title },
      el("div", { class: "label" }, label), el("div", { class: "value" }, value));
  }

  function badge(state, text) {
    return el("span", { class: "badge " + state }, text || state);
  }

  function keyItem(kind, color, label) {
    let sw;
    if (kind === "box") sw = el("span", { class: "box", style: "background:" + color });
    else if (kind === "circle") sw = el("span", { class: "mark circle", style: "border-color:" + color });
    else if (kind === "triangle") sw = el("span", { class: "mark triangle", style: "color:" + color }, "▲");
    else sw = el("span", { class: "swatch" + (kind === "dashed" ? " dashed" : ""), style: "border-color:" + color });
    return el("span", null, sw, label);
  }

  function notesBox(notes, id) {
    if (!notes || !notes.length) return null;
    return el("div", { class: "notes", id: id, role: "note" }, ...notes.map((n) => el("div", null, "⚠ " + n)));
  }

  function chartWidth(container) {
    return Math.max(320, Math.floor(container.getBoundingClientRect().width || 800));
  }

  // ---- chart data ---------------------------------------------------------------------------
  function unionX(lists) {
    const all = new Set();
    for (const xs of lists) for (const x of xs) all.add(x);
    const xs = Array.from(all).sort((a, b) => a - b);
    return { xs, index: new Map(xs.map((x, i) => [x, i])) };
  }

  function column(n, index, xs, ys) {
    const col = new Array(n).fill(null);
    for (let i = 0; i < xs.length && i < ys.length; i++) col[index.get(xs[i])] = ys[i];
    return col;
  }

  function bandColumns(n, index, b) {
    return ["q05", "q95", "q25", "q75", "q50"].map((k) => column(n, index, b.x, b[k]));
  }

  // Adds a band's five series (5%, 95%, 25%, 75% invisible, the median dashed) and its fills.
  function addBand(built, n, index, b, color, fill90, fill50, label, width) {
    const first = built.series.length;
    const plain = { stroke: "transparent", width: 0, spanGaps: true, points: { show: false } };
    built.series.push({ label: label + " 5%", ...plain }, { label: label + " 95%", ...plain },
      { label: label + " 25%", ...plain }, { label: label + " 75%", ...plain },
      { label: label + " median", stroke: color, width: width || 1.5, dash: [6, 4], spanGaps: true, points: { show: false } });
    for (const c of bandColumns(n, index, b)) built.data.push(c);
    built.bands.push({ series: [first + 1, first], fill: fill90 });
    built.bands.push({ series: [first + 3, first + 2], fill: fill50 });
  }

  function studyChart(view, selectedDetail) {
    const chart = view.chart;
    const curves = chart.curves;
    const sel = prefs.selected;
    const selBand = selectedDetail && selectedDetail.number === sel ? selectedDetail.band : null;
    const bandXs = chart.bands.map((b) => b.x).concat(selBand ? [selBand.x] : []);
    const { xs, index } = unionX([chart.x].concat(bandXs));
    const n = xs.length;
    const gridIdx = chart.x.map((x) => index.get(x));
    const built = { data: [xs], series: [{ label: "step" }], bands: [], curveSeries: new Map(), markers: [],
      gridX: chart.x, gridIdx: gridIdx };
    let selCurve = null;
    for (const c of curves) {
      const col = new Array(n).fill(null);
      for (let i = 0; i < c.y.length; i++) col[gridIdx[i]] = c.y[i];
      if (c.n === sel) { selCurve = { c, col }; continue; } // drawn last, on top
      built.curveSeries.set(built.series.length, c);
      built.data.push(col);
      built.series.push({
        label: "trial " + c.n,
        stroke: COLORS[c.s] || COLORS.pruned,
        width: c.s === "pruned" ? 1 : 1.4,
        alpha: c.s === "pruned" ? 0.75 : 1,
        spanGaps: true,
        points: { show: false },
      });
    }
    for (const b of chart.bands) {
      if (b.n === sel && selBand) continue;
      // with a trial selected, the other bands step back so that its band reads clearly
      const faint = sel !== null;
      addBand(built, n, index, b, faint ? "rgba(5,150,105,0.35)" : COLORS.running,
        faint ? "rgba(5,150,105,0.05)" : FILL.running90, faint ? "rgba(5,150,105,0.09)" : FILL.running50,
        "trial " + b.n);
    }
    if (selBand) {
      const v = selBand.source === "verdict";
      addBand(built, n, index, selBand, v ? COLORS.stop : COLORS.running,
        v ? "rgba(220,38,38,0.20)" : "rgba(5,150,105,0.22)",
        v ? "rgba(220,38,38,0.38)" : "rgba(5,150,105,0.42)", "selected", 2);
    }
    if (selCurve) {
      built.curveSeries.set(built.series.length, selCurve.c);
      built.data.push(selCurve.col);
      built.series.push({ label: "trial " + sel, stroke: COLORS.selected, width: 2.75, spanGaps: true, points: { show: false } });
    }
    const inc = view.study.incumbent;
    if (inc !== null && inc !== undefined) {
      built.data.push(new Array(n).fill(inc));
      built.series.push({ label: "incumbent", stroke: COLORS.incumbent, width: 1.5, dash: [8, 5], points: { show: false } });
    }
    for (const c of curves) {
      if (c.stop) built.markers.push({ kind: "stop", x: c.stop[0], y: c.stop[1], n: c.n });
      if (c.shadow) built.markers.push({ kind: "shadow", x: c.shadow[0], y: c.shadow[1], n: c.n, o: c.o });
    }
    built.key = curves.length + "|" + curves.map((c) => c.s[0] + (c.y.length > 0 ? "" : "e")).join("") + "|" +
      chart.bands.map((b) => b.n).join(",") + "|" + sel + "|" + (selBand ? "b" : "") + "|" + (inc !== null) + "|" + n;
    built.count = curves.length;
    built.yRange = chart.y_range;
    built.curves = curves;
    return built;
  }

  function trialChart(view) {
    const t = view.trial;
    const b = t.band;
    const { xs, index } = unionX([t.steps].concat(b ? [b.x] : []));
    const n = xs.length;
    const color = COLORS[t.state] || COLORS.pruned;
    const built = { data: [xs, column(n, index, t.steps, t.values)], bands: [], markers: [], curveSeries: new Map(),
      series: [{ label: "step" }, { label: "observed", stroke: color, width: 2, spanGaps: true,
        points: { show: true, size: 5, fill: color } }] };
    if (b) {
      const v = b.source === "verdict";
      addBand(built, n, index, b, v ? COLORS.stop : COLORS.running, v ? FILL.verdict90 : FILL.running90,
        v ? FILL.verdict50 : FILL.running50, "forecast", 2);
    }
    const inc = view.study.incumbent;
    if (inc !== null && inc !== undefined) {
      built.data.push(new Array(n).fill(inc));
      built.series.push({ label: "incumbent", stroke: COLORS.incumbent, width: 1.5, dash: [8, 5], points: { show: false } });
    }
    if (t.state === "pruned" && t.steps.length) {
      built.markers.push({ kind: "stop", x: t.last_step, y: t.values[t.values.length - 1], n: t.number });
    }
    if (t.shadow) {
      const i = t.steps.indexOf(t.shadow.step);
      if (i >= 0) built.markers.push({ kind: "shadow", x: t.shadow.step, y: t.values[i], n: t.number, o: t.shadow.outcome });
    }
    built.key = (b ? "b" + b.x.length : "") + (inc !== null) + t.state + n;
    built.count = 1;
    built.yRange = null;
    return built;
  }

  // ---- chart drawing: markers, zoom, tooltip -------------------------------------------------
  // Markers are drawn from their own list, one per trial, so stops at the same step never
  // overwrite each other (uPlot's series share one x array: one point per x per series).
  function drawMarkers(u) {
    const b = page.built;
    if (!b) return;
    const ctx = u.ctx;
    const { left, top, width, height } = u.bbox;
    const r = 4.5 * devicePixelRatio;
    let stops = 0;
    let inView = 0;
    let shadows = 0;
    ctx.save();
    ctx.beginPath();
    ctx.rect(left, top, width, height);
    ctx.clip();
    ctx.lineWidth = 2 * devicePixelRatio;
    for (const m of b.markers) {
      if (m.y === null || m.y === undefined) continue;
      if (m.kind === "stop") stops++; else shadows++;
      const px = u.valToPos(m.x, "x", true);
      const py = u.valToPos(m.y, "y", true);
      if (!(px >= left - 1 && px <= left + width + 1 && py >= top - 1 && py <= top + height + 1)) continue;
      if (m.kind === "stop") inView++;
      ctx.beginPath();
      if (m.kind === "stop") {
        ctx.arc(px, py, r, 0, 2 * Math.PI);
        ctx.fillStyle = "#ffffff";
        ctx.strokeStyle = COLORS.stop;
      } else {
        ctx.moveTo(px, py - r * 1.2);
        ctx.lineTo(px + r, py + r * 0.8);
        ctx.lineTo(px - r, py + r * 0.8);
        ctx.closePath();
        ctx.fillStyle = m.o === "wrong" ? COLORS.shadow : "#ffffff";
        ctx.strokeStyle = COLORS.shadow;
      }
      ctx.fill();
      ctx.stroke();
    }
    ctx.restore();
    const ds = page.chartEl.dataset;
    ds.stops = String(stops);
    ds.stopsDrawn = String(inView);
    ds.shadowMarks = String(shadows);
  }

  function defaultY(built) {
    const yr = built.yRange;
    if (!yr || !yr.robust) return null;
    return prefs.yMode === "full" ? yr.full : yr.robust;
  }

  // Puts the scales where the user left them (zoom), else the default view.
  function applyView(u) {
    page.applying = true;
    try {
      const z = page.zoom;
      const xs = u.data[0];
      const xr = z && z.x ? z.x.slice() : [xs[0], xs[xs.length - 1]];
      if (xr[0] === xr[1]) { xr[0] -= 0.5; xr[1] += 0.5; }
      else if (!(z && z.x)) {
        // a little room at both ends: a stop marker at the first or last step is drawn whole,
        // not cut in half by the chart's edge
        const pad = (xr[1] - xr[0]) * 0.02;
        xr[0] -= pad;
        xr[1] += pad;
      }
      let yr = z && z.y ? z.y : defaultY(page.built);
      if (!yr) yr = dataYRange(u);
      u.batch(() => {
        u.setScale("x", { min: xr[0], max: xr[1] });
        u.setScale("y", { min: yr[0], max: yr[1] });
      });
    } finally {
      page.applying = false;
    }
    recordScales(u);
  }

  function dataYRange(u) {
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 1; i < u.data.length; i++) {
      for (const v of u.data[i]) {
        if (v === null || v === undefined) continue;
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
    }
    if (!Number.isFinite(lo)) return [0, 1];
    const pad = (hi - lo) * 0.05 || Math.abs(hi) * 0.05 || 0.5;
    return [lo - pad, hi + pad];
  }

  function recordScales(u) {
    const ds = page.chartEl.dataset;
    const x = u.scales.x;
    const y = u.scales.y;
    ds.xRange = [x.min, x.max].map((v) => Number(v).toPrecision(6)).join(",");
    ds.yRange = [y.min, y.max].map((v) => Number(v).toPrecision(6)).join(",");
    ds.zoomed = page.zoom ? "1" : "0";
    if (page.resetBtn) page.resetBtn.disabled = !page.zoom;
    syncScheduleX(u);
  }

  function onScale(u) {
    if (page.applying || !page.userDrag) { recordScales(u); return; }
    // the user dragged a zoom box: keep it across refreshes until reset
    page.zoom = { x: [u.scales.x.min, u.scales.x.max], y: [u.scales.y.min, u.scales.y.max] };
    if (page.route.view === "study") prefs.zoom = page.zoom;
    recordScales(u);
  }

  function resetZoom() {
    page.zoom = null;
    if (page.route.view === "study") prefs.zoom = null;
    if (page.chart) applyView(page.chart);
  }

  // The curve nearest the cursor (within 24 px), for the tooltip and for clicks.
  // The union x also holds the forecast bands' points, where curves have no value: look up the
  // curves at the grid point nearest the cursor instead.
  function gridIndexAt(u, left) {
    const b = page.built;
    if (!b.gridX) return u.cursor.idx;
    const x = u.posToVal(left, "x");
    const g = b.gridX;
    let lo = 0;
    let hi = g.length - 1;
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (g[mid] <= x) lo = mid; else hi = mid;
    }
    const k = Math.abs(g[lo] - x) <= Math.abs(g[hi] - x) ? lo : hi;
    return b.gridIdx[k];
  }

  function nearestCurve(u) {
    const b = page.built;
    const { left, top } = u.cursor;
    if (!b || left === undefined || left < 0 || !u.data[0].length) return null;
    const i = gridIndexAt(u, left);
    if (i === null || i === undefined) return null;
    let best = null;
    let bestD = 24;
    for (const [si, c] of b.curveSeries) {
      const col = u.data[si];
      const v = col[i];
      if (v === null || v === undefined) continue;
      const d = Math.abs(u.valToPos(v, "y") - top);
      if (d < bestD) { bestD = d; best = { c, x: u.data[0][i], y: v }; }
    }
    return best;
  }

  function tipText(c, x, y) {
    const inc = page.view && page.view.study ? page.view.study.incumbent : null;
    const lines = ["trial " + c.n + " · " + c.s, "step " + fmt(x) + ": " + fmt(y)];
    // P is given against the value it was computed against (the incumbent of that decision)
    const against = c.i !== undefined ? c.i : inc;
    if (c.s === "pruned" && c.stop) {
      lines.push("stopped at step " + fmt(c.stop[0]) + (c.p !== undefined ? ": P(final beats " + fmt(against) + ") was " + prob(c.p) : ""));
    } else if (c.s === "running" && c.p !== undefined) {
      lines.push("P(final beats " + fmt(against) + ") now " + prob(c.p));
    } else if (c.s === "complete") {
      const last = c.y[c.y.length - 1];
      lines.push("finished at " + fmt(last) + (inc !== null && last === inc ? " (the incumbent)" : ""));
    }
    if (c.shadow) {
      const o = c.o === "right" ? " (would have been right)" : c.o === "wrong" ? " (would have been wrong)" : "";
      lines.push("shadow pruner: would have stopped it at step " + fmt(c.shadow[0]) + o);
    }
    if (c.note) lines.push("⚠ has a note: see its row");
    lines.push("click to select");
    return lines;
  }

  function tooltipPlugin() {
    let tip = null;
    return {
      hooks: {
        init: (u) => {
          tip = el("div", { class: "chart-tip", id: "chart-tip", role: "tooltip" });
          tip.style.display = "none";
          u.over.appendChild(tip);
          u.over.addEventListener("mouseleave", () => { tip.style.display = "none"; page.hover = null; });
          u.over.addEventListener("click", () => {
            if (page.route.view !== "study" || !page.hover || page.dragged) return;
            selectTrial(page.hover.c.n);
          });
          u.over.addEventListener("mousedown", (e) => {
            page.downAt = [e.clientX, e.clientY];
            page.dragged = false;
            page.userDrag = true;
          });
          u.over.addEventListener("mouseup", (e) => {
            const d = page.downAt;
            page.dragged = !!d && Math.hypot(e.clientX - d[0], e.clientY - d[1]) > 4;
          });
        },
        setCursor: (u) => {
          if (!tip) return;
          const hit = nearestCurve(u);
          page.hover = hit;
          if (!hit) { tip.style.display = "none"; return; }
          tip.replaceChildren(...tipText(hit.c, hit.x, hit.y).map((t, i) => el("div", { class: i === 0 ? "tip-head" : null }, t)));
          tip.style.display = "block";
          const w = u.over.clientWidth;
          const left = u.cursor.left + 14;
          tip.style.left = (left + 240 > w ? Math.max(0, u.cursor.left - 254) : left) + "px";
          tip.style.top = Math.max(0, u.cursor.top - 10) + "px";
        },
      },
    };
  }

  function drawChart(container, built, direction) {
    const width = chartWidth(container);
    container.dataset.trialCount = String(built.count);
    page.built = built;
    if (built.data[0].length === 0) {
      if (page.chart) page.chart.destroy();
      page.chart = null;
      page.chartKey = "";
      container.replaceChildren(el("p", { class: "muted empty-chart" },
        "No trial has reported intermediate values yet: curves appear once trials call trial.report()."));
      return;
    }
    if (page.chart && page.chartKey === built.key) {
      page.applying = true;
      try { page.chart.setData(built.data, false); } finally { page.applying = false; }
      applyView(page.chart);
      return;
    }
    if (page.chart) page.chart.destroy();
    container.textContent = "";
    const opts = {
      width: width,
      height: 420,
      legend: { show: false },
      scales: { x: { time: false }, y: { auto: false } },
      series: built.series,
      bands: built.bands,
      axes: [
        { label: "step", labelSize: 24, stroke: "#374151", grid: { stroke: "#eef0f3" } },
        { label: "reported value" + (direction ? " (" + direction + ")" : ""), labelSize: 24,
          size: 70, stroke: "#374151", grid: { stroke: "#eef0f3" } },
      ],
      cursor: {
        drag: { x: true, y: true, uni: 40 },
        points: { show: false },
        bind: { dblclick: () => () => { resetZoom(); return null; } },
      },
      plugins: [tooltipPlugin()],
      hooks: { draw: [drawMarkers], setScale: [(u) => onScale(u)] },
    };
    page.applying = true;
    try {
      page.chart = new uPlot(opts, built.data, container);
    } finally {
      page.applying = false;
    }
    page.chartKey = built.key;
    applyView(page.chart);
  }

  // ---- the trial's learning-rate schedule, in a short chart under the curves -----------------
  // Same width and y-axis gutter as the chart above, and its x range follows that chart's (zoom
  // included), so a step of the schedule sits under the step of the curve it shaped.
  function lrText(v) {
    const a = Math.abs(v);
    if (a === 0) return "0";
    const r = Number(v.toPrecision(3));
    return a >= 0.01 && a < 1e4 ? String(r) : r.toExponential();
  }

  function syncScheduleX(u) {
    const sc = page && page.schedChart;
    const m = u || page.chart;
    if (!sc || !m || m === sc || m !== page.chart) return;
    const x = m.scales.x;
    if (x.min === null || x.max === null || x.min === undefined || x.max === undefined) return;
    sc.setScale("x", { min: x.min, max: x.max });
    page.schedEl.dataset.xRange = [x.min, x.max].map((v) => Number(v).toPrecision(6)).join(",");
  }

  function drawSchedule(container, trial) {
    const s = trial ? trial.schedule : null;
    if (!s || !s.x || !s.x.length) {
      if (page.schedChart) page.schedChart.destroy();
      page.schedChart = null;
      page.schedKey = "";
      container.replaceChildren();
      container.hidden = true;
      return;
    }
    container.hidden = false;
    const key = trial.number + "|" + s.name + "|" + s.x.join(",") + "|" + s.lr.join(",");
    if (page.schedChart && page.schedKey === key) { syncScheduleX(); return; }
    if (page.schedChart) page.schedChart.destroy();
    const top = Math.max(...s.lr) * 1.08 || 1;
    const plot = el("div", { class: "schedule-plot" });
    container.replaceChildren(el("div", { class: "schedule-caption muted" },
      "learning rate of trial " + trial.number + " (" + s.name + " schedule" +
      (s.end !== undefined ? ", ends at step " + fmt(s.end) : "") + ")"), plot);
    container.dataset.trialNumber = String(trial.number);
    container.dataset.points = String(s.x.length);
    page.schedChart = new uPlot({
      width: chartWidth(page.chartEl),
      height: 150,
      pxAlign: 0,
      legend: { show: false },
      scales: { x: { time: false }, y: { auto: false, range: [0, top] } },
      series: [{ label: "step" }, { label: "learning rate", stroke: COLORS.schedule, width: 2,
        fill: "rgba(14,116,144,0.08)", points: { show: false } }],
      axes: [
        { stroke: "#374151", grid: { stroke: "#eef0f3" } },
        { label: "learning rate", labelSize: 24, size: 70, space: 20, stroke: "#374151", grid: { stroke: "#eef0f3" },
          values: (u, vals) => vals.map(lrText) },
      ],
      cursor: { drag: { x: false, y: false }, points: { show: false } },
    }, [s.x, s.lr], plot);
    page.schedChart.setScale("y", { min: 0, max: top });
    page.schedKey = key;
    syncScheduleX();
  }

  // uPlot applies a drag's zoom on mouseup (anywhere in the document); scale changes after that
  // are the page's own (new data, resize), not the user's
  document.addEventListener("mouseup", () => {
    if (page && page.userDrag) setTimeout(() => { page.userDrag = false; }, 80);
  });

  window.addEventListener("resize", () => {
    if (page && page.chart && page.chartEl) {
      page.chart.setSize({ width: chartWidth(page.chartEl), height: 420 });
    }
    if (page && page.schedChart && page.chartEl) {
      page.schedChart.setSize({ width: chartWidth(page.chartEl), height: 150 });
    }
  });

  // ---- views --------------------------------------------------------------------------------
  function setCrumbs(parts) {
    crumbs.textContent = "";
    parts.forEach(([label, href], i) => {
      if (i > 0) crumbs.append("/ ");
      const props = { href: href || null, title: nameTitle(label) };
      crumbs.append(href ? el("a", props, nameText(label)) : el("span", props, nameText(label)));
    });
  }

  function renderStudies(body) {
    setCrumbs([["studies", null]]);
    const rows = body.studies.map((s) => el("tr", { data: { studyId: s.id }, class: "study-row" },
      el("td", null, el("a", { href: "#/study/" + encodeURIComponent(s.id), class: "study-link", title: nameTitle(s.name) }, nameText(s.name)),
        s.notes && s.notes.length ? el("div", { class: "row-note" }, "⚠ " + s.notes.join(" · ")) : null),
      el("td", null, s.direction),
      el("td", { class: "num" }, fmt(s.n_trials)),
      el("td", { class: "num" }, s.states.complete || 0),
      el("td", { class: "num" }, s.states.pruned || 0),
      el("td", { class: "num" }, s.states.running || 0),
      el("td", { class: "num", title: "trials a shadow pruner would have stopped" },
        s.shadow ? s.shadow.would_prune : "–"),
      el("td", { class: "num" }, fmt(s.best_value)),
      el("td", { class: "num" }, pct(s.compute.fraction_saved))));
    main.textContent = "";
    main.append(el("h1", null, "Studies"),
      el("p", { class: "muted" }, body.studies.length + " in this storage. Pick one to see its trials."));
    if (!body.studies.length) {
      main.append(el("p", null, "No studies yet. Start a search that writes to this storage; it will appear here."));
      return;
    }
    main.append(el("table", { id: "studies" },
      el("thead", null, el("tr", null, el("th", null, "study"), el("th", null, "direction"),
        el("th", { class: "num" }, "trials"), el("th", { class: "num" }, "completed"),
        el("th", { class: "num" }, "pruned"), el("th", { class: "num" }, "running"),
        el("th", { class: "num", title: "trials a shadow pruner (ForecastPruner(shadow=True)) would have stopped" }, "would prune"),
        el("th", { class: "num" }, "best value"), el("th", { class: "num", title: "steps that pruned trials did not run, as a share of a search without pruning" }, "compute saved"))),
      el("tbody", null, ...rows)));
  }

  function studyCards(s) {
    const c = s.compute;
    const cards = [
      card("trials", s.n_trials),
      card("completed", s.states.complete || 0),
      card("pruned", s.states.pruned || 0),
      card("running", s.states.running || 0),
      card("incumbent", fmt(s.incumbent), "best final reported value among completed trials: what a running trial must beat"),
      card("horizon (final step)", fmt(s.horizon)),
      card("compute saved",
        c.fraction_saved === null ? "–" : pct(c.fraction_saved) + " (" + fmt(c.steps_saved) + " steps)",
        "steps that pruned trials did not run, relative to running every trial to the horizon"),
    ];
    const sh = s.shadow;
    if (sh) {
      cards.push(card("shadow pruner: would have pruned",
        sh.would_prune + " (right " + sh.right + ", wrong " + sh.wrong + (sh.pending ? ", pending " + sh.pending : "") + ")" +
          " · would save " + fmt(sh.steps_would_save) + " steps",
        "a ForecastPruner(shadow=True) records the stops it would make and prunes nothing. Right: the trial " +
        "finished below the value it was judged against; wrong: it went on to beat it.", sh.lost_best ? "alert" : "shadow"));
      if (sh.lost_best) cards.push(card("shadow pruner", "would have lost the best trial", null, "alert"));
    }
    return el("div", { class: "cards", id: "cards" }, ...cards);
  }

  function studyKey(s) {
    // only what this study has: a finished shadow-mode study has no stop and no running band
    const st = s.states;
    return el("div", { class: "key", id: "chart-key" },
      keyItem("line", COLORS.complete, "completed (" + (st.complete || 0) + ")"),
      st.pruned ? keyItem("line", COLORS.pruned, "pruned (" + st.pruned + ")") : null,
      st.running ? keyItem("line", COLORS.running, "running (" + st.running + ")") : null,
      st.pruned ? keyItem("circle", COLORS.stop, "where a trial was stopped") : null,
      s.shadow ? keyItem("triangle", COLORS.shadow, "where a shadow pruner would have stopped it (filled: wrongly)") : null,
      s.incumbent !== null ? keyItem("dashed", COLORS.incumbent, "incumbent " + fmt(s.incumbent)) : null,
      st.running ? keyItem("box", "rgba(5,150,105,0.35)", "forecast 50% / 90% band (running)") : null,
      keyItem("line", COLORS.selected, "selected trial, with its forecast"));
  }

  function chartToolbar(view) {
    const yr = view.chart.y_range;
    const out = yr && yr.outside ? yr.outside : 0;
    const mode = (m, label, title) => el("button", {
      type: "button", class: "seg" + (prefs.yMode === m ? " on" : ""), id: "y-" + m, title: title,
      on: { click: () => { prefs.yMode = m; page.zoom = null; prefs.zoom = null; refresh(false); } },
    }, label);
    page.resetBtn = el("button", { type: "button", id: "reset-zoom", on: { click: resetZoom } }, "reset zoom");
    page.resetBtn.disabled = !page.zoom;
    return el("div", { class: "toolbar" },
      el("span", { class: "muted" }, "y range:"),
      mode("robust", "robust", "leaves out a few far-off trials so that the rest are readable"),
      mode("full", "everything", "every reported value, however far"),
      page.resetBtn,
      el("span", { class: "muted hint" }, "drag to zoom (sideways: steps, up/down: values, diagonal: both), double-click to reset · hover a curve for its trial, click to select it"),
      out && prefs.yMode === "robust" && !page.zoom
        ? el("span", { class: "outside", id: "outside-note" }, out + (out === 1 ? " trial reaches" : " trials reach") + " beyond this range")
        : null,
      view.chart.thinned ? el("span", { class: "muted" }, "curves thinned to " + view.chart.x.length + " points for drawing") : null);
  }

  function pCell(t) {
    if (t.state === "complete") {
      return el("td", { class: "num muted", title: "finished: its final value is known, so there is nothing left to forecast" }, "finished");
    }
    if (t.prob_better === null || t.prob_better === undefined) return el("td", { class: "num" }, "–");
    const when = t.p_when === "at the stop" ? "at the stop" : t.p_when === "now" ? "now" : "";
    return el("td", { class: "num", title: "probability that its final value beats the incumbent, " + (when || "") },
      prob(t.prob_better), when ? el("span", { class: "when" }, " " + when) : null);
  }

  function trialRows(view) {
    return view.trials.map((t) => {
      const shadow = t.shadow;
      return el("tr", {
        class: "trial-row clickable" + (t.number === prefs.selected ? " selected" : "") + (t.notes.length ? " has-notes" : ""),
        data: { trialNumber: t.number, state: t.state, shadow: shadow ? shadow.outcome || "yes" : null },
        title: "click to select it on the chart",
        on: { click: (ev) => {
          if (ev.target.tagName === "A") return;
          selectTrial(prefs.selected === t.number ? null : t.number);
        } },
      },
      el("td", { class: "num" }, t.number),
      el("td", null, badge(t.state),
        shadow ? el("span", { class: "badge shadow", title: shadow.explain }, "would prune") : null),
      el("td", { class: "num" }, fmt(t.value !== null ? t.value : t.last_value)),
      el("td", { class: "num" }, fmt(t.last_step)),
      pCell(t),
      el("td", { class: "why" }, t.why || "",
        t.notes.length ? el("div", { class: "row-note" }, ...t.notes.map((n) => el("div", null, "⚠ " + n))) : null),
      el("td", { class: "params" }, paramText(t.params)),
      el("td", null, el("a", { href: "#/study/" + page.route.study + "/trial/" + t.number, class: "detail-link" }, "details")));
    });
  }

  function tableControls(view) {
    const s = view.study;
    const p = view.page;
    const tbl = prefs.table;
    const tab = (state, label, count) => el("button", {
      type: "button", class: "seg" + (tbl.state === state ? " on" : ""), data: { state: state },
      on: { click: () => { tbl.state = state; tbl.offset = 0; refresh(false); } },
    }, label + (count !== undefined ? " (" + count + ")" : ""));
    const tabs = [tab("all", "all", s.n_trials)];
    for (const [state, label] of [["complete", "completed"], ["pruned", "pruned"], ["running", "running"]]) {
      if (s.states[state] || tbl.state === state) tabs.push(tab(state, label, s.states[state] || 0));
    }
    if (s.states.fail) tabs.push(tab("fail", "failed", s.states.fail));
    if (s.shadow) tabs.push(tab("shadow", "would have pruned", s.shadow.would_prune));
    if (s.trials_with_notes) tabs.push(tab("notes", "with notes", s.trials_with_notes));
    const sort = el("select", { id: "sort", on: { change: (e) => { tbl.sort = e.target.value; tbl.offset = 0; refresh(false); } } },
      ...[["number", "number"], ["-value", "value, high first"], ["value", "value, low first"],
        ["-p", "P(beat incumbent), high first"], ["p", "P(beat incumbent), low first"], ["-last_step", "last step, latest first"]]
        .map(([v, label]) => { const o = el("option", { value: v }, "sort: " + label); if (v === tbl.sort) o.selected = true; return o; }));
    const from = p.total ? p.offset + 1 : 0;
    const to = Math.min(p.offset + p.limit, p.total);
    const prev = el("button", { type: "button", id: "prev-page", on: { click: () => { tbl.offset = Math.max(0, tbl.offset - tbl.limit); refresh(false); } } }, "◀ previous");
    const next = el("button", { type: "button", id: "next-page", on: { click: () => { tbl.offset += tbl.limit; refresh(false); } } }, "next ▶");
    prev.disabled = p.offset <= 0;
    next.disabled = to >= p.total;
    return el("div", { class: "toolbar" }, ...tabs, sort,
      el("span", { class: "pager", id: "pager" }, prev, " rows " + from + "–" + to + " of " + p.total + " ", next));
  }

  function selectionPanel(view) {
    const sel = prefs.selected;
    if (sel === null) {
      return el("p", { class: "muted", id: "selected" }, "Click a curve or a row to see one trial's forecast and why it was stopped or kept.");
    }
    const d = page.detail && page.detail.number === sel ? page.detail : null;
    if (!d) return el("p", { class: "muted", id: "selected" }, "trial " + sel + "…");
    const b = d.band;
    const bandText = b
      ? (b.source === "verdict" ? "forecast made when it was stopped" : "forecast now (" + (b.method || "") + ")") +
        ": final value at step " + fmt(b.x[b.x.length - 1]) + " between " + fmt(b.q05[b.q05.length - 1]) + " and " +
        fmt(b.q95[b.q95.length - 1]) + " (90%), median " + fmt(b.q50[b.q50.length - 1])
      : d.state === "complete" ? "finished: no forecast needed" : "no forecast band for this trial";
    return el("div", { class: "selected-panel", id: "selected", data: { trialNumber: sel } },
      el("div", null, el("b", null, "Trial " + sel), " ", badge(d.state),
        d.shadow ? el("span", { class: "badge shadow" }, "would prune") : null, " ",
        el("a", { href: "#/study/" + page.route.study + "/trial/" + sel }, "details"), " · ",
        el("a", { href: "#", on: { click: (e) => { e.preventDefault(); selectTrial(null); } } }, "clear selection")),
      el("div", { class: "why" }, d.why || ""),
      el("div", { id: "selected-band" }, bandText),
      el("div", { class: "params" }, paramText(d.params)),
      notesBox(d.notes, null));
  }

  async function loadDetail(number) {
    const gen = generation;
    try {
      const body = await getJSON("api/studies/" + page.route.study + "/trials/" + number);
      if (gen !== generation || prefs.selected !== number) return;
      page.detail = body.trial;
      if (page.view) renderStudy(page.view);
    } catch (err) {
      if (gen === generation) setStatus(err.message, true);
    }
  }

  function selectTrial(number) {
    prefs.selected = number;
    page.detail = null;
    if (page.view) renderStudy(page.view);
    if (number !== null) loadDetail(number);
  }

  function renderStudy(view) {
    const s = view.study;
    page.view = view;
    setCrumbs([["studies", "#/"], [s.name, null]]);
    if (!page.built_dom) {
      main.textContent = "";
      page.titleEl = el("h1", { id: "study-name" });
      page.subEl = el("p", { class: "muted" });
      page.notesEl = el("div");
      page.cardsEl = el("div");
      page.keyEl = el("div");
      page.toolEl = el("div");
      page.chartEl = el("div", { class: "chart", id: "study-chart", role: "img", "aria-label": "learning curves of all trials" });
      page.schedEl = el("div", { class: "schedule-chart", id: "schedule-chart", role: "img", "aria-label": "learning rate of the selected trial", hidden: "" });
      page.selEl = el("div");
      page.tableCtl = el("div");
      page.tableEl = el("div");
      main.append(page.titleEl, page.subEl, page.notesEl, page.cardsEl, el("h2", null, "Learning curves"), page.keyEl,
        page.toolEl, page.chartEl, page.schedEl, page.selEl, el("h2", null, "Trials"), page.tableCtl, page.tableEl);
      page.built_dom = true;
    }
    page.titleEl.textContent = nameText(s.name, 200);
    if (nameTitle(s.name)) page.titleEl.title = nameTitle(s.name); else page.titleEl.removeAttribute("title");
    page.subEl.textContent = s.direction + " · " + s.n_trials + " trials · data read " +
      (view.read_at ? new Date(view.read_at).toLocaleTimeString() : "now");
    const notes = (s.notes || []).slice();
    if (s.trials_with_notes) notes.push(s.trials_with_notes + (s.trials_with_notes === 1 ? " trial has" : " trials have") + " records that could not be read: see “with notes” below");
    page.notesEl.replaceChildren(notesBox(notes, "study-notes") || "");
    page.cardsEl.replaceChildren(studyCards(s));
    page.keyEl.replaceChildren(studyKey(s));
    page.toolEl.replaceChildren(chartToolbar(view));
    drawChart(page.chartEl, studyChart(view, page.detail), s.direction);
    drawSchedule(page.schedEl, page.detail && page.detail.number === prefs.selected ? page.detail : null);
    page.chartEl.dataset.trialTotal = String(s.n_trials);
    page.selEl.replaceChildren(selectionPanel(view));
    page.tableCtl.replaceChildren(tableControls(view));
    page.tableEl.replaceChildren(el("table", { id: "trials" },
      el("thead", null, el("tr", null, el("th", { class: "num" }, "#"), el("th", null, "state"),
        el("th", { class: "num" }, "value"), el("th", { class: "num" }, "last step"),
        el("th", { class: "num", title: "the forecast probability that the trial's final value beats the incumbent: now for a running trial, when it was stopped for a pruned one; a completed trial has its final value, nothing to forecast" }, "P(beat incumbent)"),
        el("th", null, "decision and why"), el("th", null, "parameters"), el("th", null, ""))),
      el("tbody", null, ...trialRows(view))));
  }

  function renderTrial(view) {
    const s = view.study;
    const t = view.trial;
    page.view = view;
    setCrumbs([["studies", "#/"], [s.name, "#/study/" + s.id], ["trial " + t.number, null]]);
    if (!page.built_dom) {
      main.textContent = "";
      page.titleEl = el("h1", { id: "trial-title" });
      page.subEl = el("p", { class: "muted" });
      page.whyEl = el("p", { id: "trial-why", class: "why" });
      page.notesEl = el("div");
      page.cardsEl = el("div");
      page.keyEl = el("div");
      page.toolEl = el("div");
      page.chartEl = el("div", { class: "chart", id: "trial-chart", role: "img", "aria-label": "the trial's curve and forecast" });
      page.schedEl = el("div", { class: "schedule-chart", id: "schedule-chart", role: "img", "aria-label": "the trial's learning rate", hidden: "" });
      page.tablesEl = el("div");
      main.append(page.titleEl, page.subEl, page.whyEl, page.notesEl, page.cardsEl, page.keyEl, page.toolEl, page.chartEl,
        page.schedEl, page.tablesEl);
      page.built_dom = true;
    }
    page.titleEl.textContent = "Trial " + t.number;
    page.titleEl.removeAttribute("title");
    page.subEl.textContent = "study “" + nameText(s.name) + "” · " + s.direction;
    page.whyEl.textContent = t.why || "no curvecast decision recorded";
    page.notesEl.replaceChildren(notesBox(t.notes, "trial-notes") || "");
    const pLabel = t.state === "complete" ? "finished" : t.prob_better === null ? "–" : prob(t.prob_better) + (t.p_when ? " (" + t.p_when + ")" : "");
    page.cardsEl.replaceChildren(el("div", { class: "cards" },
      el("div", { class: "card" }, el("div", { class: "label" }, "state"), el("div", { class: "value" }, badge(t.state))),
      card("value", fmt(t.value !== null ? t.value : t.last_value)),
      card("last step", fmt(t.last_step)),
      card("P(beat incumbent)", pLabel, "forecast probability that the final value beats the incumbent"),
      // the incumbent its P was computed against (for a pruned trial: when it was stopped),
      // not today's best, which may have moved on since
      t.p_against !== null && t.p_against !== undefined
        ? card(t.state === "pruned" ? "incumbent when stopped" : "incumbent judged against",
          fmt(t.p_against), "the value P(beat incumbent) was computed against; today's incumbent: " + fmt(s.incumbent))
        : card("incumbent", fmt(s.incumbent)),
      card("steps saved", fmt(t.steps_saved)),
      t.shadow ? card("shadow pruner", "would have stopped at " + fmt(t.shadow.step) + (t.shadow.outcome ? " (" + t.shadow.outcome + ")" : ""), t.shadow.explain, "shadow") : null,
      card("duration", t.duration_s === null ? "–" : fmt(t.duration_s, 3) + " s")));
    const b = t.band;
    page.keyEl.replaceChildren(el("div", { class: "key" },
      keyItem("line", COLORS[t.state] || COLORS.pruned, "observed (" + t.steps.length + " points)"),
      b ? keyItem("dashed", b.source === "verdict" ? COLORS.stop : COLORS.running,
        b.source === "verdict" ? "forecast median when it was judged" : "forecast median (" + (b.method || "") + ")") : null,
      b ? keyItem("box", b.source === "verdict" ? FILL.verdict50 : FILL.running50, "50% band") : null,
      b ? keyItem("box", b.source === "verdict" ? FILL.verdict90 : FILL.running90, "90% band") : null,
      t.state === "pruned" ? keyItem("circle", COLORS.stop, "stopped here") : null,
      t.shadow ? keyItem("triangle", COLORS.shadow, "a shadow pruner would have stopped it here") : null,
      keyItem("dashed", COLORS.incumbent, "incumbent " + fmt(s.incumbent))));
    page.resetBtn = el("button", { type: "button", id: "reset-zoom", on: { click: resetZoom } }, "reset zoom");
    page.toolEl.replaceChildren(el("div", { class: "toolbar" }, page.resetBtn,
      el("span", { class: "muted hint" }, "drag to zoom, double-click to reset")));
    drawChart(page.chartEl, trialChart(view), s.direction);
    drawSchedule(page.schedEl, t);
    const vrows = (t.verdicts || []).slice().reverse().map((v) => el("tr", { class: "verdict-row" + (v.shadow ? " shadow" : "") },
      el("td", { class: "num" }, fmt(v.step)), el("td", null, v.shadow ? "would prune (shadow)" : v.decision), el("td", null, v.reason),
      el("td", { class: "num" }, prob(v.prob_better)),
      el("td", { class: "num" }, fmt((v.final_quantiles || {})["0.5"])),
      el("td", { class: "num", title: v.incumbent_source ? "the forecast of " + v.incumbent_source
        : "the best completed trial" }, fmt(v.incumbent) + (v.incumbent_source ? " *" : "")),
      el("td", null, v.method || "–")));
    const prows = Object.entries(t.params).map(([k, v]) => el("tr", null, el("td", null, k),
      el("td", null, typeof v === "number" ? fmt(v, 6) : String(v))));
    page.tablesEl.replaceChildren(
      el("h2", null, "Parameters"),
      prows.length ? el("table", { id: "params" }, el("tbody", null, ...prows)) : el("p", { class: "muted" }, "none"),
      el("h2", null, "Decisions (latest first)"),
      vrows.length ? el("table", { id: "verdicts" },
        el("thead", null, el("tr", null, el("th", { class: "num" }, "step"), el("th", null, "decision"),
          el("th", null, "reason"), el("th", { class: "num" }, "P(beat incumbent)"),
          el("th", { class: "num" }, "forecast median"), el("th", { class: "num" }, "incumbent"),
          el("th", null, "method"))),
        el("tbody", null, ...vrows)) : el("p", { class: "muted" }, "no curvecast decision recorded"));
  }

  function renderError(err, route) {
    page.built_dom = false;
    if (page.chart) { page.chart.destroy(); page.chart = null; }
    if (page.schedChart) { page.schedChart.destroy(); page.schedChart = null; }
    // never leave the previous page's breadcrumbs above an error
    const what = route.view === "trial" ? "trial " + route.trial + " of study " + route.study
      : route.view === "study" ? "study " + route.study : "studies";
    setCrumbs([["studies", "#/"], [what + " (not found)", null]]);
    main.replaceChildren(el("div", { class: "error-box", id: "error" }, err.message),
      el("p", null, el("a", { href: "#/" }, "back to the studies")));
  }

  // ---- routing and polling ------------------------------------------------------------------
  function parseRoute() {
    const h = location.hash.replace(/^#/, "");
    let m = h.match(/^\/study\/(\d+)\/trial\/(\d+)$/);
    if (m) return { view: "trial", study: Number(m[1]), trial: Number(m[2]) };
    m = h.match(/^\/study\/(\d+)$/);
    if (m) return { view: "study", study: Number(m[1]) };
    return { view: "studies" };
  }

  function studyQuery() {
    const t = prefs.table;
    return "?offset=" + t.offset + "&limit=" + t.limit + "&state=" + encodeURIComponent(t.state) +
      "&sort=" + encodeURIComponent(t.sort);
  }

  async function refresh(schedule) {
    const gen = generation;
    const r = page.route;
    try {
      let body;
      if (r.view === "trial") {
        body = await getJSON("api/studies/" + r.study + "/trials/" + r.trial);
        if (gen !== generation) return;
        renderTrial(body);
      } else if (r.view === "study") {
        const asked = studyQuery();
        const [rows, chart] = await Promise.all([
          getJSON("api/studies/" + r.study + asked + "&chart=0"),
          getJSON("api/studies/" + r.study + "/chart", true),
        ]);
        if (gen !== generation) return;
        if (asked !== studyQuery()) {
          // the user changed the filter, sort or page while this answer was on its way: the
          // answer to the new question is coming, do not flash the old one
          if (schedule !== false) { clearTimeout(timer); timer = setTimeout(() => refresh(true), 1000 * config.poll_interval); }
          return;
        }
        body = rows;
        body.chart = chart;
        if (body.page.offset > 0 && body.page.offset >= body.page.total) {
          prefs.table.offset = 0; // the filter shrank under the page
        }
        renderStudy(body);
        if (prefs.selected !== null && schedule !== false) loadDetail(prefs.selected);
      } else {
        body = await getJSON("api/studies");
        if (gen !== generation) return;
        renderStudies(body);
      }
      refreshes++;
      document.body.dataset.refreshes = String(refreshes);
      document.body.dataset.ready = "1";
      setStatus("updated " + new Date().toLocaleTimeString(), false);
    } catch (err) {
      if (gen !== generation) return;
      if (err.status === 404) renderError(err, r);
      else setStatus(err.status ? err.message : "cannot reach the dashboard server", true);
    }
    if (schedule !== false && gen === generation) {
      clearTimeout(timer);
      timer = setTimeout(() => refresh(true), 1000 * config.poll_interval);
    }
  }

  function navigate() {
    generation++;
    clearTimeout(timer);
    if (page && page.chart) page.chart.destroy();
    if (page && page.schedChart) page.schedChart.destroy();
    const route = parseRoute();
    if (route.view !== "studies" && prefs.study !== route.study) {
      prefs.study = route.study;
      prefs.selected = null;
      prefs.zoom = null;
      prefs.table = { offset: 0, limit: PAGE_SIZE, state: "all", sort: "number" };
    }
    if (!prefs.table) prefs.table = { offset: 0, limit: PAGE_SIZE, state: "all", sort: "number" };
    page = {
      route: route, chart: null, chartKey: "", built_dom: false, detail: null,
      zoom: route.view === "study" ? prefs.zoom || null : null,
    };
    document.body.dataset.ready = "";
    main.replaceChildren(el("p", { class: "muted" }, "Loading…"));
    refresh(true);
    if (route.view === "study" && prefs.selected !== null) loadDetail(prefs.selected);
  }

  async function start() {
    try {
      config = await getJSON("api/config");
    } catch (err) {
      setStatus("cannot reach the dashboard server", true);
    }
    document.getElementById("storage").textContent = config.storage || "";
    document.getElementById("poll").textContent = String(config.poll_interval);
    document.getElementById("version").textContent = config.version || "";
    window.addEventListener("hashchange", navigate);
    navigate();
  }

  start();
})();
