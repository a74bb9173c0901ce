/* curvecast dashboard page.
 *
 * Routes (in the URL hash): #/ the studies; #/study/ID one study; #/study/ID/trial/N one trial.
 * Every string from the server is written with textContent (via el() and text nodes), never as
 * HTML: study names and parameter values are chosen by users. Data is polled every
 * config.poll_interval seconds, so the page follows a running search.
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
    incumbent: "#d97706",
    selected: "#111827",
  };
  const main = document.getElementById("main");
  const statusEl = document.getElementById("status");
  const crumbs = document.getElementById("crumbs");
  let config = { poll_interval: 2 };
  let timer = null;
  let generation = 0; // bumps on navigation, so a late answer for an old page is dropped
  let page = null; // {route, chart, chartKey, ...} of the page on screen
  let selected = null; // trial number highlighted on the study chart

  // ---- small helpers ----------------------------------------------------------------------
  function el(tag, props, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (v === null || v === undefined) continue;
      if (k === "class") e.className = v;
      else if (k === "data") for (const [dk, dv] of Object.entries(v)) e.dataset[dk] = String(dv);
      else if (k === "on") for (const [ev, fn] of Object.entries(v)) e.addEventListener(ev, fn);
      else e.setAttribute(k, String(v));
    }
    for (const c of children) {
      if (c === null || c === undefined || c === false) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  function fmt(v, digits) {
    if (v === null || v === undefined || Number.isNaN(v)) return "–";
    if (typeof v !== "number") return String(v);
    if (Number.isInteger(v) && Math.abs(v) < 1e6) return String(v);
    const a = Math.abs(v);
    if (a !== 0 && (a >= 1e5 || a < 1e-3)) return v.toExponential(2);
    return String(Number(v.toPrecision(digits || 4)));
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

  async function getJSON(path) {
    const r = await fetch(path, { headers: { Accept: "application/json" }, cache: "no-store" });
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

  function card(label, value, title) {
    return el("div", { class: "card", title: title }, el("div", { class: "label" }, label),
      el("div", { class: "value" }, value));
  }

  function badge(state) {
    return el("span", { class: "badge " + state }, state);
  }

  function keyItem(kind, color, label) {
    const sw = kind === "box"
      ? el("span", { class: "box", style: "background:" + color })
      : kind === "cross"
        ? el("span", { class: "cross" }, "○")
        : el("span", { class: "swatch" + (kind === "dashed" ? " dashed" : ""), style: "border-color:" + color });
    return el("span", null, sw, label);
  }

  function chartWidth(container) {
    return Math.max(320, Math.floor(container.getBoundingClientRect().width || 800));
  }

  // ---- charts -------------------------------------------------------------------------------
  // Builds uPlot data on the union of every x; trials without a point at some x get null there.
  function alignedData(xsets) {
    const all = new Set();
    for (const xs of xsets) for (const x of xs) all.add(x);
    const xs = Array.from(all).sort((a, b) => a - b);
    const index = new Map(xs.map((x, i) => [x, i]));
    return { xs, index };
  }

  function column(n, index, xs, ys) {
    const col = new Array(n).fill(null);
    for (let i = 0; i < xs.length; i++) col[index.get(xs[i])] = ys[i];
    return col;
  }

  function bandSeries(band, color, label) {
    // three series: 5%, 95% (filled between) and the median, dashed
    return [
      { label: label + " 5%", stroke: "transparent", width: 0, spanGaps: true, points: { show: false } },
      { label: label + " 95%", stroke: "transparent", width: 0, spanGaps: true, points: { show: false } },
      { label: label + " median", stroke: color, width: 1.5, dash: [5, 4], spanGaps: true, points: { show: false } },
    ];
  }

  function studyChart(view) {
    const trials = view.trials.filter((t) => t.steps.length > 0);
    const banded = trials.filter((t) => t.band && (t.state === "running" || t.number === selected));
    const { xs, index } = alignedData(
      trials.map((t) => t.steps).concat(banded.map((t) => t.band.x)));
    const n = xs.length;
    const data = [xs];
    const series = [{ label: "step" }];
    const bands = [];
    for (const t of trials) {
      const isSel = t.number === selected;
      data.push(column(n, index, t.steps, t.values));
      series.push({
        label: "trial " + t.number,
        stroke: isSel ? COLORS.selected : (COLORS[t.state] || COLORS.pruned),
        width: isSel ? 2.5 : 1.3,
        spanGaps: true,
        points: { show: false },
      });
    }
    for (const t of banded) {
      const b = t.band;
      const color = t.state === "running" ? COLORS.running : COLORS.stop;
      const first = series.length;
      for (const s of bandSeries(b, color, "trial " + t.number)) series.push(s);
      data.push(column(n, index, b.x, b.q05), column(n, index, b.x, b.q95), column(n, index, b.x, b.q50));
      bands.push({ series: [first + 1, first], fill: t.state === "running" ? "rgba(5,150,105,0.18)" : "rgba(220,38,38,0.15)" });
    }
    const stopped = trials.filter((t) => t.state === "pruned");
    if (stopped.length) {
      data.push(column(n, index, stopped.map((t) => t.last_step), stopped.map((t) => t.values[t.values.length - 1])));
      series.push({
        label: "stopped",
        stroke: COLORS.stop,
        width: 0,
        paths: () => null,
        points: { show: true, size: 8, width: 2, stroke: COLORS.stop, fill: "#ffffff" },
      });
    }
    const inc = view.study.incumbent;
    if (inc !== null && inc !== undefined) {
      data.push(new Array(n).fill(inc));
      series.push({ label: "incumbent", stroke: COLORS.incumbent, width: 1.5, dash: [8, 5], points: { show: false } });
    }
    const key = trials.map((t) => t.number + (t.band ? "b" : "")).join(",") + "|" +
      banded.map((t) => t.number).join(",") + "|" + selected + "|" + stopped.length + "|" + (inc !== null);
    return { data, series, bands, key, count: trials.length };
  }

  function trialChart(view) {
    const t = view.trial;
    const b = t.band;
    const { xs, index } = alignedData([t.steps].concat(b ? [b.x] : []));
    const n = xs.length;
    const data = [xs, column(n, index, t.steps, t.values)];
    const series = [
      { label: "step" },
      { label: "observed", stroke: COLORS[t.state] || COLORS.pruned, width: 2, spanGaps: true,
        points: { show: true, size: 5, fill: COLORS[t.state] || COLORS.pruned } },
    ];
    const bands = [];
    if (b) {
      const color = b.source === "verdict" ? COLORS.stop : COLORS.running;
      data.push(column(n, index, b.x, b.q05), column(n, index, b.x, b.q95),
        column(n, index, b.x, b.q25), column(n, index, b.x, b.q75), column(n, index, b.x, b.q50));
      const plain = { stroke: "transparent", width: 0, spanGaps: true, points: { show: false } };
      series.push({ label: "5%", ...plain }, { label: "95%", ...plain }, { label: "25%", ...plain },
        { label: "75%", ...plain },
        { label: "forecast median", stroke: color, width: 2, dash: [6, 4], spanGaps: true, points: { show: false } });
      bands.push({ series: [3, 2], fill: b.source === "verdict" ? "rgba(220,38,38,0.13)" : "rgba(5,150,105,0.15)" });
      bands.push({ series: [5, 4], fill: b.source === "verdict" ? "rgba(220,38,38,0.25)" : "rgba(5,150,105,0.30)" });
    }
    const inc = view.study.incumbent;
    if (inc !== null && inc !== undefined) {
      data.push(new Array(n).fill(inc));
      series.push({ label: "incumbent", stroke: COLORS.incumbent, width: 1.5, dash: [8, 5], points: { show: false } });
    }
    return { data, series, bands, key: (b ? "b" : "") + (inc !== null) + t.state, count: 1 };
  }

  function drawChart(container, built, direction) {
    const width = chartWidth(container);
    container.dataset.trialCount = String(built.count);
    if (built.data[0].length === 0) {
      if (page.chart) page.chart.destroy();
      page.chart = null;
      page.chartKey = "";
      container.replaceChildren(el("p", { class: "muted empty-chart" },
        "No trial has reported intermediate values yet: curves appear once trials call trial.report()."));
      return;
    }
    if (page.chart && page.chartKey === built.key) {
      page.chart.setData(built.data);
    } else {
      if (page.chart) page.chart.destroy();
      container.textContent = "";
      const opts = {
        width: width,
        height: 380,
        legend: { show: false },
        scales: { x: { time: false } },
        series: built.series,
        bands: built.bands,
        axes: [
          { label: "step", labelSize: 24, stroke: "#374151", grid: { stroke: "#eef0f3" } },
          { label: "reported value" + (direction ? " (" + direction + ")" : ""), labelSize: 24,
            size: 64, stroke: "#374151", grid: { stroke: "#eef0f3" } },
        ],
        cursor: { drag: { x: true, y: false } },
      };
      page.chart = new uPlot(opts, built.data, container);
      page.chartKey = built.key;
    }
  }

  window.addEventListener("resize", () => {
    if (page && page.chart && page.chartEl) {
      page.chart.setSize({ width: chartWidth(page.chartEl), height: 380 });
    }
  });

  // ---- views --------------------------------------------------------------------------------
  function setCrumbs(parts) {
    crumbs.textContent = "";
    parts.forEach(([label, href], i) => {
      if (i > 0) crumbs.append("/ ");
      crumbs.append(href ? el("a", { href: href }, label) : el("span", null, label));
    });
  }

  function renderStudies(body) {
    setCrumbs([["studies", null]]);
    const rows = body.studies.map((s) => el("tr", { data: { studyId: s.id }, class: "study-row" },
      el("td", null, el("a", { href: "#/study/" + encodeURIComponent(s.id), class: "study-link" }, s.name)),
      el("td", null, s.direction),
      el("td", { class: "num" }, s.n_trials),
      el("td", { class: "num" }, s.states.complete || 0),
      el("td", { class: "num" }, s.states.pruned || 0),
      el("td", { class: "num" }, s.states.running || 0),
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
        el("th", { class: "num" }, "best value"), el("th", { class: "num", title: "steps that pruned trials did not run, as a share of a search without pruning" }, "compute saved"))),
      el("tbody", null, ...rows)));
  }

  function studyCards(s) {
    const c = s.compute;
    return el("div", { class: "cards", id: "cards" },
      card("trials", s.n_trials),
      card("completed", s.states.complete || 0),
      card("pruned", s.states.pruned || 0),
      card("running", s.states.running || 0),
      card("incumbent", fmt(s.incumbent), "best final reported value among completed trials"),
      card("horizon (final step)", fmt(s.horizon)),
      card("compute saved",
        c.fraction_saved === null ? "–" : pct(c.fraction_saved) + " (" + fmt(c.steps_saved) + " steps)",
        "steps that pruned trials did not run, relative to running every trial to the horizon"));
  }

  function studyKey(s) {
    return el("div", { class: "key", id: "chart-key" },
      keyItem("line", COLORS.complete, "completed (" + (s.states.complete || 0) + ")"),
      keyItem("line", COLORS.pruned, "pruned (" + (s.states.pruned || 0) + ")"),
      keyItem("line", COLORS.running, "running (" + (s.states.running || 0) + ")"),
      keyItem("cross", COLORS.stop, "where a trial was stopped"),
      keyItem("dashed", COLORS.incumbent, "incumbent " + fmt(s.incumbent)),
      keyItem("box", "rgba(5,150,105,0.35)", "forecast 90% band (running)"),
      keyItem("box", "rgba(220,38,38,0.3)", "forecast at the stop (selected trial)"),
      keyItem("line", COLORS.selected, "selected trial"));
  }

  function trialRows(view) {
    return view.trials.map((t) => {
      const row = el("tr", {
        class: "trial-row clickable" + (t.number === selected ? " selected" : ""),
        data: { trialNumber: t.number, state: t.state },
        title: "click to highlight on the chart",
        on: { click: (ev) => {
          if (ev.target.tagName === "A") return;
          selected = selected === t.number ? null : t.number;
          refresh(false);
        } },
      },
      el("td", { class: "num" }, t.number),
      el("td", null, badge(t.state)),
      el("td", { class: "num" }, fmt(t.value !== null ? t.value : t.last_value)),
      el("td", { class: "num" }, fmt(t.last_step)),
      el("td", { class: "num" }, t.prob_better === null ? "–" : fmt(t.prob_better, 3)),
      el("td", { class: "why" }, t.why || (t.latest ? t.latest.explain : "")),
      el("td", { class: "params" }, paramText(t.params)),
      el("td", null, el("a", { href: "#/study/" + page.route.study + "/trial/" + t.number, class: "detail-link" }, "details")));
      return row;
    });
  }

  function renderStudy(view) {
    const s = view.study;
    setCrumbs([["studies", "#/"], [s.name, null]]);
    if (!page.built) {
      main.textContent = "";
      page.titleEl = el("h1", { id: "study-name" });
      page.subEl = el("p", { class: "muted" });
      page.cardsEl = el("div");
      page.keyEl = el("div");
      page.chartEl = el("div", { class: "chart", id: "study-chart", role: "img", "aria-label": "learning curves of all trials" });
      page.tableEl = el("div");
      main.append(page.titleEl, page.subEl, page.cardsEl, el("h2", null, "Learning curves"), page.keyEl,
        page.chartEl, el("h2", null, "Trials"), page.tableEl);
      page.built = true;
    }
    page.titleEl.textContent = s.name;
    page.subEl.textContent = s.direction + " · " + s.n_trials + " trials · click a row to highlight it, " +
      "“details” for its forecast and decisions";
    page.cardsEl.replaceChildren(studyCards(s));
    page.keyEl.replaceChildren(studyKey(s));
    drawChart(page.chartEl, studyChart(view), s.direction);
    page.chartEl.dataset.trialTotal = String(s.n_trials);
    page.tableEl.replaceChildren(el("table", { id: "trials" },
      el("thead", null, el("tr", null, el("th", { class: "num" }, "#"), el("th", null, "state"),
        el("th", { class: "num" }, "value"), el("th", { class: "num" }, "last step"),
        el("th", { class: "num", title: "probability that the final value beats the incumbent, at the latest decision" }, "P(beat incumbent)"),
        el("th", null, "decision and why"), el("th", null, "parameters"), el("th", null, ""))),
      el("tbody", null, ...trialRows(view))));
  }

  function renderTrial(view) {
    const s = view.study;
    const t = view.trial;
    setCrumbs([["studies", "#/"], [s.name, "#/study/" + s.id], ["trial " + t.number, null]]);
    if (!page.built) {
      main.textContent = "";
      page.titleEl = el("h1", { id: "trial-title" });
      page.subEl = el("p", { class: "muted" });
      page.whyEl = el("p", { id: "trial-why", class: "why" });
      page.cardsEl = el("div");
      page.keyEl = el("div");
      page.chartEl = el("div", { class: "chart", id: "trial-chart", role: "img", "aria-label": "the trial's curve and forecast" });
      page.tablesEl = el("div");
      main.append(page.titleEl, page.subEl, page.whyEl, page.cardsEl, page.keyEl, page.chartEl, page.tablesEl);
      page.built = true;
    }
    page.titleEl.textContent = "Trial " + t.number;
    page.subEl.textContent = "study “" + s.name + "” · " + s.direction;
    page.whyEl.textContent = t.why || (t.latest ? t.latest.explain : "no curvecast decision recorded");
    page.cardsEl.replaceChildren(el("div", { class: "cards" },
      el("div", { class: "card" }, el("div", { class: "label" }, "state"), el("div", { class: "value" }, badge(t.state))),
      card("value", fmt(t.value)),
      card("last step", fmt(t.last_step)),
      card("P(beat incumbent)", t.prob_better === null ? "–" : fmt(t.prob_better, 3)),
      card("incumbent", fmt(s.incumbent)),
      card("steps saved", fmt(t.steps_saved)),
      card("duration", t.duration_s === null ? "–" : fmt(t.duration_s, 3) + " s")));
    const b = t.band;
    page.keyEl.replaceChildren(el("div", { class: "key" },
      keyItem("line", COLORS[t.state] || COLORS.pruned, "observed (" + t.steps.length + " points)"),
      b ? keyItem("dashed", b.source === "verdict" ? COLORS.stop : COLORS.running,
        b.source === "verdict" ? "forecast median at the stop" : "forecast median (" + (b.method || "") + ")") : null,
      b ? keyItem("box", b.source === "verdict" ? "rgba(220,38,38,0.35)" : "rgba(5,150,105,0.4)", "50% band") : null,
      b ? keyItem("box", b.source === "verdict" ? "rgba(220,38,38,0.15)" : "rgba(5,150,105,0.18)", "90% band") : null,
      keyItem("dashed", COLORS.incumbent, "incumbent " + fmt(s.incumbent))));
    drawChart(page.chartEl, trialChart(view), s.direction);
    const vrows = (t.verdicts || []).slice().reverse().map((v) => el("tr", { class: "verdict-row" },
      el("td", { class: "num" }, fmt(v.step)), el("td", null, v.decision), el("td", null, v.reason),
      el("td", { class: "num" }, fmt(v.prob_better, 3)),
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

  function renderError(err) {
    page.built = false;
    if (page.chart) { page.chart.destroy(); page.chart = null; }
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
        body = await getJSON("api/studies/" + r.study);
        if (gen !== generation) return;
        renderStudy(body);
      } else {
        body = await getJSON("api/studies");
        if (gen !== generation) return;
        renderStudies(body);
      }
      document.body.dataset.ready = "1";
      setStatus("updated " + new Date().toLocaleTimeString(), false);
    } catch (err) {
      if (gen !== generation) return;
      if (err.status === 404) renderError(err);
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
    const route = parseRoute();
    if (!page || route.view !== "study" || page.route.study !== route.study) selected = null;
    page = { route: route, chart: null, chartKey: "", built: false };
    document.body.dataset.ready = "";
    main.replaceChildren(el("p", { class: "muted" }, "Loading…"));
    refresh(true);
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
