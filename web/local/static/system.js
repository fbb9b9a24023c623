// Live log: follow the controller's log over server-sent events, keeping the newest 500 lines.
"use strict";
(function () {
  var pre = document.querySelector("[data-log]");
  if (!pre || !window.EventSource) { return; }
  pre.textContent = "";
  var es = new EventSource(pre.getAttribute("data-log"));
  es.addEventListener("log", function (ev) {
    var l = JSON.parse(ev.data);
    pre.appendChild(document.createTextNode(l.at.slice(11, 19) + " " + l.level + " " + l.logger + ": " + l.message + "\n"));
    while (pre.childNodes.length > 500) { pre.removeChild(pre.firstChild); }
    pre.scrollTop = pre.scrollHeight;
  });
})();
