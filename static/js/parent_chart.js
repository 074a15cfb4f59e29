/* Parent page charts (uPlot): our fills against the market mid and the interval VWAP since the parent's
 * start (with the arrival price), and done vs schedule over market time. Data from the chart URL, re-fetched
 * on every desk push and every few seconds (the market keeps moving while nothing of ours happens). */
(function () {
  "use strict";

  var REFRESH_MS = 3000;
  var AXIS_FONT = ChartTime.AXIS_FONT;
  var priceEl = document.getElementById("chart-price");
  var progEl = document.getElementById("chart-progress");
  var priceChart = null, progChart = null, inFlight = false;

  var clockOf = ChartTime.clockOf, align = ChartTime.align, xAxis = ChartTime.timeAxis;

  function fillPoints(u, seriesIdx) {
    // Each fill a dot whose area follows its quantity (drawn over the line chart).
    var data = u.data[seriesIdx], ctx = u.ctx;
    var sizes = u.fillSizes || [];
    ctx.save();
    for (var i = 0; i < data.length; i++) {
      if (data[i] == null) continue;
      var cx = u.valToPos(u.data[0][i], "x", true), cy = u.valToPos(data[i], "y", true);
      var r = Math.max(2.5, Math.min(9, Math.sqrt(sizes[i] || 1) / 3)) * devicePixelRatio;
      ctx.beginPath(); ctx.arc(cx, cy, r, 0, 2 * Math.PI);
      ctx.fillStyle = u.fillColor; ctx.globalAlpha = 0.85; ctx.fill();
    }
    ctx.restore();
    return null;
  }

  function render(d) {
    var side = d.side;
    var fillsSeries = { t: d.fills.map(function (f) { return f.t; }), y: d.fills.map(function (f) { return f.price; }) };
    var arrival = { t: [d.t0, d.t1], y: [d.arrival, d.arrival] };
    var data = align([{ t: d.market.t, y: d.market.mid }, { t: d.vwap.t, y: d.vwap.price }, arrival, fillsSeries]);
    var sizeAt = new Map(d.fills.map(function (f) { return [f.t, f.qty]; }));
    var width = priceEl.clientWidth || 600;
    var fillColor = side === "buy" ? "#2fbf71" : "#f0554f";
    if (!priceChart) {
      priceChart = new uPlot({
        width: width, height: 260, scales: { x: { time: false } },
        axes: [xAxis(), { stroke: "#7c8a99", grid: { stroke: "#1a222c" }, font: AXIS_FONT, size: 64, values: function (u, v) { return v.map(function (x) { return x.toFixed(2); }); } }],
        series: [
          { label: "Time", value: function (u, v) { return v == null ? "–" : clockOf(v); } },
          { label: "Mid", stroke: "#6cb6ff", width: 1.2, spanGaps: true, value: function (u, v) { return v == null ? "–" : v.toFixed(3); } },
          { label: "Interval VWAP", stroke: "#f0a526", width: 1.5, spanGaps: true, value: function (u, v) { return v == null ? "–" : v.toFixed(3); } },
          { label: "Arrival", stroke: "#a67cf5", width: 1, dash: [6, 4], spanGaps: true, value: function (u, v) { return v == null ? "–" : v.toFixed(3); } },
          { label: side === "buy" ? "Our buys" : "Our sells", stroke: fillColor, width: 0, paths: fillPoints, points: { show: false },
            value: function (u, v) { return v == null ? "–" : v.toFixed(3); } },
        ],
      }, data, priceEl);
      priceEl.uplot = priceChart;
    } else {
      priceChart.setData(data);
    }
    priceChart.fillColor = fillColor;
    priceChart.fillSizes = data[0].map(function (t) { return sizeAt.get(t) || 0; });
    // The window is the parent's: from a minute before its start to now (uPlot would not infer it from
    // the merged, gappy series).
    priceChart.setScale("x", { min: d.t0, max: d.t1 });

    var pdata = align([{ t: d.schedule.t, y: d.schedule.qty }, { t: d.done.t, y: d.done.qty }]);
    if (!progChart) {
      progChart = new uPlot({
        width: progEl.clientWidth || 600, height: 200, scales: { x: { time: false }, y: { range: [0, d.quantity] } },
        axes: [xAxis(), { stroke: "#7c8a99", grid: { stroke: "#1a222c" }, font: AXIS_FONT, size: 64, values: function (u, v) { return v.map(function (x) { return x.toLocaleString("en-US"); }); } }],
        series: [
          { label: "Time", value: function (u, v) { return v == null ? "–" : clockOf(v); } },
          { label: "Schedule", stroke: "#f0a526", width: 1.5, dash: [5, 4], spanGaps: true, value: function (u, v) { return v == null ? "–" : Math.round(v).toLocaleString("en-US"); } },
          { label: "Done", stroke: "#2fbf71", width: 2, spanGaps: true, paths: uPlot.paths.stepped({ align: 1 }), fill: "rgba(47,191,113,.12)",
            value: function (u, v) { return v == null ? "–" : v.toLocaleString("en-US"); } },
        ],
      }, pdata, progEl);
      progEl.uplot = progChart;
      window.addEventListener("resize", function () {
        priceChart.setSize({ width: priceEl.clientWidth, height: 260 });
        progChart.setSize({ width: progEl.clientWidth, height: 200 });
      });
    } else {
      progChart.setData(pdata);
    }
    progChart.setScale("x", { min: Math.min(d.t0, pdata[0][0]), max: Math.max(d.t1, pdata[0][pdata[0].length - 1]) });
    priceEl.dataset.fills = String(d.fills.length);
  }

  function refresh() {
    if (inFlight || document.hidden || !window.uPlot) return;
    inFlight = true;
    fetch(priceEl.dataset.url, { headers: { Accept: "application/json" }, credentials: "same-origin", redirect: "manual" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (d) { if (d) render(d); })
      .catch(function () { /* the next refresh retries */ })
      .finally(function () { inFlight = false; });
  }

  document.addEventListener("desk-push", refresh);
  document.addEventListener("DOMContentLoaded", refresh);
  setInterval(refresh, REFRESH_MS);
})();
