/* Order ticket helpers: grey out the limit price for market orders, show the instrument's figures and
 * an estimated notional at the price pre-trade risk will use (the live market mid, or the static
 * reference price when the market price is stale; polled from the server). The ticket is swapped by
 * htmx after each submit, so everything is delegated from the document and re-synced on htmx.onLoad. */
(function () {
  "use strict";

  var money = new Intl.NumberFormat("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });

  function field(form, name) { return form.querySelector("[name=" + name + "]"); }

  function instrumentOption(form) {
    var symbol = (field(form, "instrument").value || "").trim().split(/\s+/)[0].toUpperCase();
    return symbol ? document.querySelector('#instrument-list option[value="' + CSS.escape(symbol) + '"]') : null;
  }

  // symbol -> {price, source: "market" | "reference", detail, as_of}: rendered with the ticket, then polled.
  var prices = {};
  var PRICE_POLL_MS = 2000;  // the EMS refreshes market prices every 2 s

  function renderedPrices(form) {
    var script = form.querySelector("#t-risk-prices");
    if (script) prices = JSON.parse(script.textContent).prices || prices;
  }

  function refreshPrices() {
    var estimate = document.getElementById("t-estimate");
    var url = estimate && estimate.dataset.pricesUrl;
    if (!url || document.hidden) return;
    // A signed-out session answers with a redirect to the login page: not followed, the poll just skips.
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin", redirect: "manual" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (body) {
        if (!body) return;
        prices = body.prices || {};
        var form = document.getElementById("ticket");
        if (form) sync(form);
      })
      .catch(function () { /* keep the last prices; the next poll retries */ });
  }

  // The risk price of the chosen instrument: from the server once known, else the page's reference price.
  function riskPrice(option) {
    if (!option) return null;
    var p = prices[option.value];
    if (!p) return { value: parseFloat(option.dataset.ref), kind: "ref", text: "ref " + option.dataset.ref, state: "", detail: "" };
    var kind = p.source === "market" ? "mid" : "ref";
    return { value: parseFloat(p.price), kind: kind, text: kind + " " + p.price, state: kind === "mid" ? "live" : "stale", detail: p.detail };
  }

  function sync(form) {
    var type = form.querySelector("[name=order_type]:checked");
    var isLimit = !type || type.value === "limit";
    var limit = field(form, "limit_price");
    limit.disabled = !isLimit;
    form.querySelector("#field-limit_price").classList.toggle("is-disabled", !isLimit);

    var option = instrumentOption(form);
    var risk = riskPrice(option);
    var hint = form.querySelector("#t-instrument-hint");
    hint.textContent = option
      ? option.dataset.name + " · " + risk.text + " " + option.dataset.ccy + (risk.state ? " · " + risk.state : "") +
        " · tick " + parseFloat(option.dataset.tick) + " · lot " + option.dataset.lot
      : "";
    hint.title = risk ? risk.detail : "";

    var qty = parseInt((field(form, "quantity").value || "").replace(/[,_\s]/g, ""), 10);
    var price = isLimit ? parseFloat(limit.value) : risk ? risk.value : NaN;
    var estimate = form.querySelector("#t-estimate");
    estimate.textContent = qty > 0 && price > 0
      ? "≈ " + money.format(qty * price) + " " + (option ? option.dataset.ccy : "") + (isLimit ? "" : " at " + risk.kind)
      : "";
  }

  // The previous order's denial is about that order: once the PM edits the ticket for the next one it goes
  // (the blotter keeps the denied order and its reason), and the fields it marked are clear again.
  function clearDenial(form) {
    form.querySelectorAll(".notice-denied, .err-denied").forEach(function (el) { el.remove(); });
    form.querySelectorAll(".top-errors").forEach(function (el) { if (!el.querySelector(".err")) el.remove(); });
    form.querySelectorAll(".field.has-error").forEach(function (f) {
      if (!f.querySelector(".err")) f.classList.remove("has-error");
    });
  }

  function onEdit(event) {
    var form = event.target.closest && event.target.closest("#ticket");
    if (!form) return;
    if (event.isTrusted) clearDenial(form);
    sync(form);
  }

  document.addEventListener("input", onEdit);
  document.addEventListener("change", onEdit);
  htmx.onLoad(function (element) {
    var form = element.id === "ticket" ? element : element.querySelector && element.querySelector("#ticket");
    if (form) { renderedPrices(form); sync(form); }
  });
  setInterval(refreshPrices, PRICE_POLL_MS);
  document.addEventListener("visibilitychange", refreshPrices);
})();
