// sa01-secrets console: the few things a page does with JavaScript. Every
// page works without it; nothing here runs inline, and no value is ever
// written into the page by this file.
(function () {
  "use strict";

  function csrf() {
    var m = document.querySelector('meta[name="csrf-token"]');
    return m ? m.getAttribute("content") : "";
  }

  function status(text) {
    var s = document.getElementById("copy-status");
    if (s) { s.textContent = text; }
  }

  // Copy to clipboard: the value goes from the response to the clipboard
  // and never into the page. The server records it as a reveal.
  function copy(button) {
    if (!navigator.clipboard || !window.isSecureContext) {
      status("This browser cannot copy here (the console needs HTTPS or localhost).");
      return;
    }
    button.disabled = true;
    fetch(button.getAttribute("data-copy"), {
      method: "POST",
      credentials: "same-origin",
      cache: "no-store",
      headers: { "X-CSRF-Token": csrf() }
    }).then(function (r) {
      if (!r.ok) {
        throw new Error(r.status === 403 ? "not allowed" :
          r.status === 422 ? "the value is not text (Reveal shows it as base64)" : "status " + r.status);
      }
      var v = r.headers.get("X-Secret-Version");
      return r.text().then(function (t) { return navigator.clipboard.writeText(t); }).then(function () {
        status("Copied version " + v + " to the clipboard.");
      });
    }).catch(function (e) {
      status("Not copied: " + e.message + ".");
    }).finally(function () {
      button.disabled = false;
    });
  }

  // A revealed value leaves the page after a minute.
  var hideAfter = 60 * 1000;
  function scheduleHide() {
    var pre = document.getElementById("secret-value");
    if (!pre || pre.dataset.hiding) { return; }
    pre.dataset.hiding = "1";
    setTimeout(function () {
      if (!document.body.contains(pre)) { return; }
      pre.textContent = "";
      pre.classList.add("hidden-again");
      var note = document.createElement("p");
      note.className = "hint";
      note.textContent = "Hidden again after a minute.";
      pre.parentNode.insertBefore(note, pre.nextSibling);
    }, hideAfter);
  }

  // A page left for another keeps no value: the back-forward cache would
  // otherwise show it again.
  window.addEventListener("pagehide", function () {
    var pre = document.getElementById("secret-value");
    if (pre) { pre.textContent = ""; }
  });

  function init(root) {
    root.querySelectorAll("button[data-copy]").forEach(function (b) { b.hidden = false; });
    scheduleHide();
  }

  document.addEventListener("click", function (e) {
    var b = e.target.closest && e.target.closest("button[data-copy]");
    if (b) { e.preventDefault(); copy(b); }
  });
  document.addEventListener("DOMContentLoaded", function () { init(document); });
  document.addEventListener("htmx:afterSettle", function (e) { init(e.target); });
  document.addEventListener("htmx:responseError", function (e) {
    var p = document.createElement("p");
    p.className = "error";
    p.setAttribute("role", "alert");
    p.textContent = "The request failed (" + e.detail.xhr.status + "). Reload the page.";
    var main = document.querySelector("main");
    if (main) { main.insertBefore(p, main.firstChild); }
  });
})();
