// Trunks page: refresh each trunk's live state, last answer and "since" every 3 s (no reload).
"use strict";
(function () {
  var table = document.querySelector("[data-trunk-status]");
  if (!table || !window.fetch) { return; }
  var url = table.getAttribute("data-trunk-status");
  function set(row, field, text) {
    var cell = row.querySelector('[data-field="' + field + '"]');
    if (cell && cell.textContent !== text) { cell.textContent = text; }
    return cell;
  }
  function apply(list) {
    list.forEach(function (t) {
      var row = table.querySelector('tr[data-trunk="' + CSS.escape(t.name) + '"]');
      if (!row) { return; }
      var cell = set(row, "state", table.getAttribute("data-l-" + t.state) || t.state);
      if (cell) { cell.className = "state state-" + t.state; }
      set(row, "last_code", t.last_code === null ? "\u2013" : String(t.last_code));
      set(row, "since", t.since ? t.since.slice(0, 19).replace("T", " ") : "\u2013");
    });
    table.setAttribute("data-refreshed", String(Date.now()));
  }
  function poll() {
    fetch(url, { credentials: "same-origin", headers: { "accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (list) { if (list) { apply(list); } })
      .catch(function () { /* offline for a moment: try again next round */ })
      .then(function () { setTimeout(poll, 3000); });
  }
  poll();
})();
