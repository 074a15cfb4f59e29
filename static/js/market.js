// Market-data page: renders the server's market view and refreshes it from /ws/market/<symbol>/.
(function () {
  "use strict";
  const initial = JSON.parse(document.getElementById("md-initial").textContent);
  const symbol = initial.symbol;
  const live = document.getElementById("md-live");
  let chart = null;
  const AXIS_FONT = "11px system-ui, -apple-system, sans-serif";
  // Market seconds between x ticks: whole clock steps (the open, 09:30, is on every one of them).
  const X_TICK_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400];
  const X_TICK_SPACE = 90; // px: "12:40:00" is ~45 px in AXIS_FONT, so neighbours keep a gap of half a label or more
  let lastPrices = {};

  function fmt(x, d) { return x === null || x === undefined ? "–" : Number(x).toFixed(d === undefined ? 2 : d); }
  function qty(n) { return n === null || n === undefined ? "" : Number(n).toLocaleString("en-US"); }
  function text(id, value) { const el = document.getElementById(id); if (el) el.textContent = value; }

  function ladderHtml(v, maxSize) {
    const rows = [];
    const asks = v.asks.slice().reverse();
    for (const [px, sz] of asks) {
      rows.push(`<tr class="ask"><td class="num bar-cell"><span class="bar ask" style="width:${Math.round(100 * sz / maxSize)}%"></span>${qty(sz)}</td><td class="num px">${fmt(px)}</td><td></td></tr>`);
    }
    for (const [px, sz] of v.bids) {
      rows.push(`<tr class="bid"><td></td><td class="num px">${fmt(px)}</td><td class="num bar-cell"><span class="bar bid" style="width:${Math.round(100 * sz / maxSize)}%"></span>${qty(sz)}</td></tr>`);
    }
    return `<div class="md-ladder" data-venue="${v.code}"><div class="md-ladder-title">${v.code}</div>
      <table class="grid ladder"><thead><tr><th class="num">Ask size</th><th class="num">Price</th><th class="num">Bid size</th></tr></thead>
      <tbody>${rows.join("")}</tbody></table></div>`;
  }

  function render(view) {
    const b = view.bbo;
    text("bbo-bid", fmt(b.bid)); text("bbo-bid-size", qty(b.bid_size)); text("bbo-bid-venues", b.bid_venues.join(" "));
    text("bbo-ask", fmt(b.ask)); text("bbo-ask-size", qty(b.ask_size)); text("bbo-ask-venues", b.ask_venues.join(" "));
    text("bbo-mid", fmt(b.mid, 3));
    text("bbo-spread", b.spread === null ? "" : `spread ${fmt(b.spread)} (${fmt(10000 * b.spread / b.mid, 1)} bps)`);
    text("md-clock", view.clock);
    text("md-day", `day ${view.day} · ${view.speed}× speed`);
    text("md-vol", `${qty(view.volume_2m)} shares in the last 2 min`);

    let maxSize = 1;
    for (const v of view.venues) for (const side of [v.bids, v.asks]) for (const [, sz] of side) maxSize = Math.max(maxSize, sz);
    document.getElementById("md-ladders").innerHTML = view.venues.map((v) => ladderHtml(v, maxSize)).join("");

    document.getElementById("md-prints").innerHTML = view.prints.map((p) =>
      `<tr class="${p.side}"><td class="mono">${p.t}</td><td>${p.venue}</td><td class="num px ${p.side}">${fmt(p.price)}</td><td class="num">${qty(p.size)}</td></tr>`
    ).join("") || `<tr class="empty"><td colspan="4">No prints yet</td></tr>`;

    drawChart(view.chart);
  }

  function drawChart(series) {
    const el = document.getElementById("md-chart");
    if (!window.uPlot || !el) return;
    // Chart x axis: market seconds after the 09:30 open, shown as clock time.
    const xs = series.t.map((s) => s);
    const data = [xs, series.mid];
    if (!chart) {
      chart = new uPlot({
        width: el.clientWidth || 600, height: 260,
        scales: { x: { time: false } },
        axes: [
          {
            // Ticks on whole clock steps, never closer than X_TICK_SPACE px, so labels cannot run together
            // at any width; HH:MM once the step is a whole minute (it almost always is), else HH:MM:SS.
            stroke: "#7c8a99", grid: { stroke: "#1a222c" }, font: AXIS_FONT,
            space: X_TICK_SPACE, incrs: X_TICK_STEPS,
            values: (u, vals, axisIdx, space, incr) => vals.map((v) => clockOf(v, incr % 60 !== 0)),
          },
          { stroke: "#7c8a99", grid: { stroke: "#1a222c" }, font: AXIS_FONT, size: 60, values: (u, vals) => vals.map((v) => v.toFixed(2)) },
        ],
        series: [{ label: "Time", value: (u, v) => (v === null ? "–" : clockOf(v)) }, { label: "Mid", stroke: "#f0a526", width: 1.5, value: (u, v) => (v === null ? "–" : v.toFixed(3)) }],
        legend: { show: true },
      }, data, el);
      el.uplot = chart; // for the browser tests, which measure the axis labels
      window.addEventListener("resize", () => chart.setSize({ width: el.clientWidth, height: 260 }));
    } else {
      chart.setData(data);
    }
  }

  function clockOf(s, withSeconds = true) {
    const t = 9 * 3600 + 30 * 60 + Math.floor(s);
    const h = Math.floor(t / 3600), m = Math.floor((t % 3600) / 60), sec = t % 60;
    const hhmm = `${String(h).padStart(2, "0")}:${String(m).padStart(2, "0")}`;
    return withSeconds ? `${hhmm}:${String(sec).padStart(2, "0")}` : hhmm;
  }

  let backoff = 500;
  function connect() {
    const proto = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${proto}://${location.host}/ws/market/${symbol}/`);
    live.dataset.state = "connecting"; live.textContent = "connecting";
    ws.onopen = () => { backoff = 500; live.dataset.state = "live"; live.textContent = "live"; };
    ws.onmessage = (ev) => { const msg = JSON.parse(ev.data); if (msg.type === "market") render(msg); };
    ws.onclose = () => {
      live.dataset.state = "off"; live.textContent = "disconnected";
      setTimeout(connect, backoff); backoff = Math.min(backoff * 2, 10000);
    };
  }

  document.addEventListener("DOMContentLoaded", () => { render(initial); connect(); });
})();
