// The option chain's "+" buttons (traders): each adds its option as a leg of the "New package" link, up to four,
// which opens /rfq/package/new/ with those legs filled in. The link lives outside the chain tables that refresh
// every few seconds, so the chosen legs stay; delegation catches the buttons of every refresh.
(function () {
  "use strict";
  const link = document.getElementById("new-package");
  const tray = document.getElementById("package-tray");
  if (!link) return;
  const max = Number(link.dataset.maxLegs || 4);
  document.addEventListener("click", function (event) {
    const button = event.target.closest(".add-leg");
    if (!button) return;
    const url = new URL(link.href, location.href);
    const legs = url.searchParams.getAll("leg");
    const symbol = button.dataset.symbol;
    if (legs.includes(symbol) || legs.length >= max) {
      tray.textContent = legs.length >= max ? `A package has at most ${max} legs` : `${symbol} is already a leg`;
      return;
    }
    url.searchParams.append("leg", symbol);
    link.href = url.pathname + url.search;
    legs.push(symbol);
    link.textContent = `New package (${legs.length} leg${legs.length === 1 ? "" : "s"})`;
    tray.textContent = `Legs: ${legs.join(", ")} — sides and ratios in the form`;
  });
})();
