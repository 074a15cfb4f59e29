/* The RFQ page (/rfq/<id>/): the ladder live over /ws/rfq/<id>/, and countdowns that trust the server.
 *
 * #rfq-live holds everything that changes (status, countdown, result, ladder, providers asked). On every
 * push ({"type": "rfq.changed", "event": ..., "quote": {...}}) and on each (re)connect (the "hello") it
 * re-fetches itself from /rfq/<id>/ladder/ (pushes are hints, DESIGN.md §6: a dropped one never leaves a
 * stale ladder). Quotes arrive a few hundred ms apart, so the re-fetch is only debounced a little.
 *
 * Countdowns ([data-seconds-left]: the window's, and each live quote's life) start from the seconds the
 * server computed when it rendered them and run on performance.now(), a monotonic clock: a browser whose
 * wall clock is off by minutes still shows the server's window. The server enforces the window anyway;
 * when the countdown reaches zero the page re-fetches once so the closed state shows even if the push
 * announcing it were lost. A quote whose own countdown ends is greyed and its Execute button disabled at
 * once (the server refuses it from that instant); the server's "lapsed" push re-renders it EXPIRED.
 */
(function () {
  "use strict";

  var DEBOUNCE_MS = 40;
  var TICK_MS = 100;
  var CLOSE_RECHECK_MS = [600, 2000];  // after the window's end: the closing task runs within about a second
  var URGENT_S = 3;

  var root = document.getElementById("rfq-live");
  if (!root) return;

  var refreshTimer = null;
  var armedAt = 0;
  var closeChecks = [];

  function refresh() {
    refreshTimer = null;
    htmx.trigger(root, "live-refresh");
  }

  function schedule() {
    if (!refreshTimer) refreshTimer = setTimeout(refresh, DEBOUNCE_MS);
  }

  function format(seconds) {
    if (seconds >= 60) {
      var m = Math.floor(seconds / 60);
      var s = Math.floor(seconds % 60);
      return m + ":" + (s < 10 ? "0" : "") + s;
    }
    return seconds.toFixed(1);
  }

  // Read the server's seconds-left off the freshly rendered part, on the monotonic clock.
  function arm() {
    armedAt = performance.now();
    closeChecks.forEach(clearTimeout);
    closeChecks = [];
    root.querySelectorAll("[data-seconds-left]").forEach(function (el) {
      el._deadline = armedAt + parseFloat(el.dataset.secondsLeft) * 1000;
    });
    var clock = document.getElementById("rfq-clock");
    if (clock && clock.classList.contains("is-open")) {
      var left = clock._deadline - armedAt;
      CLOSE_RECHECK_MS.forEach(function (extra) { closeChecks.push(setTimeout(schedule, left + extra)); });
    }
    tick();
  }

  function tick() {
    var now = performance.now();
    root.querySelectorAll("[data-seconds-left]").forEach(function (el) {
      if (el._deadline === undefined) return;
      var left = Math.max(0, (el._deadline - now) / 1000);
      if (el.id === "rfq-clock") {
        var total = parseFloat(el.dataset.windowS) || 1;
        var big = el.querySelector("#rfq-countdown");
        if (left > 0) {
          big.innerHTML = format(left) + "<small> s</small>";
        } else {
          big.textContent = "closing…";
        }
        var fill = el.querySelector("#rfq-clock-fill");
        if (fill) fill.style.width = Math.min(100, (100 * left) / total).toFixed(1) + "%";
        el.classList.toggle("is-urgent", left > 0 && left <= URGENT_S);
        return;
      }
      el.textContent = left > 0 ? left.toFixed(1) + " s" : "ended";
      el.classList.toggle("is-ending", left <= 1);
      if (left <= 0) lapse(el.closest("tr[data-quote-id]"));
    });
  }

  // A quote past its life is no longer firm on the server (a click is refused): grey it and take its button
  // away at once; the server's "lapsed" push then re-renders it EXPIRED and moves "Best" to the next one.
  function lapse(row) {
    if (!row || row.classList.contains("is-lapsed")) return;
    row.classList.add("is-lapsed");
    row.querySelectorAll(".btn-exec").forEach(function (b) { b.disabled = true; });
  }

  document.body.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target === root) arm();
  });

  setInterval(tick, TICK_MS);
  arm();
  liveSocket(root.dataset.ws, schedule);
})();
