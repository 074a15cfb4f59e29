/* TCA pages' charts (vendored uPlot), drawn once from JSON the page carries (json_script): nothing is
 * fetched. Each chart element says which chart it is (data-chart) and is marked data-drawn="1" once drawn.
 *
 *   summary   bars of slippage bp per group (vs arrival, vs interval VWAP): + = better than the benchmark
 *   waterfall implementation shortfall: delay, timing, impact, opportunity, fees -> total (bp, + = better, − = cost)
 *   price     our fills (dots sized by quantity) against the mid, the interval VWAP and the arrival
 *   progress  done vs the schedule over market time
 *   markouts  the markout curve (1 s .. 5 min) per venue: + = the price moved our way after the fill
 *   whatif-progress / whatif-price   the actual execution and the replay on the same market path
 */
(function () {
  "use strict";

  var FONT = "11px system-ui, -apple-system, sans-serif";
  var GRID = { stroke: "#1a222c" };
  var AXIS = "#7c8a99";
  var clockOf = ChartTime.clockOf, timeAxis = ChartTime.timeAxis, align = ChartTime.align;
  var PALETTE = ["#6cb6ff", "#f0a526", "#2fbf71", "#a67cf5", "#f0554f", "#3dd6d0", "#e4e46c", "#ff8ad8"];
  var GOOD = "#2fbf71", BAD = "#f0554f", TOTAL = "#f0a526";

  function data(id) {
    var el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }

  function fmt(v, digits) { return v == null || isNaN(v) ? "–" : Number(v).toFixed(digits); }
  function signed(v, digits) { return v == null || isNaN(v) ? "–" : (v > 0 ? "+" : "") + Number(v).toFixed(digits); }
  function qty(v) { return v == null ? "–" : Math.round(v).toLocaleString("en-US"); }

  function yAxis(format, size) {
    return { stroke: AXIS, grid: GRID, font: FONT, size: size || 64, values: function (u, v) { return v.map(format); } };
  }

  function width(el) { return Math.max(280, el.clientWidth - 16 || 600); }

  function mount(el, opts, d) {
    var chart = new uPlot(opts, d, el);
    el.uplot = chart;
    // The legend shows the values at the window's end until the cursor points elsewhere.
    // (after uPlot's own first legend update, which shows none)
    if (opts.legend === undefined && d[0].length) {
      var showEnd = function () { if (chart.cursor.idx == null) chart.setLegend({ idx: d[0].length - 1 }); };
      setTimeout(showEnd, 0);
      chart.over.addEventListener("mouseleave", function () { setTimeout(showEnd, 0); });
    }
    el.dataset.drawn = "1";
    window.addEventListener("resize", function () { chart.setSize({ width: width(el), height: opts.height }); });
    return chart;
  }

  // Dots sized by quantity, drawn instead of a line (series.paths): u.dotSizes[seriesIdx][i], u.dotColors[seriesIdx].
  function dots(u, seriesIdx) {
    var ys = u.data[seriesIdx], ctx = u.ctx, sizes = (u.dotSizes || {})[seriesIdx] || [];
    ctx.save();
    ctx.fillStyle = (u.dotColors || {})[seriesIdx] || "#fff";
    ctx.globalAlpha = 0.85;
    for (var i = 0; i < ys.length; i++) {
      if (ys[i] == null) continue;
      var cx = u.valToPos(u.data[0][i], "x", true), cy = u.valToPos(ys[i], "y", true);
      var r = Math.max(2.5, Math.min(9, Math.sqrt(sizes[i] || 1) / 3)) * devicePixelRatio;
      ctx.beginPath(); ctx.arc(cx, cy, r, 0, 2 * Math.PI); ctx.fill();
    }
    ctx.restore();
    return null;
  }

  // --- summary: bars per group -------------------------------------------------------------------
  // Grouped bars drawn on uPlot's scales (its bar paths do not group series side by side).
  function summaryChart(el) {
    var d = data("tca-summary-data");
    if (!d || !d.keys.length) return;
    var x = d.keys.map(function (_, i) { return i; });
    var labels = d.keys.map(function (k) { return d.group_by === "Day" ? "Day " + k : k; });
    var sets = [{ ys: d.arrival, color: "#6cb6ff" }, { ys: d.vwap, color: "#f0a526" }];
    var values = d.arrival.concat(d.vwap).filter(function (v) { return v != null; });
    var lo = Math.min(0, Math.min.apply(null, values.concat([0]))), hi = Math.max(0, Math.max.apply(null, values.concat([0])));
    var pad = Math.max(1, (hi - lo) * 0.18);
    var none = function () { return null; };
    mount(el, {
      width: width(el), height: 260, legend: { live: false },  // the values are written on the bars
      scales: { x: { time: false, range: [-0.6, x.length - 0.4] }, y: { range: [lo - (lo < 0 ? pad : 0), hi + pad] } },
      axes: [
        { stroke: AXIS, grid: { show: false }, font: FONT, splits: function () { return x; }, values: function () { return labels; } },
        yAxis(function (v) { return signed(v, 1) + " bp"; }, 70),
      ],
      series: [
        { label: d.group_by, value: function (u, v) { return v == null ? "–" : labels[v]; } },
        { label: "vs arrival", stroke: sets[0].color, fill: sets[0].color, paths: none, points: { show: false }, value: function (u, v) { return signed(v, 1) + " bp"; } },
        { label: "vs interval VWAP", stroke: sets[1].color, fill: sets[1].color, paths: none, points: { show: false }, value: function (u, v) { return signed(v, 1) + " bp"; } },
      ],
      hooks: { draw: [function (u) {
        var ctx = u.ctx, dpr = devicePixelRatio, slot = u.bbox.width / (x.length + 0.2), bw = Math.min(slot * 0.34, 70 * dpr);
        var y0 = u.valToPos(0, "y", true);
        ctx.save();
        ctx.font = (10.5 * dpr) + "px system-ui, sans-serif"; ctx.textAlign = "center";
        sets.forEach(function (set, k) {
          for (var i = 0; i < set.ys.length; i++) {
            var v = set.ys[i];
            if (v == null) continue;
            var cx = u.valToPos(i, "x", true) + (k - 0.5) * (bw + 2 * dpr);
            var yv = u.valToPos(v, "y", true), top = Math.min(y0, yv), h = Math.max(Math.abs(yv - y0), dpr);
            ctx.globalAlpha = 0.8; ctx.fillStyle = set.color; ctx.fillRect(cx - bw / 2, top, bw, h);
            ctx.globalAlpha = 1; ctx.fillStyle = "#d5dce4";
            ctx.fillText(signed(v, 1), cx, v >= 0 ? top - 4 * dpr : top + h + 12 * dpr);
          }
        });
        ctx.strokeStyle = "#7c8a99"; ctx.lineWidth = dpr;
        ctx.beginPath(); ctx.moveTo(u.bbox.left, y0); ctx.lineTo(u.bbox.left + u.bbox.width, y0); ctx.stroke();
        ctx.restore();
      }] },
    }, [x, d.arrival, d.vwap]);
  }

  // --- waterfall ------------------------------------------------------------------------------------
  function waterfallChart(el) {
    var d = data("tca-charts");
    if (!d || !d.waterfall) return;
    var w = d.waterfall;
    var n = w.labels.length;
    // Each step floats from the running total before it to the one after it; the total from zero.
    var starts = [], ends = [], run = 0;
    for (var i = 0; i < n; i++) {
      if (w.is_total[i]) { starts.push(0); ends.push(w.bps[i]); run = w.bps[i]; }
      else { starts.push(run); run += w.bps[i] || 0; ends.push(run); }
    }
    var all = starts.concat(ends);
    var lo = Math.min(0, Math.min.apply(null, all)), hi = Math.max(0, Math.max.apply(null, all));
    var pad = Math.max(0.5, (hi - lo) * 0.2);
    var x = w.labels.map(function (_, k) { return k; });
    mount(el, {
      width: width(el), height: 250, legend: { show: false },
      scales: { x: { time: false, range: [-0.6, n - 0.4] }, y: { range: [lo - pad, hi + pad] } },
      axes: [
        { stroke: AXIS, grid: { show: false }, font: FONT, splits: function () { return x; }, values: function () { return w.labels; } },
        yAxis(function (v) { return signed(v, 1) + " bp"; }, 70),
      ],
      series: [{}, { label: "Shortfall, bp (+ = better)", stroke: "transparent", points: { show: false }, paths: function () { return null; } }],
      hooks: { draw: [function (u) {
        var ctx = u.ctx, dpr = devicePixelRatio, slot = u.bbox.width / n, bw = slot * 0.56;
        ctx.save();
        var y0 = u.valToPos(0, "y", true);
        ctx.strokeStyle = "#7c8a99"; ctx.lineWidth = dpr;
        ctx.beginPath(); ctx.moveTo(u.bbox.left, y0); ctx.lineTo(u.bbox.left + u.bbox.width, y0); ctx.stroke();
        ctx.font = (11 * dpr) + "px system-ui, sans-serif"; ctx.textAlign = "center";
        for (var k = 0; k < n; k++) {
          var cx = u.valToPos(k, "x", true);
          var ya = u.valToPos(starts[k], "y", true), yb = u.valToPos(ends[k], "y", true);
          var top = Math.min(ya, yb), h = Math.max(Math.abs(yb - ya), 1.5 * dpr);
          var v = w.bps[k];
          // + = better: a saving green, a cost red; the total the same, solid and outlined.
          ctx.fillStyle = v < 0 ? BAD : GOOD;
          ctx.globalAlpha = w.is_total[k] ? 0.95 : 0.6;
          ctx.fillRect(cx - bw / 2, top, bw, h);
          ctx.globalAlpha = 1;
          if (w.is_total[k]) { ctx.strokeStyle = TOTAL; ctx.lineWidth = 2 * dpr; ctx.strokeRect(cx - bw / 2, top, bw, h); }
          if (k < n - 1) {  // the connector to the next step
            ctx.strokeStyle = "#4d5a68"; ctx.setLineDash([3 * dpr, 3 * dpr]);
            ctx.beginPath(); ctx.moveTo(cx + bw / 2, yb); ctx.lineTo(cx + slot - bw / 2, yb); ctx.stroke(); ctx.setLineDash([]);
          }
          ctx.fillStyle = "#d5dce4";
          var ty = (v >= 0 ? top - 5 * dpr : top + h + 13 * dpr);
          ctx.fillText(signed(v, 1) + " bp", cx, ty);
        }
        ctx.restore();
      }] },
    }, [x, ends]);
  }

  // --- our fills against the market ----------------------------------------------------------------
  function priceChart(el, p, fillSets) {
    var series = [{ t: p.market.t, y: p.market.mid }, { t: p.vwap.t, y: p.vwap.price }, { t: [p.t0, p.t1], y: [p.arrival, p.arrival] }];
    fillSets.forEach(function (fs) { series.push({ t: fs.fills.map(function (f) { return f.t; }), y: fs.fills.map(function (f) { return f.price; }) }); });
    var d = align(series);
    var px = function (u, v) { return fmt(v, 3); };
    var opts = {
      width: width(el), height: 260, scales: { x: { time: false, range: [p.t0, p.t1] } },
      axes: [timeAxis(), yAxis(function (v) { return v.toFixed(2); })],
      series: [
        { label: "Time", value: function (u, v) { return v == null ? "–" : clockOf(v); } },
        { label: "Mid", stroke: "#6cb6ff", width: 1.2, spanGaps: true, value: px },
        { label: "Interval VWAP", stroke: "#f0a526", width: 1.5, spanGaps: true, value: px },
        { label: "Arrival", stroke: "#a67cf5", width: 1, dash: [6, 4], spanGaps: true, value: px },
      ],
    };
    fillSets.forEach(function (fs) {
      opts.series.push({ label: fs.label, stroke: fs.color, width: 0, paths: dots, points: { show: false }, value: px });
    });
    var chart = mount(el, opts, d);
    chart.dotSizes = {}; chart.dotColors = {};
    fillSets.forEach(function (fs, k) {
      var at = new Map(fs.fills.map(function (f) { return [f.t, f.qty]; }));
      chart.dotSizes[4 + k] = d[0].map(function (t) { return at.get(t) || 0; });
      chart.dotColors[4 + k] = fs.color;
    });
    chart.redraw();
    el.dataset.fills = String(fillSets.reduce(function (a, fs) { return a + fs.fills.length; }, 0));
  }

  function progressChart(el, quantity, curves, t0, t1) {
    // Each curve carried flat to the chart's right end (nothing is done after the last fill), so the legend
    // at the end reads every curve's final quantity.
    var tmax = Math.max.apply(null, curves.map(function (c) { return c.t.length ? c.t[c.t.length - 1] : t1; }).concat([t1]));
    curves = curves.map(function (c) {
      if (!c.t.length || c.t[c.t.length - 1] >= tmax) return c;
      return Object.assign({}, c, { t: c.t.concat([tmax]), qty: c.qty.concat([c.qty[c.qty.length - 1]]) });
    });
    var d = align(curves.map(function (c) { return { t: c.t, y: c.qty }; }));
    var series = [{ label: "Time", value: function (u, v) { return v == null ? "–" : clockOf(v); } }];
    curves.forEach(function (c) {
      series.push({ label: c.label, stroke: c.color, width: c.dash ? 1.5 : 2, dash: c.dash, spanGaps: true,
        paths: c.stepped ? uPlot.paths.stepped({ align: 1 }) : undefined, fill: c.fill,
        value: function (u, v) { return qty(v); } });
    });
    var xs = d[0];
    mount(el, {
      width: width(el), height: 210,
      scales: { x: { time: false, range: [Math.min(t0, xs[0]), Math.max(t1, xs[xs.length - 1])] }, y: { range: [0, quantity * 1.04] } },
      axes: [timeAxis(), yAxis(function (v) { return v.toLocaleString("en-US"); })],
      series: series,
    }, d);
  }

  // --- markout curve per venue -------------------------------------------------------------------------
  function markoutChart(el) {
    var d = data("tca-charts");
    if (!d || !d.markouts || !d.markouts.venues.length) return;
    var m = d.markouts;
    var series = [{ label: "After", value: function (u, v) { return v == null ? "–" : horizon(v); } }];
    var ys = [m.horizons];
    m.venues.forEach(function (v, k) {
      var all = v.venue === "All";
      series.push({ label: v.venue, stroke: v.color || PALETTE[k % PALETTE.length], width: all ? 2.5 : 1.5, dash: all ? [6, 3] : undefined,
        points: { show: true, size: 6 }, spanGaps: true, value: function (u, x) { return signed(x, 1) + " bp"; } });
      ys.push(v.bps);
    });
    mount(el, {
      width: width(el), height: 230,
      scales: { x: { time: false, distr: 3, range: [0.8, 380] } },
      legend: { show: false },  // the page writes each venue's values out under the chart
      // A log axis keeps only powers of ten by default: every horizon gets its tick here.
      axes: [{ stroke: AXIS, grid: GRID, font: FONT, splits: function () { return m.horizons; }, filter: function (u, splits) { return splits; },
               values: function (u, vals) { return vals.map(horizon); } },
             yAxis(function (v) { return signed(v, 1) + " bp"; }, 70)],
      series: series,
      hooks: { draw: [function (u) {
        var ctx = u.ctx, y0 = u.valToPos(0, "y", true);
        ctx.save(); ctx.strokeStyle = "#7c8a99"; ctx.lineWidth = devicePixelRatio; ctx.setLineDash([2, 3]);
        ctx.beginPath(); ctx.moveTo(u.bbox.left, y0); ctx.lineTo(u.bbox.left + u.bbox.width, y0); ctx.stroke(); ctx.restore();
      }] },
    }, ys);
  }

  function horizon(s) { return s == null ? "" : s >= 60 ? (s / 60) + " min" : s + " s"; }

  function parentCharts() {
    var d = data("tca-charts");
    if (!d) return;
    var fillColor = d.side === "buy" ? "#2fbf71" : "#f0554f";
    var el;
    if ((el = document.getElementById("chart-waterfall"))) waterfallChart(el);
    if ((el = document.getElementById("chart-price")) && d.price) {
      priceChart(el, d.price, [{ label: d.side === "buy" ? "Our buys" : "Our sells", color: fillColor, fills: d.price.fills }]);
    }
    if ((el = document.getElementById("chart-progress")) && d.progress) {
      progressChart(el, d.progress.quantity, [
        { label: "Schedule", color: "#f0a526", dash: [5, 4], t: d.progress.schedule.t, qty: d.progress.schedule.qty },
        { label: "Done", color: "#2fbf71", stepped: true, fill: "rgba(47,191,113,.12)", t: d.progress.done.t, qty: d.progress.done.qty },
      ], d.price ? d.price.t0 : d.progress.done.t[0], d.price ? d.price.t1 : d.progress.done.t[d.progress.done.t.length - 1]);
    }
    if ((el = document.getElementById("chart-markouts"))) markoutChart(el);
    var w = data("tca-whatif");
    if (w) {
      if ((el = document.getElementById("chart-whatif-progress"))) {
        progressChart(el, w.quantity, [
          { label: "Actual · " + w.actual.label, color: "#6cb6ff", stepped: true, t: w.actual.done.t, qty: w.actual.done.qty },
          { label: "What-if · " + w.replay.label, color: "#f0a526", stepped: true, t: w.replay.done.t, qty: w.replay.done.qty },
        ], w.t0, w.t1);
      }
      if ((el = document.getElementById("chart-whatif-price")) && d.price) {
        priceChart(el, d.price, [
          { label: "Actual fills", color: "#6cb6ff", fills: w.actual.fills },
          { label: "What-if fills", color: "#f0a526", fills: w.replay.fills },
        ]);
      }
    }
  }

  function init() {
    if (!window.uPlot) return;
    var el = document.getElementById("chart-summary");
    if (el) summaryChart(el);
    parentCharts();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
