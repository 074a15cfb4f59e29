/* Export links (templates/_export_links.html: the TCA pages, the audit page). An export can take seconds (the
 * all-fills XLSX: ~15 s), so a click fetches the file instead of navigating: the link shows "Preparing… N s"
 * (N: seconds elapsed) and takes no second click until the answer is in; the file is then saved under the
 * server's own name (Content-Disposition) through an object URL. An error answer (JSON {code, detail}) is
 * shown in the alert beside the links, never opened as a page. Without JS (or fetch) the link is a plain
 * download. Delegated from the document, so links swapped in by htmx work too.
 */
(function () {
  "use strict";

  var BUSY = "Preparing…";

  function fileName(disposition, fallback) {
    var star = /filename\*\s*=\s*UTF-8''([^;]+)/i.exec(disposition || "");
    if (star) {
      try { return decodeURIComponent(star[1]); } catch (e) { /* fall through to the plain name */ }
    }
    var plain = /filename\s*=\s*"([^"]+)"/i.exec(disposition || "") || /filename\s*=\s*([^;]+)/i.exec(disposition || "");
    return plain ? plain[1].trim() : fallback;
  }

  function alertOf(link) {
    var box = link.parentNode && link.parentNode.querySelector(".export-error");
    if (!box) {
      box = document.createElement("span");
      box.className = "export-error";
      box.setAttribute("role", "alert");
      link.parentNode.appendChild(box);
    }
    return box;
  }

  function showError(link, text) {
    var box = alertOf(link);
    box.textContent = text;
    box.hidden = false;
  }

  function busy(link) {
    var label = link.textContent, started = Date.now();
    function tick() { link.textContent = BUSY + " " + Math.floor((Date.now() - started) / 1000) + " s"; }
    link.setAttribute("aria-disabled", "true");
    link.setAttribute("aria-busy", "true");
    link.classList.add("is-busy");
    tick();
    var timer = setInterval(tick, 1000);
    return function done() {
      clearInterval(timer);
      link.textContent = label;
      link.removeAttribute("aria-disabled");
      link.removeAttribute("aria-busy");
      link.classList.remove("is-busy");
    };
  }

  function save(blob, name) {
    var url = URL.createObjectURL(blob);
    var a = document.createElement("a");
    a.href = url;
    a.download = name;
    a.hidden = true;
    document.body.appendChild(a);
    a.click();
    setTimeout(function () { URL.revokeObjectURL(url); a.remove(); }, 60000);
  }

  function failure(response) {
    // The API's errors are JSON {code, detail, field?}; anything else (a proxy's page) is said by its status.
    return response.json().then(function (body) {
      var text = body && body.detail ? body.detail : "Export failed (HTTP " + response.status + ")";
      return body && body.code ? text + " [" + body.code + "]" : text;
    }, function () { return "Export failed (HTTP " + response.status + ")"; });
  }

  function exportFile(link) {
    var done = busy(link);
    alertOf(link).hidden = true;
    fetch(link.href, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
      .then(function (response) {
        var disposition = response.headers.get("Content-Disposition") || "";
        if (response.ok && /attachment/i.test(disposition)) {
          return response.blob().then(function (blob) { save(blob, fileName(disposition, "export." + (link.dataset.format || "csv"))); });
        }
        if (response.ok) {  // not a file: a sign-in page after the session ended
          return showError(link, "The answer was not a file: sign in again and retry");
        }
        return failure(response).then(function (text) { showError(link, text); });
      })
      .catch(function () { showError(link, "Export failed: the server could not be reached"); })
      .then(done, done);
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest ? event.target.closest("a.tca-export") : null;
    if (!link || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    if (!window.fetch || !window.URL || !URL.createObjectURL) return;  // the plain download
    event.preventDefault();
    if (link.getAttribute("aria-disabled") === "true") return;  // already preparing
    exportFile(link);
  });
})();
