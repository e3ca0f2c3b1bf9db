// voc console: the only script. It ticks SLA countdowns and re-loads pages that ask for it.
// No framework and no inline script (the Content-Security-Policy forbids inline code).
"use strict";
(function () {
  function fmt(ms) {
    var neg = ms < 0, s = Math.floor(Math.abs(ms) / 1000);
    var d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600),
        m = Math.floor((s % 3600) / 60), sec = s % 60;
    var out = (d ? d + "d " : "") + (d || h ? h + "h " : "") + m + "m " +
              (d ? "" : (sec < 10 ? "0" : "") + sec + "s");
    return neg ? "overdue " + out.trim() : out.trim() + " left";
  }
  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-due]").forEach(function (el) {
      var due = Date.parse(el.getAttribute("data-due"));
      if (isNaN(due)) { return; }
      var left = due - now;
      el.textContent = fmt(left);
      el.classList.toggle("overdue", left < 0);
      var row = el.closest("tr");
      if (row) { row.classList.toggle("overdue", left < 0); }
    });
  }
  function autoRefresh() {
    var el = document.querySelector("[data-refresh-s]");
    if (!el) { return; }
    var s = parseInt(el.getAttribute("data-refresh-s"), 10);
    if (!(s > 0)) { return; }
    setTimeout(function () {
      // never throw away what an operator is typing
      var a = document.activeElement;
      if (a && (a.tagName === "TEXTAREA" || a.tagName === "INPUT" || a.tagName === "SELECT")) {
        autoRefresh(); return;
      }
      window.location.reload();
    }, s * 1000);
  }
  document.addEventListener("DOMContentLoaded", function () {
    tick(); setInterval(tick, 1000); autoRefresh();
  });
})();
