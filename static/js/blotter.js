/* Live updates for the desk and the order page.
 *
 * Websocket pushes on /ws/blotter/ are hints (DESIGN.md §6): on each one, and on every (re)connect
 * ("hello"), the page re-fetches its live regions -- elements with [data-live], which htmx re-GETs on
 * the "live-refresh" event -- so a dropped push never leaves a stale screen. A region with
 * data-live-order="<id>" (the order page) only refreshes for that order or for a bulk change.
 */
(function () {
  "use strict";

  var DEBOUNCE_MS = 150;
  var flushTimer = null;
  var pending = { all: false, ids: new Set() };

  function flush() {
    flushTimer = null;
    var all = pending.all, ids = pending.ids;
    pending = { all: false, ids: new Set() };
    document.querySelectorAll("[data-live]").forEach(function (region) {
      var only = region.dataset.liveOrder;
      if (all || !only || ids.has(only)) htmx.trigger(region, "live-refresh");
    });
  }

  // Coalesce bursts: at most one re-fetch per region every DEBOUNCE_MS, and never starved by a stream.
  function schedule(message) {
    if (message && message.type === "order.changed" && message.id != null) pending.ids.add(String(message.id));
    else pending.all = true;
    if (!flushTimer) flushTimer = setTimeout(flush, DEBOUNCE_MS);
  }

  // Our own submits and cancels answer with HX-Trigger: orders-changed; refresh at once, not on the push.
  document.body.addEventListener("orders-changed", function () { schedule(null); });

  // A header sorts the blotter: the sort rides in the filter form, so live refreshes and filters keep it
  // (without JavaScript the header's link loads the sorted page).
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("#blotter-table th a[data-sort]");
    var form = document.getElementById("blotter-filters");
    if (!link || !form || !form.elements.sort) return;
    event.preventDefault();
    form.elements.sort.value = link.dataset.sort;
    htmx.trigger(form, "submit");
  });

  // The order page's timeline: a run of fills is one line; a click shows each of them. What is open is
  // remembered by the run's first event id, so the live re-render after the next fill keeps it open.
  var openRuns = new Set();

  function showRun(seq, open) {
    var summary = document.querySelector('tr.run-summary[data-run="' + seq + '"]');
    if (!summary) return;
    summary.querySelector(".run-toggle").setAttribute("aria-expanded", open ? "true" : "false");
    summary.classList.toggle("is-open", open);
    document.querySelectorAll('tr[data-run-of="' + seq + '"]').forEach(function (row) { row.hidden = !open; });
  }

  document.addEventListener("click", function (event) {
    var toggle = event.target.closest && event.target.closest(".run-toggle");
    if (!toggle) return;
    var seq = toggle.closest("tr").dataset.run;
    var open = !openRuns.has(seq);
    if (open) openRuns.add(seq); else openRuns.delete(seq);
    showRun(seq, open);
  });
  htmx.onLoad(function () { openRuns.forEach(function (seq) { showRun(seq, true); }); });

  // Cancel asks first, in place ("Cancel order 12? Yes, cancel / No"; templates/oms/_cancel.html); only
  // "Yes" posts. The open question is remembered by order id, so a live re-render of the table (another
  // order changed) does not close it under the user's cursor.
  var asking = null;

  function setAsking(wrapper, open) {
    wrapper.querySelector(".btn-cancel").hidden = open;
    wrapper.querySelector(".confirm-ask").hidden = !open;
    wrapper.classList.toggle("is-asking", open);
  }

  function closeAsking() {
    var open = asking && document.querySelector('[data-cancel-order="' + asking + '"]');
    asking = null;
    if (open) setAsking(open, false);
  }

  document.addEventListener("click", function (event) {
    var wrapper = event.target.closest && event.target.closest("[data-cancel-order]");
    if (!wrapper) return;
    if (event.target.closest(".btn-cancel")) {
      closeAsking();
      asking = wrapper.dataset.cancelOrder;
      setAsking(wrapper, true);
      wrapper.querySelector(".btn-confirm-no").focus(); // the safe answer is the default one
    } else if (event.target.closest(".btn-confirm-no")) {
      closeAsking();
      wrapper.querySelector(".btn-cancel").focus();
    } else if (event.target.closest(".btn-confirm-yes")) {
      asking = null; // htmx posts it; the refresh that follows removes the button
    }
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && asking) closeAsking();
  });
  htmx.onLoad(function () {
    var open = asking && document.querySelector('[data-cancel-order="' + asking + '"]');
    if (!open) {
      asking = null; // the order is no longer cancellable (or no longer shown)
      return;
    }
    setAsking(open, true);
    // The re-render replaced the button that had the focus: give it back to the safe answer, so a
    // keyboard user's next key still means "No" (a live refresh must not move the focus to the page).
    if (!document.activeElement || document.activeElement === document.body) open.querySelector(".btn-confirm-no").focus();
  });

  // "hello" comes on every (re)connect: catch up on whatever changed while we were away.
  liveSocket("/ws/blotter/", function (message) { schedule(message.type === "hello" ? null : message); });
})();
