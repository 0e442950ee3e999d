/* Stand-ins for Google's gtag.js / Tag Manager and Microsoft's UET tag: instead of loading them,
   the demo records every consent call they would receive, in order, and lists them on the page
   (window.sargsDemoCalls). Loaded before the banner script, as the real tags' snippets are. */
window.sargsDemoCalls = [];
window.dataLayer = window.dataLayer || [];
function sargsDemoRecord(entry) {
  window.sargsDemoCalls.push(entry);
  var list = document.getElementById("tag-calls");
  if (!list) return;
  var item = document.createElement("li");
  item.textContent = JSON.stringify(entry);
  list.appendChild(item);
}
function gtag() {
  window.dataLayer.push(arguments);
  sargsDemoRecord(["gtag"].concat(Array.prototype.slice.call(arguments)));
}
window.uetq = [];
window.uetq.push = function () {
  sargsDemoRecord(["uetq"].concat(Array.prototype.slice.call(arguments)));
  return Array.prototype.push.apply(this, arguments);
};
document.addEventListener("DOMContentLoaded", function () {
  var earlier = window.sargsDemoCalls.slice();
  window.sargsDemoCalls = [];
  earlier.forEach(sargsDemoRecord);
});
