/* What the uPlot charts of the desk and TCA pages share: market time on the x axis (seconds since the
 * 09:30 open, written as a clock) and several (t, y) series merged on one sorted x axis. */
(function () {
  "use strict";

  var AXIS_FONT = "11px system-ui, -apple-system, sans-serif";
  var X_TICK_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200];

  function clockOf(s, withSeconds) {
    var t = 9 * 3600 + 30 * 60 + Math.floor(s);
    var h = Math.floor(t / 3600), m = Math.floor((t % 3600) / 60), sec = t % 60;
    var hhmm = String(h).padStart(2, "0") + ":" + String(m).padStart(2, "0");
    return withSeconds === false ? hhmm : hhmm + ":" + String(sec).padStart(2, "0");
  }

  function timeAxis() {
    return { stroke: "#7c8a99", grid: { stroke: "#1a222c" }, font: AXIS_FONT, space: 90, incrs: X_TICK_STEPS,
      values: function (u, vals, i, space, incr) { return vals.map(function (v) { return clockOf(v, incr % 60 !== 0); }); } };
  }

  // Several (t, y) series on one sorted x axis (uPlot's data layout), null where a series has no point.
  function align(series) {
    var xs = new Set();
    series.forEach(function (s) { s.t.forEach(function (t) { xs.add(t); }); });
    var x = Array.from(xs).sort(function (a, b) { return a - b; });
    var index = new Map(x.map(function (t, i) { return [t, i]; }));
    var out = [x];
    series.forEach(function (s) {
      var ys = new Array(x.length).fill(null);
      s.t.forEach(function (t, i) { ys[index.get(t)] = s.y[i]; });
      out.push(ys);
    });
    return out;
  }

  window.ChartTime = { clockOf: clockOf, timeAxis: timeAxis, align: align, AXIS_FONT: AXIS_FONT };
})();
