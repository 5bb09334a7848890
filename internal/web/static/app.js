// Slipway's web UI: live updates over Server-Sent Events, no dependencies.
// The element with data-live names an event stream. A deployment's stream
// sends HTML fragments whose ids are the page's: each replaces its
// namesake. A log's stream (data-live-log) sends lines, appended as text.
// data-seq on that element holds the last event applied; one polite
// aria-live region reads changes out, at most once a second.
(function () {
  "use strict";
  var root = document.querySelector("[data-live]");
  var region = document.getElementById("announcer");
  var csrf = document.querySelector('meta[name="csrf-token"]');
  var said = "", timer = 0;

  function announce(text) {
    said = text;
    if (!region || timer) return;
    timer = setTimeout(function () { region.textContent = said; timer = 0; }, 1000);
  }

  function swap(html) {
    var t = document.createElement("template");
    t.innerHTML = html;
    Array.prototype.slice.call(t.content.children).forEach(function (el) {
      var old = el.id && document.getElementById(el.id);
      if (old) old.replaceWith(el);
      if (el.getAttribute("data-announce")) announce(el.getAttribute("data-announce"));
    });
  }

  // Forms marked data-fetch are sent without leaving the page, the CSRF
  // token in a header; the stream shows the result.
  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (!form.hasAttribute("data-fetch") || !window.fetch || !csrf) return;
    e.preventDefault();
    fetch(form.action, {
      method: "POST", body: new URLSearchParams(new FormData(form)),
      headers: { "X-CSRF-Token": csrf.content }, credentials: "same-origin"
    }).then(function (res) {
      if (!res.ok) form.submit(); // let the server's page say what went wrong
    }, function () { form.submit(); });
  });

  if (!root || !window.EventSource) return;
  var log = root.dataset.liveLog && document.getElementById(root.dataset.liveLog);
  var src = new EventSource(root.dataset.live);
  src.addEventListener("open", function () { if (log) log.textContent = ""; });
  src.addEventListener("message", function (e) {
    if (log) {
      var atEnd = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
      log.appendChild(document.createTextNode(e.data + "\n"));
      if (atEnd) log.scrollTop = log.scrollHeight;
    } else {
      swap(e.data);
    }
    if (e.lastEventId) root.dataset.seq = e.lastEventId;
  });
  src.addEventListener("done", function () {
    src.close();
    root.dataset.done = "true";
    if (!log) announce("The deployment is finished.");
  });
})();
