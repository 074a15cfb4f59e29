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
  var MAX_BACKOFF_MS = 15000;
  var LABELS = { connecting: "Connecting", live: "Live", off: "Disconnected" };
  var indicator = document.getElementById("live-indicator");
  var socketEl = document.getElementById("live-socket");
  var attempts = 0;
  var flushTimer = null;

  function setState(state, title) {
    if (!indicator) return;
    indicator.dataset.state = state;
    indicator.textContent = LABELS[state];
    indicator.title = title || "Live updates";
  }

  function flush() {
    flushTimer = null;
    document.querySelectorAll("[data-live]").forEach(function (region) { htmx.trigger(region, "live-refresh"); });
    document.dispatchEvent(new CustomEvent("desk-push"));
  }

  function schedule() {
    if (!flushTimer) flushTimer = setTimeout(flush, DEBOUNCE_MS);
  }

  function connect() {
    if (!socketEl) return;
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + location.host + socketEl.dataset.ws);
    setState("connecting");
    socket.onmessage = function (event) {
      var message;
      try { message = JSON.parse(event.data); } catch (e) { return; }
      if (message.type === "hello") { attempts = 0; setState("live"); }
      schedule();
    };
    socket.onclose = function (event) {
      if (event.code === 4401) { setState("off", "Signed out: reload to sign in again"); return; }
      if (event.code === 4403 || event.code === 4404) { setState("off", "No live feed for this page"); return; }
      var delay = Math.min(MAX_BACKOFF_MS, 500 * Math.pow(2, attempts++)) * (0.75 + Math.random() / 2);
      setState("off", "Reconnecting in " + Math.round(delay / 1000) + " s");
      setTimeout(connect, delay);
    };
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
  connect();
})();
