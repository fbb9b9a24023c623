// Prompts page: upload the chosen audio file as the request body; show the box's reason when refused.
"use strict";
(function () {
  var box = document.querySelector("[data-prompt-upload]");
  if (!box) { return; }
  var file = box.querySelector("[data-prompt-file]");
  var name = box.querySelector("[data-prompt-name]");
  var lang = box.querySelector("[data-prompt-language]");
  var msg = box.querySelector("[data-prompt-message]");
  box.querySelector("[data-prompt-send]").addEventListener("click", function () {
    var f = file.files[0];
    if (!f || !name.value) { msg.className = "error"; msg.textContent = box.getAttribute("data-missing") || "—"; return; }
    msg.className = ""; msg.textContent = "…";
    var url = "/api/v1/prompts?language=" + encodeURIComponent(lang.value) + "&name=" + encodeURIComponent(name.value);
    fetch(url, {
      method: "PUT", credentials: "same-origin", body: f,
      headers: { "content-type": "application/octet-stream", "x-csrf-token": box.getAttribute("data-csrf") }
    }).then(function (r) { return r.json().then(function (b) { return { ok: r.ok, body: b }; }); })
      .then(function (res) {
        if (!res.ok) {
          msg.className = "error"; msg.setAttribute("data-error-id", res.body.error_id || "");
          msg.textContent = res.body.message || res.body.error_id; return;
        }
        window.location.assign("/prompts?language=" + encodeURIComponent(lang.value) + "&uploaded=" +
          encodeURIComponent(res.body.name));
      }).catch(function (e) { msg.className = "error"; msg.textContent = String(e); });
  });
})();
