/* A stand-in for a marketing (targeting) script: runs only after "marketing" cookies are accepted. */
window.sargsDemoMarketing = true;
document.getElementById("marketing-status").textContent = "ielādēts / loaded";
