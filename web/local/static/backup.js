// Restore: upload the chosen file for a dry run, show what would change, then restore on confirmation.
"use strict";
(function () {
  var box = document.querySelector("[data-restore]");
  if (!box) { return; }
  var file = box.querySelector("[data-restore-file]");
  var apply = box.querySelector("[data-restore-apply]");
  var msg = box.querySelector("[data-restore-message]");
  var table = box.querySelector("[data-restore-report]");
  function send(dryRun) {
    var f = file.files[0];
    if (!f) { msg.textContent = "—"; return; }
    msg.textContent = "…";
    fetch("/api/v1/backup/restore?dry_run=" + dryRun, {
      method: "POST", credentials: "same-origin", body: f,
      headers: { "content-type": "application/octet-stream", "x-csrf-token": box.getAttribute("data-csrf") }
    }).then(function (r) { return r.json().then(function (b) { return { ok: r.ok, body: b }; }); })
      .then(function (res) {
        var b = res.body;
        if (!res.ok) {
          msg.className = "error"; msg.textContent = b.error_id + ": " + b.message;
          msg.setAttribute("data-error-id", b.error_id); table.hidden = true; apply.hidden = true; return;
        }
        msg.className = ""; msg.removeAttribute("data-error-id");
        msg.textContent = (b.applied ? "✓ " : "") + b.source_node + " " + b.created_at;
        var body = table.querySelector("tbody");
        body.replaceChildren.apply(body, Object.keys(b.tables).map(function (t) {
          var c = b.tables[t], tr = document.createElement("tr");
          [t, c.added, c.removed, c.changed, c.unchanged].forEach(function (v) {
            var td = document.createElement("td"); td.textContent = v === undefined ? "–" : String(v); tr.appendChild(td);
          });
          return tr;
        }));
        table.hidden = false; table.setAttribute("data-dry-run", String(b.dry_run));
        apply.hidden = !b.dry_run;
      }).catch(function (e) { msg.className = "error"; msg.textContent = String(e); });
  }
  box.querySelector("[data-restore-check]").addEventListener("click", function () { send(true); });
  apply.addEventListener("click", function () {
    if (window.confirm(apply.getAttribute("data-question"))) { send(false); }
  });
  file.addEventListener("change", function () { apply.hidden = true; table.hidden = true; msg.textContent = ""; });
})();
