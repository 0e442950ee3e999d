// Live countdown of breach notification deadlines. Progressive enhancement: the server renders
// the remaining time; this only keeps it current while the page stays open. It mirrors
// remaining_text in sargs/domains/breaches/deadlines.py: "47 h 12 min", "overdue by 3 h 05 min",
// and past a day late whole hours, "overdue by 246 h" (the phrase comes from data-overdue-by).
(function () {
  var DAY = 24 * 3600;
  function text(seconds, overdueBy) {
    var s = Math.abs(Math.trunc(seconds));
    var minutes = Math.floor((s % 3600) / 60);
    var span = Math.floor(s / 3600) + " h " + (minutes < 10 ? "0" : "") + minutes + " min";
    if (seconds >= 0) { return span; }
    if (s >= DAY) { span = Math.floor(s / 3600) + " h"; }
    return (overdueBy || "overdue by {span}").replace("{span}", span);
  }
  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-deadline]").forEach(function (el) {
      var left = (Date.parse(el.getAttribute("data-deadline")) - now) / 1000;
      el.textContent = text(left, el.getAttribute("data-overdue-by"));
      if (left < 0) { el.classList.add("overdue"); }
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    tick();
    setInterval(tick, 30000);
  });
})();
