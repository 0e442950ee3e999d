/* A stand-in for a statistics script: runs only after "analytics" cookies are accepted. */
window.sargsDemoStatistics = true;
document.getElementById("statistics-status").textContent = "ielādēts / loaded";
