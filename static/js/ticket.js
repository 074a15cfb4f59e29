/* Order ticket helpers: grey out the limit price for market orders, show the instrument's reference
 * figures and an estimated notional. The ticket is swapped by htmx after each submit, so everything
 * is delegated from the document and re-synced on htmx.onLoad. */
(function () {
  "use strict";

  var money = new Intl.NumberFormat("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });

  function field(form, name) { return form.querySelector("[name=" + name + "]"); }

  function instrumentOption(form) {
    var symbol = (field(form, "instrument").value || "").trim().split(/\s+/)[0].toUpperCase();
    return symbol ? document.querySelector('#instrument-list option[value="' + CSS.escape(symbol) + '"]') : null;
  }

  function sync(form) {
    var type = form.querySelector("[name=order_type]:checked");
    var isLimit = !type || type.value === "limit";
    var limit = field(form, "limit_price");
    limit.disabled = !isLimit;
    form.querySelector("#field-limit_price").classList.toggle("is-disabled", !isLimit);

    var option = instrumentOption(form);
    var hint = form.querySelector("#t-instrument-hint");
    hint.textContent = option
      ? option.dataset.name + " · ref " + option.dataset.ref + " " + option.dataset.ccy + " · tick " + parseFloat(option.dataset.tick) + " · lot " + option.dataset.lot
      : "";

    var qty = parseInt((field(form, "quantity").value || "").replace(/[,_\s]/g, ""), 10);
    var price = isLimit ? parseFloat(limit.value) : option ? parseFloat(option.dataset.ref) : NaN;
    var estimate = form.querySelector("#t-estimate");
    estimate.textContent = qty > 0 && price > 0
      ? "≈ " + money.format(qty * price) + " " + (option ? option.dataset.ccy : "") + (isLimit ? "" : " at ref")
      : "";
  }

  function onEdit(event) {
    var form = event.target.closest && event.target.closest("#ticket");
    if (form) sync(form);
  }

  document.addEventListener("input", onEdit);
  document.addEventListener("change", onEdit);
  htmx.onLoad(function (element) {
    var form = element.id === "ticket" ? element : element.querySelector && element.querySelector("#ticket");
    if (form) sync(form);
  });
})();
