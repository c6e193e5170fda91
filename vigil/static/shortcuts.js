// Vigil console: keyboard shortcuts of the queue (the page works without them).
//   j / k   choose the next / previous incident (its link takes the focus, so Enter opens it)
//   Enter   open the chosen incident
//   /       search
//   a       take the chosen incident (its "Take it" button: acknowledge, or assign to oneself)
//   x       choose the chosen incident for a bulk action (its checkbox), or leave it out again
//   ?       show or hide the list of shortcuts; Esc closes it and leaves the search box
// Keys typed into a field are the field's own, never shortcuts (a checkbox takes no typing).
(function () {
  "use strict";
  var chosen = null;  // the chosen incident's id: kept across the live refreshes of the table

  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll("table[data-keys] tbody tr[data-incident]"));
  }

  function position() {
    var all = rows();
    for (var i = 0; i < all.length; i++) if (all[i].dataset.incident === chosen) return i;
    return -1;
  }

  function choose(index) {
    var all = rows();
    if (!all.length) return;
    index = Math.max(0, Math.min(all.length - 1, index));
    all.forEach(function (row) { row.classList.remove("chosen"); });
    var row = all[index];
    row.classList.add("chosen");
    chosen = row.dataset.incident;
    var link = row.querySelector("a.incident-link");
    if (link) link.focus({ preventScroll: true });
    row.scrollIntoView({ block: "nearest" });
  }

  function typing(element) {
    if (!element) return false;
    var tag = element.tagName;
    if (tag === "INPUT" && (element.type === "checkbox" || element.type === "radio")) return false;  // nothing typed there
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || element.isContentEditable;
  }

  function toggleHelp(show) {
    var help = document.getElementById("shortcuts");
    if (!help) return;
    help.hidden = show === undefined ? !help.hidden : !show;
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (typing(event.target)) {
      if (event.key === "Escape") event.target.blur();
      return;
    }
    var here = position();
    switch (event.key) {
      case "j": choose(here < 0 ? 0 : here + 1); break;
      case "k": choose(here < 0 ? 0 : here - 1); break;
      case "Enter":
        if (here < 0 || (document.activeElement && document.activeElement.tagName === "A")) return;  // the link opens itself
        var link = rows()[here].querySelector("a.incident-link");
        if (link) window.location.href = link.href;
        break;
      case "/":
        var search = document.getElementById("f-text");
        if (!search) return;
        search.focus();
        search.select();
        break;
      case "a":
        if (here < 0) return;
        var take = rows()[here].querySelector("[data-take]");
        if (take) take.click();
        break;
      case "x":
        if (here < 0) return;
        var box = rows()[here].querySelector("input[type=checkbox][form=bulk]");
        if (box) box.checked = !box.checked;
        break;
      case "?": toggleHelp(); break;
      case "Escape": toggleHelp(false); break;
      default: return;
    }
    event.preventDefault();
  });

  // A live refresh replaces the table: the chosen row stays chosen.
  new MutationObserver(function () {
    var here = position();
    if (here >= 0 && !rows()[here].classList.contains("chosen")) rows()[here].classList.add("chosen");
  }).observe(document.body, { childList: true, subtree: true });
})();
