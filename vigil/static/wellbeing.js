// Seen only when chosen (console/wellbeing.py). A veiled evidence item or a closed content-link
// warning is revealed by a click (never by hovering); each reveal is recorded (POST /exposure) and,
// when it is hidden again or the page is left, how long it stayed revealed (a beacon). The full
// file is loaded only after the reveal, with the reveal's id, so the fetch is not counted twice.
(function () {
  "use strict";
  var open = {}; // exposure id -> time revealed (ms)

  function csrf() {
    var holder = document.querySelector("[data-csrf]");
    return holder ? holder.dataset.csrf : "";
  }

  function record(body) {
    body.csrf = csrf();
    return fetch("/exposure", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    }).then(function (response) {
      if (!response.ok) throw new Error("reveal not recorded: " + response.status);
      return response.json();
    });
  }

  function report(id) {
    if (!(id in open)) return;
    var seconds = (Date.now() - open[id]) / 1000;
    delete open[id];
    var form = new URLSearchParams({ seconds: seconds.toFixed(1), csrf: csrf() });
    navigator.sendBeacon("/exposure/" + id + "/duration", form);
  }

  function afterReveal(recorded) {
    if (recorded.today && recorded.today.over_limit && !document.getElementById("break-prompt")) {
      window.location.reload(); // the page now carries the break prompt
    }
  }

  function revealItem(item) {
    var body = { incident_id: item.dataset.incident, evidence_id: item.dataset.evidence };
    return record(body).then(function (recorded) {
      open[recorded.id] = Date.now();
      item.dataset.exposure = recorded.id;
      item.classList.remove("veiled");
      item.classList.add("revealed");
      var media = item.querySelector("[data-full]");
      if (media) {
        media.src = media.dataset.full + "?exposure=" + recorded.id;
        if (media.tagName === "VIDEO" || media.tagName === "AUDIO") {
          media.muted = true; // muted by default: the person turns sound on
          var section = item.closest("[data-autoplay]");
          if (section && section.dataset.autoplay === "on") media.play().catch(function () {});
        }
      }
      afterReveal(recorded);
    });
  }

  function veilItem(item) {
    if (item.dataset.exposure) report(item.dataset.exposure);
    var media = item.querySelector("[data-full]");
    if (media && (media.tagName === "VIDEO" || media.tagName === "AUDIO")) media.pause();
    item.classList.add("veiled");
    item.classList.remove("revealed");
  }

  document.addEventListener("click", function (event) {
    var show = event.target.closest("[data-reveal]");
    if (show) {
      var item = show.closest("[data-evidence]");
      if (item) {
        event.preventDefault(); // with JavaScript off, the link opens the file (counted by the server)
        revealItem(item).catch(function (error) { console.warn(error); });
      }
      return;
    }
    var hide = event.target.closest("[data-veil]");
    if (hide) veilItem(hide.closest("[data-evidence]"));
  });

  // Content links: opening the warning is the reveal (toggle fires on click or keyboard, never on hover).
  document.addEventListener("toggle", function (event) {
    var guard = event.target;
    if (!guard.matches || !guard.matches("details[data-reveal-links]")) return;
    if (guard.open) {
      var indexes = (guard.dataset.indexes || "").split(",").filter(Boolean);
      guard.dataset.exposures = "";
      indexes.forEach(function (index) {
        record({ incident_id: guard.dataset.incident, content_index: Number(index) }).then(function (recorded) {
          open[recorded.id] = Date.now();
          guard.dataset.exposures = (guard.dataset.exposures ? guard.dataset.exposures + "," : "") + recorded.id;
          afterReveal(recorded);
        }).catch(function (error) { console.warn(error); });
      });
    } else {
      (guard.dataset.exposures || "").split(",").filter(Boolean).forEach(report);
    }
  }, true);

  window.addEventListener("pagehide", function () {
    Object.keys(open).forEach(report);
  });
})();
