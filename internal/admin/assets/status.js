// weir status page: polls the admin API every second and draws the port
// ledger of each destination as live SVG charts. No dependencies; every
// value from the server goes into the DOM as text, never as markup.
"use strict";

const POLL_MS = 1000;
const HISTORY = 300; // samples kept per destination: 5 minutes at 1/s
const MIN_SPAN = 60; // the charts' shortest time axis, in samples
const SVG = "http://www.w3.org/2000/svg";
const REASONS = ["idle_timeout", "backend_close", "max_requests", "max_lifetime",
  "stale_on_reuse", "error", "dns_drain", "shutdown"];

// The charts of a pool card: which ledger fields each plots.
const CHARTS = [
  { id: "conns", title: "connections", series: [
    { key: "active", cls: "s-active", label: "active" },
    { key: "idle", cls: "s-idle", label: "idle" },
    { key: "waiting", cls: "s-waiting", label: "waiting" },
    { key: "dialing", cls: "s-dialing", label: "dialing" }] },
  { id: "ports", title: "ports held (open + closed in the last 240 s)", series: [
    { key: "ports", cls: "s-ports", label: "ports held" }] },
  { id: "new", title: "new connections per second", series: [
    { key: "new_per_second", cls: "s-new", label: "new/s" }] },
  { id: "reuse", title: "reuse ratio", max: 1, series: [
    { key: "reuse_ratio", cls: "s-reuse", label: "reused / requests" }] },
];

const state = { history: new Map(), polls: 0, failures: 0 };

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const k of kids) e.append(k);
  return e;
}

function svgEl(tag, attrs) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  return e;
}

function fmt(v) {
  if (typeof v !== "number" || !isFinite(v)) return String(v);
  if (Number.isInteger(v)) return String(v);
  return v.toFixed(Math.abs(v) < 10 ? 2 : 1);
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten (at least 1), so
// the axis reads in round figures.
function niceCeil(v) {
  if (v <= 1) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

function ms(v) {
  if (!v) return "0";
  return v >= 1000 ? fmt(v / 1000) + " s" : v + " ms";
}

// The admin token, when the instance requires one: asked for once, kept for
// this tab only (sessionStorage), sent as a bearer token with each request.
const TOKEN_KEY = "weir-admin-token";

function askToken() {
  if (document.getElementById("token-form")) return;
  const form = document.createElement("form");
  form.id = "token-form";
  form.className = "token";
  const label = document.createElement("label");
  label.textContent = "This instance requires its admin token: ";
  const input = document.createElement("input");
  input.type = "password";
  input.id = "token";
  input.autocomplete = "off";
  const button = document.createElement("button");
  button.type = "submit";
  button.textContent = "Use";
  label.appendChild(input);
  form.append(label, button);
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, input.value);
    form.remove();
  });
  document.querySelector("header").appendChild(form);
}

async function getJSON(path) {
  const headers = { Accept: "application/json" };
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers.Authorization = "Bearer " + token;
  const r = await fetch(path, { cache: "no-store", headers });
  if (r.status === 401) {
    sessionStorage.removeItem(TOKEN_KEY);
    askToken();
    throw new Error(path + ": the admin token is required");
  }
  if (r.status === 404) return null; // an older instance without this feed
  if (!r.ok) throw new Error(path + ": HTTP " + r.status);
  return r.json();
}

// record appends one sample per pool to its history.
function record(pools, now) {
  const seen = new Set();
  for (const p of pools) {
    seen.add(p.dest);
    let h = state.history.get(p.dest);
    if (!h) { h = []; state.history.set(p.dest, h); }
    h.push({
      t: now, active: p.active, idle: p.idle, waiting: p.waiting, dialing: p.dialing,
      ports: p.closed_last_240s + p.active + p.idle + p.dialing,
      new_per_second: p.new_per_second, reuse_ratio: p.reuse_ratio,
    });
    if (h.length > HISTORY) h.splice(0, h.length - HISTORY);
  }
  for (const k of [...state.history.keys()]) if (!seen.has(k)) state.history.delete(k);
}

// drawChart redraws a line chart of samples into svg. The svg carries
// data-points (samples drawn) and data-last (the latest values) so tests
// and scripts can read what it shows.
function drawChart(svg, spec, samples) {
  const W = 300, H = 130, L = 34, R = 6, T = 8, B = 16;
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.setAttribute("preserveAspectRatio", "none");
  svg.replaceChildren();
  let top = spec.max || 0;
  for (const s of samples) for (const sr of spec.series) top = Math.max(top, s[sr.key] || 0);
  if (!spec.max) top = niceCeil(top * 1.1);
  // The newest sample at the right edge; the window grows from a minute to
  // HISTORY seconds as samples accumulate.
  const span = Math.min(HISTORY, Math.max(MIN_SPAN, samples.length));
  const off = span - samples.length;
  const x = (i) => L + ((i + off) * (W - L - R)) / (span - 1);
  const y = (v) => T + (H - T - B) * (1 - v / top);
  for (const f of [0, 0.5, 1]) {
    svg.append(svgEl("line", { class: "grid", x1: L, x2: W - R, y1: y(top * f), y2: y(top * f) }));
    const lbl = svgEl("text", { class: "axis", x: L - 4, y: y(top * f) + 3, "text-anchor": "end" });
    lbl.textContent = fmt(top * f);
    svg.append(lbl);
  }
  const secs = svgEl("text", { class: "axis", x: W - R, y: H - 3, "text-anchor": "end" });
  secs.textContent = "last " + span + " s";
  svg.append(secs);
  const last = {};
  for (const sr of spec.series) {
    const pts = samples.map((s, i) => `${x(i).toFixed(1)},${y(s[sr.key] || 0).toFixed(1)}`);
    if (pts.length === 1) pts.unshift(`${(x(0) - 2).toFixed(1)},${pts[0].split(",")[1]}`);
    svg.append(svgEl("polyline", { class: sr.cls, points: pts.join(" "), "data-series": sr.key }));
    last[sr.key] = samples.length ? samples[samples.length - 1][sr.key] : null;
  }
  svg.dataset.points = String(samples.length);
  svg.dataset.last = JSON.stringify(last);
}

// drawBars draws the close reasons as horizontal bars.
function drawBars(svg, byReason) {
  const W = 300, H = 130, L = 92, R = 40;
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.replaceChildren();
  const total = REASONS.reduce((a, r) => a + (byReason[r] || 0), 0);
  const top = Math.max(1, ...REASONS.map((r) => byReason[r] || 0));
  const row = H / REASONS.length;
  REASONS.forEach((r, i) => {
    const v = byReason[r] || 0;
    const name = svgEl("text", { class: "axis", x: L - 4, y: i * row + row / 2 + 3, "text-anchor": "end" });
    name.textContent = r;
    svg.append(name);
    const w = ((W - L - R) * v) / top;
    svg.append(svgEl("rect", { class: "bar " + r, x: L, y: i * row + 2, width: Math.max(w, v ? 1 : 0), height: row - 4 }));
    const val = svgEl("text", { class: "barlabel", x: L + w + 3, y: i * row + row / 2 + 3 });
    val.textContent = fmt(v);
    svg.append(val);
  });
  svg.dataset.total = String(total);
}

function legend(spec) {
  const d = el("div", { class: "legend" });
  for (const sr of spec.series) {
    const i = el("i");
    i.style.background = getComputedStyle(document.documentElement).getPropertyValue("--" + sr.cls.slice(2));
    d.append(el("span", {}, i, sr.label));
  }
  return d;
}

// poolCard returns the card of a destination, creating it once so its
// charts are redrawn in place.
function poolCard(container, dest) {
  let card = container.querySelector(`.pool[data-dest="${CSS.escape(dest)}"]`);
  if (card) return card;
  card = el("div", { class: "pool", "data-dest": dest });
  card.append(el("h3", {}, dest), el("div", { class: "figures" }));
  const charts = el("div", { class: "charts" });
  for (const c of CHARTS) {
    charts.append(el("div", { class: "chartbox" }, el("h4", {}, c.title),
      svgEl("svg", { class: "chart", "data-chart": c.id, role: "img", "aria-label": c.title }), legend(c)));
  }
  charts.append(el("div", { class: "chartbox" }, el("h4", {}, "connections closed, by reason (since start)"),
    svgEl("svg", { class: "bars", "data-chart": "reasons", role: "img", "aria-label": "close reasons" })));
  card.append(charts, el("div", { class: "sources" }));
  container.append(card);
  return card;
}

// instanceCount is how many instances serve the same backends, as /status
// says (1 when it does not).
function instanceCount(st) {
  return (st && st.instances && st.instances.count) || 1;
}

function renderPools(pools, apis, instances) {
  const box = document.getElementById("pools");
  if (!pools.length) {
    box.replaceChildren(el("p", { class: "none" }, "No destination pools yet: they appear with the first request to a backend."));
    return;
  }
  box.querySelector(":scope > p.none")?.remove();
  const users = new Map(); // dest -> API names
  for (const a of apis || []) for (const d of a.destinations || []) {
    if (!users.has(d)) users.set(d, []);
    users.get(d).push(a.name);
  }
  const keep = new Set();
  for (const p of pools) {
    keep.add(p.dest);
    const card = poolCard(box, p.dest);
    const h3 = card.querySelector("h3");
    h3.replaceChildren(p.dest);
    if (users.has(p.dest)) h3.append(el("span", { class: "apis-of" }, "API " + users.get(p.dest).join(", ")));
    if (p.draining) h3.append(el("span", { class: "draining" }, "draining"));
    const figs = [
      ["active", p.active], ["idle", p.idle], ["dialing", p.dialing], ["waiting", p.waiting],
      ["max", p.max_connections || "unlimited"], ["peak active", p.peak_active],
      ["opened", p.opened_total], ["closed", p.closed_total], ["closed last 240 s", p.closed_last_240s],
      ["new/s", fmt(p.new_per_second)], ["requests", p.requests_total], ["reuse", fmt(p.reuse_ratio)],
      ["learned idle", ms(p.learned_idle_timeout_ms)], ["announced keep-alive", ms(p.announced_keepalive_ms)],
      ["replays", Object.values(p.replays || {}).reduce((a, b) => a + b, 0)],
      ["instances sharing its port budget", instances],
    ];
    card.querySelector(".figures").replaceChildren(...figs.map(([k, v]) => el("span", {}, k + " ", el("b", {}, String(v)))));
    const samples = state.history.get(p.dest) || [];
    for (const c of CHARTS) drawChart(card.querySelector(`svg[data-chart="${c.id}"]`), c, samples);
    drawBars(card.querySelector('svg[data-chart="reasons"]'), p.closed_by_reason || {});
    const srcs = (p.sources || []).filter((s) => s.source_ip);
    card.querySelector(".sources").replaceChildren(srcs.length
      ? "by source IP: " + srcs.map((s) => `${s.source_ip} active ${s.active} idle ${s.idle} opened ${s.opened_total} closed last 240 s ${s.closed_last_240s}`).join("; ")
      : "");
  }
  for (const card of [...box.querySelectorAll(".pool")]) if (!keep.has(card.dataset.dest)) card.remove();
}

function renderFindings(report) {
  const list = document.getElementById("findings");
  const fs = (report && report.findings) || [];
  list.dataset.count = String(fs.length);
  if (!fs.length) {
    list.replaceChildren(el("li", { class: "none" }, report ? "No findings: nothing wrong seen in the ledger." : "This instance has no doctor feed."));
    return;
  }
  list.replaceChildren(...fs.map((f) => el("li", { class: "finding " + f.severity, "data-rule": f.rule },
    el("div", {}, el("span", { class: "sev" }, f.severity), el("span", { class: "rule" }, f.rule), el("span", { class: "subject" }, f.subject)),
    el("div", { class: "summary" }, f.summary),
    el("div", { class: "evidence" }, (f.evidence || []).map((e) => `${e.name}=${fmt(e.value)}${e.unit || ""}`).join("  ")),
    el("div", { class: "fix" }, "Fix: " + f.mitigation))));
}

function renderAPIs(apis) {
  const body = document.querySelector("#apis tbody");
  if (apis === null) {
    body.replaceChildren(el("tr", {}, el("td", { colspan: "6", class: "none" }, "This instance has no /apis feed.")));
    return;
  }
  if (!apis.length) {
    body.replaceChildren(el("tr", {}, el("td", { colspan: "6", class: "none" }, "No APIs configured.")));
    return;
  }
  body.replaceChildren(...apis.map((a) => {
    const t = a.transport || {};
    return el("tr", { "data-api": a.name },
      el("td", {}, a.name), el("td", {}, el("code", {}, a.base_path || "")),
      el("td", {}, (a.endpoints || []).join(" ")), el("td", {}, (a.destinations || []).join(" ")),
      el("td", {}, t.keepalive_timeout_ms ? ms(t.keepalive_timeout_ms) : "off"),
      el("td", {}, String(t.max_connections || "unlimited")));
  }));
}

function renderStatus(st) {
  const box = document.getElementById("instance");
  if (!st) { box.textContent = "status feed unavailable"; return; }
  const up = Math.round(st.uptime_seconds || 0);
  const parts = [el("b", {}, st.version || "?"), ` up ${up} s, ${st.apis} APIs, config `, el("b", {}, st.config_file || "?"),
    ` (${(st.config_hash || "").slice(0, 12)})`, st.ready ? ", ready" : ", draining"];
  if (st.last_reload) parts.push(`, last reload ${st.last_reload.ok ? "ok" : "REJECTED"} (${st.last_reload.trigger})`);
  const inst = st.instances || {};
  const n = instanceCount(st);
  const peers = (inst.peers || []).map((p) => `${p.id} (admin ${p.admin || "off"}, ${p.version}, since ${p.started})`);
  parts.push(", ", el("span", { id: "instances", "data-count": String(n), title: peers.join("\n") || (inst.self || "") },
    `${n} instance${n === 1 ? "" : "s"} (${inst.source || "alone"}; each has its own port ledger)`));
  if (inst.error) parts.push(el("span", { class: "draining" }, "instances: " + inst.error));
  box.replaceChildren(...parts);
}

async function poll() {
  const pollBox = document.getElementById("poll");
  try {
    const [st, apis, pools, doc] = await Promise.all([
      getJSON("status").catch(() => null), getJSON("apis"), getJSON("pools"), getJSON("doctor"),
    ]);
    const apiList = apis ? apis.apis : null;
    record((pools && pools.pools) || [], Date.now());
    renderStatus(st);
    renderAPIs(apiList);
    renderPools((pools && pools.pools) || [], apiList, instanceCount(st));
    renderFindings(doc);
    state.polls++;
    document.body.dataset.polls = String(state.polls);
    pollBox.className = "poll";
    pollBox.textContent = "updated " + new Date().toLocaleTimeString();
  } catch (e) {
    state.failures++;
    document.body.dataset.pollErrors = String(state.failures);
    pollBox.className = "poll err";
    pollBox.textContent = "poll failed: " + e.message;
  } finally {
    setTimeout(poll, POLL_MS);
  }
}

poll();
