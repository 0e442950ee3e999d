// Live countdown of breach notification deadlines. Progressive enhancement: the server renders
// the remaining time; this only keeps it current while the page stays open.
(function () {
  function text(seconds) {
    var sign = seconds < 0 ? "-" : "";
    var s = Math.abs(Math.trunc(seconds));
    var minutes = Math.floor((s % 3600) / 60);
    return sign + Math.floor(s / 3600) + " h " + (minutes < 10 ? "0" : "") + minutes + " min";
  }
  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-deadline]").forEach(function (el) {
      var left = (Date.parse(el.getAttribute("data-deadline")) - now) / 1000;
      el.textContent = text(left);
      if (left < 0) { el.classList.add("overdue"); }
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    tick();
    setInterval(tick, 30000);
  });
})();
