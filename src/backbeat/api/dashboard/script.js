"use strict";
// Keeps the dashboard live: polls /dashboard/data every 2 s, writes each [data-field] from the
// server's formatted `display`, ticks the pause and ban countdowns between polls, redraws the
// budget charts (SVG) and the failed-jobs table. Text only goes in through textContent.
(() => {
  const POLL_MS = 2000;
  const SPAN_S = 300; // the charts show up to the last five minutes ...
  const MIN_SPAN_S = 10; // ... or what there is, right after a start
  const STEPS_S = [2, 5, 10, 15, 30, 60]; // tick spacing: the smallest giving at most 6 ticks
  const COLORS = ["#2563eb", "#db2777", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#65a30d"];
  const SVG = "http://www.w3.org/2000/svg";
  let latest = null;
  let fetchedAt = 0;

  function countdown(seconds) { // the same as display.countdown on the server
    if (seconds <= 0) return "–";
    const whole = Math.floor(seconds + 0.999);
    const pad = (n) => String(n).padStart(2, "0");
    if (whole < 60) return `${whole} s`;
    if (whole < 3600) return `${Math.floor(whole / 60)} m ${pad(whole % 60)} s`;
    return `${Math.floor(whole / 3600)} h ${pad(Math.floor((whole % 3600) / 60))} m`;
  }

  function writeFields(display) {
    for (const el of document.querySelectorAll("[data-field]")) {
      const text = display[el.dataset.field];
      if (text !== undefined && el.textContent !== text) el.textContent = text;
      if (el.classList.contains("badge")) {
        el.className = "badge " + (text || "").split(" ")[0];
      }
    }
  }

  function tick() { // countdowns between polls, from the remaining time at the last fetch
    if (!latest) return;
    const elapsed = (performance.now() - fetchedAt) / 1000;
    for (const app of latest.apps) {
      for (const [field, left] of [["pause", app.pause_remaining], ["ban", app.ban_remaining]]) {
        const el = document.querySelector(`[data-field="app|${CSS.escape(app.app)}|${field}"]`);
        if (el) el.textContent = countdown(left - elapsed);
      }
    }
  }

  function node(name, attrs, text) {
    const el = document.createElementNS(SVG, name);
    for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, String(value));
    if (text !== undefined) el.textContent = text;
    return el;
  }

  function drawChart(svg, legend, app, history) {
    const W = 600, H = 170, left = 34, right = 8, top = 8, bottom = 18;
    const times = history.t;
    const series = history.series[app] || {};
    // Minimum-interval windows (a limit of 1) only flicker: the table shows them.
    const keys = Object.keys(series).filter((k) => Math.max(...series[k].limit.map(Number)) > 1);
    const end = times.length ? times[times.length - 1] : 0;
    const span = Math.min(SPAN_S, Math.max(MIN_SPAN_S, end - (times.length ? times[0] : 0)));
    const start = end - span;
    const step = STEPS_S.find((s) => span / s <= 6) || 60;
    let high = 1;
    for (const k of keys) {
      for (const v of series[k].limit.concat(series[k].used)) if (v !== null) high = Math.max(high, v);
    }
    high = Math.ceil(high * 1.1);
    const x = (t) => left + ((t - start) / span) * (W - left - right);
    const y = (v) => top + (1 - v / high) * (H - top - bottom);
    svg.replaceChildren();
    for (const fraction of [0, 0.5, 1]) {
      const v = Math.round(high * fraction);
      svg.append(node("line", { class: "grid", x1: left, x2: W - right, y1: y(v), y2: y(v) }));
      svg.append(node("text", { x: left - 4, y: y(v) + 3, "text-anchor": "end" }, String(v)));
    }
    for (let ago = 0; ago <= span; ago += step) {
      const label = ago === 0 ? "now" : ago % 60 ? `-${ago} s` : `-${ago / 60} min`;
      const anchor = ago === 0 ? "end" : "middle";
      svg.append(node("text", { x: x(end - ago), y: H - 4, "text-anchor": anchor }, label));
    }
    legend.replaceChildren();
    keys.forEach((key, i) => {
      const color = COLORS[i % COLORS.length];
      for (const [kind, values] of [["limit", series[key].limit], ["used", series[key].used]]) {
        const points = [];
        values.forEach((v, j) => { if (v !== null && times[j] >= start) points.push(`${x(times[j]).toFixed(1)},${y(v).toFixed(1)}`); });
        if (points.length) svg.append(node("polyline", { class: kind, stroke: color, points: points.join(" ") }));
      }
      const item = document.createElement("span");
      const swatch = document.createElement("i");
      swatch.style.background = color;
      item.append(swatch, `${key} used (dashed: limit)`);
      legend.append(item);
    });
  }

  function failedRows(jobs) {
    const body = document.getElementById("failed");
    if (!body) return;
    const rows = jobs.map((job) => {
      const tr = document.createElement("tr");
      const at = job.finished_at;
      const when = at ? `${at.slice(5, 10)} ${at.slice(11, 19)}` : "–"; // as page.py writes it
      for (const cell of [when, job.kind, job.user_id || "–", String(job.attempts), job.error]) {
        const td = document.createElement("td");
        td.textContent = cell;
        tr.append(td);
      }
      return tr;
    });
    if (!rows.length) {
      const tr = document.createElement("tr");
      const td = document.createElement("td");
      td.colSpan = 5; td.className = "muted"; td.textContent = "none";
      tr.append(td); rows.push(tr);
    }
    body.replaceChildren(...rows);
  }

  function render(data) {
    latest = data;
    fetchedAt = performance.now();
    writeFields(data.display);
    for (const svg of document.querySelectorAll("svg[data-chart]")) {
      const app = svg.dataset.chart;
      const legend = document.querySelector(`[data-legend="${CSS.escape(app)}"]`);
      drawChart(svg, legend, app, data.history);
    }
    failedRows(data.failed_jobs);
    document.getElementById("updated").textContent = new Date(data.now * 1000).toISOString().slice(11, 19) + " UTC";
    document.body.dataset.updated = String(data.now);
  }

  async function refresh() {
    try {
      const response = await fetch("/dashboard/data", { credentials: "same-origin", cache: "no-store" });
      if (response.status === 401) { window.location.assign("/dashboard/login"); return; }
      if (response.ok) render(await response.json());
    } catch (error) {
      console.warn("dashboard: refresh failed", error);
    }
  }

  refresh();
  setInterval(refresh, POLL_MS);
  setInterval(tick, 250);
})();
