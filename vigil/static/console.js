// Vigil console: progressive niceties only. Every page works without this file.
// - beside each UTC time, the reader's local time (teams span time zones);
// - SLA countdowns that stay current while the page is open;
// - a form is sent once, even if its button is pressed twice.
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

  localTimes();
  countdowns();
  setInterval(countdowns, 15000);
  sendOnce();
})();
