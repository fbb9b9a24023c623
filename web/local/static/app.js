// Progressive enhancement only: every page works without this file.
"use strict";
(function () {
  // Confirm destructive buttons.
  document.addEventListener("click", function (ev) {
    var el = ev.target.closest("[data-confirm]");
    if (el && !window.confirm(el.getAttribute("data-confirm"))) { ev.preventDefault(); }
    var back = ev.target.closest("[data-back]");
    if (back && window.history.length > 1) { ev.preventDefault(); window.history.back(); }
  });
  // Copy a one-time secret.
  document.querySelectorAll("[data-copy]").forEach(function (btn) {
    if (!navigator.clipboard) { return; }
    btn.hidden = false;
    btn.addEventListener("click", function () {
      var text = document.getElementById(btn.getAttribute("data-copy")).textContent;
      navigator.clipboard.writeText(text).then(function () { btn.textContent = "✓"; });
    });
  });
  // Language picker submits itself.
  document.querySelectorAll("[data-autosubmit]").forEach(function (sel) {
    sel.addEventListener("change", function () { sel.form.submit(); });
  });
  // Status page: refresh numbers every 5 s while visible.
  var box = document.querySelector("[data-status-refresh]");
  if (box) {
    var url = box.getAttribute("data-status-refresh");
    var tick = function () {
      if (document.hidden) { return; }
      fetch(url, { credentials: "same-origin" }).then(function (r) { return r.ok ? r.json() : null; })
        .then(function (s) {
          if (!s) { return; }
          box.querySelector('[data-field="sessions"]').textContent = s.sessions;
          box.querySelector('[data-field="open_alarms"]').textContent = s.open_alarms;
          box.querySelector('[data-field="load_average"]').textContent = s.load_average.join(" ");
          var body = document.querySelector("[data-workers]");
          if (body && s.workers.length) {
            body.replaceChildren.apply(body, s.workers.map(function (w) {
              var tr = document.createElement("tr");
              [w.name, w.legs_reserved, w.capacity].forEach(function (v) {
                var td = document.createElement("td"); td.textContent = String(v); tr.appendChild(td);
              });
              return tr;
            }));
          }
        }).catch(function () {});
    };
    setInterval(tick, 5000);
  }
})();
