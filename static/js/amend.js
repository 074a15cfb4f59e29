/* Amend (cancel/replace) from the blotter: the "Amend" button of a row opens templates/oms/_amend_dialog.html
 * with that order's quantity and limit; "Send amend" posts to /orders/<id>/replace/ through htmx. A refusal
 * (risk, lot or tick, an order in a working parent that can only be reduced) is shown in the dialog, which
 * stays open; success closes it ("amend-done") and the blotter refreshes ("orders-changed"). */
(function () {
  "use strict";

  var dialog = document.getElementById("amend-dialog");
  if (!dialog) return;
  var form = document.getElementById("amend-form");
  function part(name) { return dialog.querySelector('[data-amend="' + name + '"]'); }

  function open(button) {
    var d = button.dataset;
    form.setAttribute("hx-post", d.url);
    htmx.process(form);
    part("id").textContent = d.amendOrder;
    part("label").textContent = d.label;
    part("quantity").value = d.quantity;
    part("limit").value = d.limit;
    part("limit-row").hidden = !d.limit; // a market order has no limit to amend
    var note = "Lot " + d.lot + (d.limit ? ", tick " + d.tick : "") + ".";
    if (Number(d.filled) > 0) note += " " + Number(d.filled).toLocaleString("en-US") + " already filled: the quantity cannot go below it.";
    note += " Once a parent order works it, only a smaller quantity is possible.";
    part("note").textContent = note;
    document.getElementById("amend-result").textContent = "";
    dialog.showModal();
    part("quantity").select();
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest(".btn-amend");
    if (button) open(button);
    else if (event.target.closest && event.target.closest('[data-amend="close"]')) dialog.close();
  });
  document.body.addEventListener("amend-done", function () { dialog.close(); });
})();
