// The header's market clock (templates/base.html, ems/templatetags/market_clock.py). The server gives the
// market time at render (µs of session time since day 0's open) and the speed; the page advances it on its
// own monotonic clock, so it needs no polling and no agreement between the browser's and the server's clocks.
(function () {
  "use strict";
  const SESSION_US = 23400 * 1e6; // 09:30-16:00; the close of day d is the open of day d + 1
  const OPEN_S = 9 * 3600 + 30 * 60;
  const el = document.getElementById("market-clock");
  if (!el) return;
  const text = document.getElementById("market-clock-text");
  const start = Number(el.dataset.marketUs);
  const speed = Number(el.dataset.speed);
  const t0 = performance.now();
  const pad = (n) => String(n).padStart(2, "0");
  function label() {
    const abs = start + (performance.now() - t0) * 1000 * speed;
    const day = Math.floor(abs / SESSION_US);
    const s = OPEN_S + Math.floor((abs - day * SESSION_US) / 1e6);
    return `D${day} ${pad(Math.floor(s / 3600))}:${pad(Math.floor(s / 60) % 60)}:${pad(s % 60)}`;
  }
  // One market second lasts 1/speed wall seconds; a repaint per market second, at most 5 a wall second.
  setInterval(() => { text.textContent = label(); }, Math.max(200, 1000 / speed));
})();
