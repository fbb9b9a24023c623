// Reports: draw the charts with the vendored Chart.js from the same API the tables and CSV come from.
"use strict";
(function () {
  if (typeof Chart === "undefined") { return; }
  var rtl = document.documentElement.dir === "rtl";
  function label(iso) { return iso.slice(0, 16).replace("T", " "); }
  function draw(canvas, rows) {
    var kind = canvas.getAttribute("data-chart");
    var labels = [], sets;
    if (kind === "volume") {
      var by = {};
      rows.forEach(function (r) {
        var k = label(r.interval_start);
        if (!(k in by)) { by[k] = { answered: 0, abandoned: 0, in_sl: 0, den: 0 }; labels.push(k); }
        by[k].answered += r.answered; by[k].abandoned += r.abandoned; by[k].in_sl += r.answered_in_sl;
        by[k].den += r.answered + r.abandoned + r.timed_out;
      });
      sets = [
        { type: "bar", label: "answered", data: labels.map(function (k) { return by[k].answered; }), yAxisID: "y" },
        { type: "bar", label: "abandoned", data: labels.map(function (k) { return by[k].abandoned; }), yAxisID: "y" },
        { type: "line", label: "SL %", yAxisID: "pct",
          data: labels.map(function (k) { return by[k].den ? Math.round(100 * by[k].in_sl / by[k].den) : null; }) }
      ];
    } else {
      var agents = {};
      rows.forEach(function (r) {
        if (!(r.agent_id in agents)) { agents[r.agent_id] = { staffed: 0, handling: 0, paused: 0 }; labels.push(r.agent_id); }
        var a = agents[r.agent_id];
        a.staffed += r.available_s + r.reserved_s + r.on_call_s + r.wrap_up_s;
        a.handling += r.on_call_s + r.wrap_up_s; a.paused += r.paused_s;
      });
      sets = [
        { type: "bar", label: "occupancy %", yAxisID: "pct",
          data: labels.map(function (k) { var a = agents[k]; return a.staffed ? Math.round(100 * a.handling / a.staffed) : null; }) },
        { type: "bar", label: "paused min", yAxisID: "y",
          data: labels.map(function (k) { return Math.round(agents[k].paused / 60); }) }
      ];
    }
    canvas.chart = new Chart(canvas, {
      data: { labels: labels, datasets: sets },
      options: { animation: false, responsive: true, maintainAspectRatio: false,
        scales: { x: { reverse: rtl }, y: { beginAtZero: true, position: rtl ? "right" : "left" },
          pct: { beginAtZero: true, max: 100, position: rtl ? "left" : "right", grid: { drawOnChartArea: false } } } }
    });
    canvas.setAttribute("data-drawn", String(labels.length));
  }
  document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
    fetch(canvas.getAttribute("data-src"), { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : []; })
      .then(function (rows) { draw(canvas, rows); })
      .catch(function () { canvas.setAttribute("data-drawn", "error"); });
  });
})();
