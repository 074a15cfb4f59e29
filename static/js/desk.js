/* Live updates and confirmations for the execution desk and the parent page.
 *
 * The socket path comes from #live-socket[data-ws] (/ws/desk/ or /ws/parent/<id>/). Pushes are hints
 * (DESIGN.md §6): on each one, and on every (re)connect, the live regions ([data-live]) re-fetch
 * (debounced), and a "desk-push" event tells the parent page's charts to re-fetch. Our own controls
 * answer with HX-Trigger: parents-changed, which refreshes at once without waiting for the push.
 *
 * The kill switch asks before it posts (scope chosen, then "Halt ...? Yes / No"); so does "Cancel parent".
 */
(function () {
  "use strict";

  var DEBOUNCE_MS = 200;
  var socketEl = document.getElementById("live-socket");
  var flushTimer = null;

  function flush() {
    flushTimer = null;
    document.querySelectorAll("[data-live]").forEach(function (region) { htmx.trigger(region, "live-refresh"); });
    document.dispatchEvent(new CustomEvent("desk-push"));
  }

  function schedule() {
    if (!flushTimer) flushTimer = setTimeout(flush, DEBOUNCE_MS);
  }

  document.body.addEventListener("parents-changed", schedule);

  // --- kill switch: choose the scope, arm, confirm --------------------------------------------------
  function killForm() { return document.getElementById("kill-switch"); }

  function syncKill() {
    var form = killForm();
    if (!form) return;
    var scope = form.querySelector("#kill-scope").value;
    form.querySelector("#kill-portfolio").hidden = scope !== "portfolio";
    form.querySelector("#kill-instrument").hidden = scope !== "instrument";
    var what = scope === "all" ? "every working parent"
      : scope === "portfolio" ? "parents of portfolio " + form.querySelector("#kill-portfolio").value
      : "parents in " + form.querySelector("#kill-instrument").value;
    form.querySelector("#kill-question").textContent = "Halt " + what + " and cancel their open child orders?";
  }

  function askKill(open) {
    var form = killForm();
    form.querySelector("#kill-arm").hidden = open;
    form.querySelector("#kill-confirm").hidden = !open;
    form.classList.toggle("is-armed", open);
    if (open) form.querySelector("#kill-no").focus();
  }

  document.addEventListener("change", function (event) {
    if (event.target.closest && event.target.closest("#kill-switch")) { syncKill(); askKill(false); }
  });

  document.addEventListener("click", function (event) {
    var t = event.target;
    if (!t.closest) return;
    if (t.closest("#kill-arm")) { syncKill(); askKill(true); return; }
    if (t.closest("#kill-no")) { askKill(false); return; }
    // Generic inline confirmation ([data-confirm]): open, close; the "yes" button posts through htmx.
    var wrapper = t.closest("[data-confirm]");
    if (!wrapper) return;
    var open = !!t.closest("[data-confirm-open]");
    if (open || t.closest("[data-confirm-close]")) {
      wrapper.querySelector("[data-confirm-open]").hidden = open;
      wrapper.querySelector(".confirm-ask").hidden = !open;
    }
  });

  document.body.addEventListener("htmx:afterRequest", function (event) {
    if (event.target.id === "kill-switch") askKill(false);
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && killForm()) askKill(false);
  });

  syncKill();
  if (socketEl) liveSocket(socketEl.dataset.ws, schedule);
})();
