// Wallboard: live rows from server-sent events (a snapshot on each ACD change and every second),
// and listen / whisper / barge buttons on talking calls that call /api/v1/supervision.
"use strict";
(function () {
  var table = document.querySelector("[data-wallboard]");
  if (!table || !window.EventSource) { return; }
  var queues = document.querySelector("[data-queues]");
  var agents = document.querySelector("[data-agents]");
  var live = document.querySelector("[data-live-state]");
  var calls = document.querySelector("[data-calls]");
  var callRows = document.querySelector("[data-call-rows]");
  var result = document.querySelector("[data-supervise-result]");
  var own = calls ? calls.getAttribute("data-own-extension") : "";
  var label = function (key) { return (calls && calls.getAttribute("data-l-" + key)) || key; };
  var pct = function (v) { return v === null ? "–" : Math.round(v * 100) + " %"; };
  var secs = function (v) { return v === null ? "–" : Math.round(v) + " s"; };
  var cell = function (v) { var td = document.createElement("td"); td.textContent = String(v); return td; };
  var row = function (cells) {
    var tr = document.createElement("tr");
    cells.forEach(function (v) { tr.appendChild(cell(v)); });
    return tr;
  };
  var states = function (by) {
    return Object.keys(by).map(function (s) { return label(s) + " " + by[s]; }).join(", ");
  };
  var button = function (c, mode) {
    var b = document.createElement("button");
    b.type = "button";
    b.textContent = label(mode);
    b.setAttribute("data-call-id", c.call_id);
    b.setAttribute("data-mode", mode);
    var current = c.supervision && c.supervision.mode;
    if (current === mode) { b.className = "primary"; b.setAttribute("aria-pressed", "true"); }
    if (!own) { b.disabled = true; b.title = label("no-extension"); }
    return b;
  };
  var callRow = function (c) {
    var tr = row([c.caller, c.queue, label(c.state), c.agent || "–", secs(c.seconds)]);
    tr.setAttribute("data-call", c.call_id);
    tr.setAttribute("data-state", c.state);
    var td = document.createElement("td");
    td.className = "actions";
    if (c.state === "talking") {
      ["listen", "whisper", "barge"].forEach(function (m) { td.appendChild(button(c, m)); td.appendChild(document.createTextNode(" ")); });
      if (c.supervision) {
        td.appendChild(button(c, "stop"));
        var s = document.createElement("span");
        s.className = "muted";
        s.setAttribute("data-supervision", c.supervision.state);
        s.textContent = " " + c.supervision.supervisor_extension + " (" + label(c.supervision.state) + ")";
        td.appendChild(s);
      }
      if (!own) { td.appendChild(document.createTextNode(label("no-extension"))); }
    }
    tr.appendChild(td);
    return tr;
  };
  var show = function (text) { if (result) { result.textContent = text; } };
  var api = function (method, url, body) {
    return fetch(url, {
      method: method, credentials: "same-origin",
      headers: { "content-type": "application/json", "accept": "application/json",
                 "x-csrf-token": calls.getAttribute("data-csrf") },
      body: body ? JSON.stringify(body) : undefined
    }).then(function (r) {
      if (r.ok) { show(""); return; }
      return r.json().then(function (e) { show(e.message || e.error_id || String(r.status)); },
                           function () { show(String(r.status)); });
    }, function () { show("network error"); });
  };
  if (calls) {
    calls.addEventListener("click", function (ev) {
      var b = ev.target.closest ? ev.target.closest("button[data-mode]") : null;
      if (!b || b.disabled) { return; }
      var id = b.getAttribute("data-call-id");
      var mode = b.getAttribute("data-mode");
      var supervised = b.parentNode.querySelector("[data-supervision]") !== null;
      var url = "/api/v1/supervision/" + encodeURIComponent(id);
      if (mode === "stop") { api("DELETE", url); }
      else if (supervised) { api("PATCH", url, { mode: mode }); }
      else { api("POST", "/api/v1/supervision", { call_id: id, supervisor_extension: own, mode: mode }); }
    });
  }
  var source = new EventSource(table.getAttribute("data-wallboard"));
  source.addEventListener("wallboard", function (ev) {
    var b = JSON.parse(ev.data);
    queues.replaceChildren.apply(queues, b.queues.map(function (q) {
      var ab = q.abandoned + (q.abandon_rate === null ? "" : " (" + pct(q.abandon_rate) + ")");
      return row([q.number + " " + q.name, q.waiting, secs(q.longest_wait_s), pct(q.service_level),
                  secs(q.asa_s), ab, states(q.agents_by_state)]);
    }));
    agents.replaceChildren.apply(agents, b.agents.map(function (a) {
      return row([a.agent, label(a.state) + (a.reason ? " (" + a.reason + ")" : ""), secs(a.time_in_state_s),
                  a.queues.join(", ")]);
    }));
    if (callRows) {
      // keep a call's row (and its buttons) while only its clock moves, so a press is never lost
      var kept = {};
      callRows.querySelectorAll("tr[data-sig]").forEach(function (tr) { kept[tr.getAttribute("data-sig")] = tr; });
      var list = (b.calls || []).map(function (c) {
        var sig = JSON.stringify([c.call_id, c.caller, c.queue, c.state, c.agent, c.supervision]);
        var tr = kept[sig] || callRow(c);
        tr.setAttribute("data-sig", sig);
        tr.children[4].textContent = secs(c.seconds);
        return tr;
      });
      if (!list.length) { var empty = row([label("none")]); empty.firstChild.colSpan = 6; empty.firstChild.className = "muted"; list = [empty]; }
      callRows.replaceChildren.apply(callRows, list);
    }
    if (live) { live.dataset.updated = String(Date.now()); }
  });
})();
