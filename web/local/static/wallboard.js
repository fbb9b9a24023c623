// Wallboard: live rows from server-sent events (a snapshot on each ACD change and every second).
"use strict";
(function () {
  var table = document.querySelector("[data-wallboard]");
  if (!table || !window.EventSource) { return; }
  var queues = document.querySelector("[data-queues]");
  var agents = document.querySelector("[data-agents]");
  var live = document.querySelector("[data-live-state]");
  var pct = function (v) { return v === null ? "–" : Math.round(v * 100) + " %"; };
  var secs = function (v) { return v === null ? "–" : Math.round(v) + " s"; };
  var row = function (cells) {
    var tr = document.createElement("tr");
    cells.forEach(function (v) { var td = document.createElement("td"); td.textContent = String(v); tr.appendChild(td); });
    return tr;
  };
  var states = function (by) {
    return Object.keys(by).map(function (s) { return s + " " + by[s]; }).join(", ");
  };
  var source = new EventSource(table.getAttribute("data-wallboard"));
  source.addEventListener("wallboard", function (ev) {
    var b = JSON.parse(ev.data);
    queues.replaceChildren.apply(queues, b.queues.map(function (q) {
      var ab = q.abandoned + (q.abandon_rate === null ? "" : " (" + pct(q.abandon_rate) + ")");
      return row([q.number + " " + q.name, q.waiting, secs(q.longest_wait_s), pct(q.service_level),
                  secs(q.asa_s), ab, states(q.agents_by_state)]);
    }));
    agents.replaceChildren.apply(agents, b.agents.map(function (a) {
      return row([a.agent, a.state + (a.reason ? " (" + a.reason + ")" : ""), secs(a.time_in_state_s),
                  a.queues.join(", ")]);
    }));
    if (live) { live.dataset.updated = String(Date.now()); }
  });
})();
