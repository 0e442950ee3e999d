/* A stand-in for a Google tag that runs as soon as the page loads (not blocked by the banner):
   it records that it ran, and the consent state it saw, after the banner's default. */
sargsDemoRecord(["tag", "google-tag", window.sargs && window.sargs.consent ? "consent api present" : "no consent api"]);
if (window.sargs && window.sargs.consent) {
  window.sargs.consent.onChange(function (choice) { sargsDemoRecord(["onChange", choice.categories]); });
}
