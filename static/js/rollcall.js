// Rollcall's page behaviour, in one static file: the Content-Security-Policy allows no inline script
// or event handler (config/settings.py). Markup asks for behaviour with data- attributes; listeners are
// on the document, so content swapped in by htmx behaves the same.
(function () {
  "use strict";

  document.addEventListener("change", function (event) {
    var el = event.target;
    // <select data-autosubmit> / <input data-autosubmit>: submit the form on change;
    // data-autosubmit-clear="field" empties that field of the form first (a filter that depends on this one).
    if (el.hasAttribute && el.hasAttribute("data-autosubmit") && el.form) {
      var clear = el.getAttribute("data-autosubmit-clear");
      if (clear && el.form.elements[clear]) el.form.elements[clear].value = "";
      el.form.submit();
    }
    // <input type="checkbox" data-enables="selector">: the matching fields take part only while it is ticked.
    if (el.hasAttribute && el.hasAttribute("data-enables")) {
      document.querySelectorAll(el.getAttribute("data-enables")).forEach(function (field) {
        field.disabled = !el.checked;
      });
    }
  });

  document.addEventListener("click", function (event) {
    var el = event.target.closest && event.target.closest("[data-print]");
    if (el) window.print();
  });

  // Account Manager: tick a page, or every matching person, for a bulk action.
  function accountManager() {
    var form = document.getElementById("am-form");
    if (!form) return;
    var head = document.getElementById("am-check-page"), all = document.getElementById("am-all");
    var banner = document.getElementById("am-banner"), pageText = document.getElementById("am-banner-page");
    var allText = document.getElementById("am-banner-all"), selectAll = document.getElementById("am-select-all");
    var rows = Array.prototype.slice.call(form.querySelectorAll(".am-row"));
    if (!head) return;
    function showAll(on) {
      all.value = on ? "1" : "";
      allText.hidden = !on; pageText.hidden = on; if (selectAll) selectAll.hidden = on;
    }
    head.addEventListener("change", function () {
      rows.forEach(function (box) { box.checked = head.checked; });
      banner.hidden = !head.checked || !rows.length;
      showAll(false);
    });
    rows.forEach(function (box) { box.addEventListener("change", function () {
      if (!box.checked) { head.checked = false; banner.hidden = true; showAll(false); }
    }); });
    if (selectAll) selectAll.addEventListener("click", function () { showAll(true); });
    document.getElementById("am-clear").addEventListener("click", function () {
      rows.forEach(function (box) { box.checked = false; }); head.checked = false; banner.hidden = true; showAll(false);
    });
  }

  // A job's progress inside the list it works on (data-reload-page, set when its poll sees it finish): reload,
  // so the list shows what the job changed rather than the rows as they were before it ran.
  document.addEventListener("htmx:load", function (event) {
    var el = event.target;
    if (el.matches && el.matches(".job-progress[data-reload-page]")) window.location.reload();
  });

  // <... data-reload-when-ready="url">: something is being prepared (a certificate's PDF). Ask the url every two
  // seconds (HEAD: 202 while it is made, 200 once it is there) and reload the page once it is ready, so nobody
  // is asked to refresh. Gives up after two minutes: a job that slow has failed and says so on the page.
  function reloadWhenReady() {
    var el = document.querySelector("[data-reload-when-ready]");
    if (!el || !window.fetch) return;
    var url = el.getAttribute("data-reload-when-ready"), tries = 0;
    var timer = window.setInterval(function () {
      tries += 1;
      if (tries > 60) { window.clearInterval(timer); return; }
      fetch(url, { method: "HEAD", credentials: "same-origin" }).then(function (response) {
        if (response.status === 200) { window.clearInterval(timer); window.location.reload(); }
      });
    }, 2000);
  }

  function ready() { accountManager(); reloadWhenReady(); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", ready);
  else ready();
})();
