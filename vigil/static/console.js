// Vigil console: progressive niceties only. Every page works without this file.
// - beside each UTC time, the reader's local time (teams span time zones);
// - SLA countdowns that stay current while the page is open;
// - a form is sent once, even if its button is pressed twice;
// - live pages: the server's event stream (/events) says when something changed; the parts of
//   the page marked data-live are fetched again and swapped in place, unless the reader is
//   typing in one (then a note says so); the navigation's counts follow too.
(function () {
  "use strict";
  var body = document.body;
  var language = body.dataset.language || "en";

  function localTimes() {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (!zone || zone === "UTC" || zone === "Etc/UTC") return;
    var clock = new Intl.DateTimeFormat(language, { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
    var dated = new Intl.DateTimeFormat(language, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
    var day = new Intl.DateTimeFormat("en-CA", { year: "numeric", month: "2-digit", day: "2-digit" });
    var utcDay = new Intl.DateTimeFormat("en-CA", { year: "numeric", month: "2-digit", day: "2-digit", timeZone: "UTC" });
    document.querySelectorAll("time.ts[datetime]").forEach(function (element) {
      var moment = new Date(element.getAttribute("datetime"));
      if (isNaN(moment)) return;
      if (element.nextElementSibling && element.nextElementSibling.classList.contains("local")) return;  // done before a live refresh
      // The local time alone when it falls on the same date as the UTC one; else with its date.
      var sameDay = day.format(moment) === utcDay.format(moment);
      var local = document.createElement("span");
      local.className = "local";
      local.textContent = " (" + (sameDay ? clock : dated).format(moment) + " " + body.dataset.yourTime + ")";
      element.after(local);
    });
  }

  function duration(seconds) {
    var units = [["day", 86400 * 1.1, 86400], ["hour", 3600 * 1.1, 3600], ["minute", 60, 60], ["second", 0, 1]];
    for (var i = 0; i < units.length; i++) {
      if (seconds >= units[i][1]) {
        var count = Math.round(seconds / units[i][2]);
        return new Intl.NumberFormat(language, { style: "unit", unit: units[i][0], unitDisplay: "long" }).format(count);
      }
    }
    return "";
  }

  function countdowns() {
    var now = Date.now();
    document.querySelectorAll(".countdown[data-due]").forEach(function (element) {
      var seconds = (new Date(element.dataset.due).getTime() - now) / 1000;
      var late = seconds <= 0;
      var template = late ? body.dataset.overdueBy : body.dataset.dueIn;
      element.textContent = template.replace("{t}", duration(Math.abs(seconds)));
      element.classList.toggle("overdue", late);
    });
  }

  function sendOnce() {
    document.querySelectorAll("form[method='post']").forEach(function (form) {
      form.addEventListener("submit", function () {
        form.querySelectorAll("button[type='submit']").forEach(function (button) {
          // After this tick, so the pressed button's own value is still sent.
          setTimeout(function () { button.disabled = true; }, 0);
        });
      });
    });
  }

  // Coming back with the browser's Back button shows the page as it was left: buttons live again.
  window.addEventListener("pageshow", function () {
    document.querySelectorAll("button[disabled]").forEach(function (button) { button.disabled = false; });
  });

  // A region the reader is working in is left alone: focus inside it, or text typed into it.
  function busy(region) {
    if (region.contains(document.activeElement) && document.activeElement !== document.body) return true;
    var typed = Array.prototype.some.call(region.querySelectorAll("textarea, input[type=text], input[type=datetime-local]"), function (field) {
      return field.value !== field.defaultValue;
    });
    // Incidents chosen for a bulk action (the queue's checkboxes) are kept too.
    return typed || Array.prototype.some.call(region.querySelectorAll("input[type=checkbox]"), function (box) {
      return box.checked !== box.defaultChecked;
    });
  }

  var refreshing = null;
  function refresh() {
    if (refreshing) return;
    refreshing = setTimeout(function () {
      fetch(window.location.href, { credentials: "same-origin", headers: { "X-Vigil-Live": "1" } })
        .then(function (response) { return response.ok ? response.text() : null; })
        .then(function (html) {
          refreshing = null;
          if (!html) return;
          var fresh = new DOMParser().parseFromString(html, "text/html");
          document.querySelectorAll("[data-live]").forEach(function (region) {
            var replacement = fresh.querySelector("[data-live='" + region.dataset.live + "']");
            if (!replacement || replacement.innerHTML === region.innerHTML) return;
            if (busy(region)) {
              if (!region.querySelector(".live-note")) {
                var note = document.createElement("p");
                note.className = "message note live-note";
                note.textContent = body.dataset.changed;
                region.prepend(note);
              }
              return;
            }
            region.innerHTML = replacement.innerHTML;
          });
          localTimes();
          countdowns();
          sendOnce();
        })
        .catch(function () { refreshing = null; });
    }, 250);
  }

  function follow() {
    if (!body.dataset.events || !window.EventSource) return;
    var onIncident = document.querySelector("[data-live='facts']");
    var incidentId = onIncident ? onIncident.dataset.incident : null;
    var source = new EventSource(body.dataset.events);
    source.addEventListener("change", function (event) {
      var change = JSON.parse(event.data);
      if (!incidentId || change.incident_id === incidentId || document.querySelector("[data-live='approvals']")) refresh();
    });
    source.addEventListener("waiting", function (event) {
      var counts = JSON.parse(event.data);
      document.querySelectorAll("[data-waiting]").forEach(function (element) {
        element.textContent = counts[element.dataset.waiting];
      });
    });
    source.addEventListener("reset", refresh);
  }

  localTimes();
  countdowns();
  setInterval(countdowns, 15000);
  sendOnce();
  follow();
})();
