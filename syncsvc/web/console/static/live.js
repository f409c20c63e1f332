// Live progress for running jobs, and the widths of the outcome bar. Text only (textContent):
// nothing from the server is ever inserted as HTML. Served from our own origin (the CSP forbids
// inline script).
(function () {
  "use strict";
  var DONE = { FINISHED: 1, FAILED: 1, STOPPED: 1, CANCELED: 1 };

  function poll(el) {
    var id = el.getAttribute("data-live-job");
    var state = el.querySelector("[data-state]");
    var text = el.querySelector("[data-progress]");
    var bar = el.querySelector("progress");
    fetch("/api/sync/job/" + encodeURIComponent(id), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (job) {
        if (!job) { return; }
        var p = job.progress || {};
        if (state) { state.textContent = String(job.state || "").toLowerCase() + (p.phase ? " · " + p.phase : ""); }
        if (text && p.total !== undefined) { text.textContent = (p.processed || 0) + " / " + p.total; }
        if (bar && p.total) { bar.max = p.total; bar.value = p.processed || 0; }
        if (DONE[job.state]) {
          if (el.getAttribute("data-reload")) { window.setTimeout(function () { window.location.reload(); }, 300); }
          return;
        }
        window.setTimeout(function () { poll(el); }, 1000);
      })
      .catch(function () { window.setTimeout(function () { poll(el); }, 3000); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll("[data-live-job]"), poll);
    Array.prototype.forEach.call(document.querySelectorAll(".bar .seg[data-width]"), function (seg) {
      seg.style.width = Math.max(4, Number(seg.getAttribute("data-width")) || 0) + "%";
    });
  });
})();
