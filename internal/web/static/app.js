// Slipway's web UI: live updates over Server-Sent Events, no dependencies.
// The element with data-live names an event stream. A deployment's stream
// (and the questions inbox's) sends HTML fragments whose ids are the
// page's: each replaces its namesake. A log's stream (data-live-log) sends
// lines, appended as text. data-seq on that element holds the last event
// applied; one polite aria-live region reads changes out, at most once a
// second. A step row carries its node in the step graph (data-node) and
// its state: the node's class and title follow it.
(function () {
  "use strict";
  var root = document.querySelector("[data-live]");
  var region = document.getElementById("announcer");
  var csrf = document.querySelector('meta[name="csrf-token"]');
  var said = "", timer = 0, urgent = false;

  // announce reads text out within a second; an urgent text (a question)
  // is not replaced by a step's in the same second.
  function announce(text, important) {
    if (timer && urgent && !important) return;
    said = text;
    urgent = urgent || !!important;
    if (!region || timer) return;
    timer = setTimeout(function () { region.textContent = said; timer = 0; urgent = false; }, 1000);
  }

  // The result of an answer (or another action) gets the focus.
  var flash = document.getElementById("flash");
  if (flash) flash.focus();

  // A node of the step graph follows its step's row: state class, title,
  // second line (the detail, else the reason).
  function follow(row) {
    var node = document.getElementById(row.getAttribute("data-node"));
    if (!node || row.cells.length < 5) return;
    var state = row.getAttribute("data-state") || "unknown";
    var key = row.cells[0].textContent;
    var sub = row.cells[4].textContent || row.cells[2].textContent;
    node.setAttribute("class", "node state-" + state.replace(/[^A-Za-z0-9_-]/g, "-"));
    var title = node.querySelector("title");
    if (title) title.textContent = key + " — " + state + (sub ? "\n" + sub : "");
    var text = node.querySelector("text.sub");
    if (text) text.textContent = sub.length > 34 ? sub.slice(0, 33) + "…" : sub;
  }

  // keep copies what was typed into the answer forms of old to their
  // namesakes in el (a question card re-rendered while somebody types),
  // and the focus.
  function keep(old, el) {
    var active = document.activeElement, focusID = active && old.contains(active) && active.id;
    Array.prototype.forEach.call(old.querySelectorAll("form[data-edited] [id]"), function (f) {
      var to = el.querySelector("#" + CSS.escape(f.id));
      if (!to || !("value" in f)) return;
      if (f.type === "checkbox" || f.type === "radio") to.checked = f.checked; else to.value = f.value;
    });
    if (focusID) {
      var again = el.querySelector("#" + CSS.escape(focusID));
      if (again) setTimeout(function () { again.focus(); }, 0);
    }
  }
  document.addEventListener("input", function (e) {
    var form = e.target.form;
    if (form && form.classList.contains("answer")) form.setAttribute("data-edited", "");
  });

  // swap puts each element of a message in the place of its namesake.
  // The fragments of a message are parsed one by one (the parser drops a
  // <tbody> or <tr> that follows a <section> in one template).
  function swap(html) {
    html.split("<!--fragment-->").forEach(swapOne);
  }
  function swapOne(html) {
    var t = document.createElement("template");
    t.innerHTML = html.trim();
    Array.prototype.slice.call(t.content.children).forEach(function (el) {
      var old = el.id && document.getElementById(el.id);
      if (old) {
        keep(old, el);
        old.replaceWith(el);
      }
      if (el.hasAttribute("data-node")) follow(el);
      if (el.getAttribute("data-announce")) announce(el.getAttribute("data-announce"), el.id === "questions-top" || el.id === "inbox-list");
      notify(el);
    });
  }

  // Browser notifications of new questions, opted into with a click:
  // only in secure contexts (and localhost), one per question (tag).
  var asked = {};
  Array.prototype.forEach.call(document.querySelectorAll("[data-question]"), function (q) { asked[q.getAttribute("data-question")] = true; });
  function notify(el) {
    var cards = el.querySelectorAll("section[data-question]");
    Array.prototype.forEach.call(cards, function (card) {
      var id = card.getAttribute("data-question");
      if (asked[id] || card.classList.contains("settled")) return;
      asked[id] = true;
      if (!window.Notification || Notification.permission !== "granted") return;
      var prompt = card.querySelector(".prompt");
      new Notification("Slipway: a question is waiting", {
        body: prompt ? prompt.textContent.slice(0, 200) : id, tag: id
      });
    });
  }
  var button = document.getElementById("notify");
  var state = document.getElementById("notify-state");
  if (button && window.Notification && window.isSecureContext) {
    if (Notification.permission === "granted") {
      if (state) state.textContent = "Notifications are on for new questions while this page is open.";
    } else if (Notification.permission !== "denied") {
      button.hidden = false;
      button.addEventListener("click", function () {
        Notification.requestPermission().then(function (p) {
          button.hidden = p === "granted";
          if (state) state.textContent = p === "granted" ? "Notifications are on for new questions while this page is open." : "Notifications were not allowed.";
        });
      });
    }
  }

  // A button with data-copy copies the text of the element it names (a
  // new token) to the clipboard; shown only where the clipboard works.
  Array.prototype.forEach.call(document.querySelectorAll("button[data-copy]"), function (b) {
    var from = document.getElementById(b.getAttribute("data-copy"));
    if (!from || !navigator.clipboard || !window.isSecureContext) return;
    b.hidden = false;
    b.addEventListener("click", function () {
      navigator.clipboard.writeText(from.textContent).then(function () {
        announce("Copied.", true);
      }, function () {
        announce("Could not copy: select the text and copy it.", true);
      });
    });
  });

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
