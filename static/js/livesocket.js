/* One live websocket with the "Live" indicator and reconnection, shared by blotter.js and desk.js.
 *
 * liveSocket(path, onMessage): connects to ws(s)://<host><path>, shows Connecting / Live / Disconnected in
 * #live-indicator, and hands every parsed message to onMessage (the server's "hello" on each (re)connect
 * included: pages re-fetch then, DESIGN.md §6). A dropped socket reconnects with jittered exponential
 * backoff up to 15 s; close codes 4401 (signed out) and 4403/4404 (no feed for this account or page) stop.
 */
(function () {
  "use strict";

  var MAX_BACKOFF_MS = 15000;
  var LABELS = { connecting: "Connecting", live: "Live", off: "Disconnected" };

  function setState(state, title) {
    var indicator = document.getElementById("live-indicator");
    if (!indicator) return;
    indicator.dataset.state = state;
    indicator.textContent = LABELS[state];
    indicator.title = title || "Live updates";
  }

  window.liveSocket = function (path, onMessage) {
    var attempts = 0;

    function connect() {
      var scheme = location.protocol === "https:" ? "wss://" : "ws://";
      var socket = new WebSocket(scheme + location.host + path);
      setState("connecting");
      socket.onmessage = function (event) {
        var message;
        try { message = JSON.parse(event.data); } catch (e) { return; }
        if (message.type === "hello") { attempts = 0; setState("live"); }
        onMessage(message);
      };
      socket.onclose = function (event) {
        if (event.code === 4401) { setState("off", "Signed out: reload to sign in again"); return; }
        if (event.code === 4403 || event.code === 4404) { setState("off", "No live feed here for this account"); return; }
        var delay = Math.min(MAX_BACKOFF_MS, 500 * Math.pow(2, attempts++)) * (0.75 + Math.random() / 2);
        setState("off", "Reconnecting in " + Math.round(delay / 1000) + " s");
        setTimeout(connect, delay);
      };
    }

    connect();
  };
})();
