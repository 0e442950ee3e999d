/* Sargs cookie banner (R-WEB-1), no dependencies; how to use it: docs/website.md. One tag, before
   any Google or Microsoft tag, without defer/async:
   <script src="https://sargs.example/api/v1/web/sargs-consent.js?controller=lmt"></script>
   <script type="text/plain" data-category="analytics" src="..."> runs once "analytics" is
   accepted. Sets Google Consent Mode v2 and Microsoft UET consent; window.sargs.consent. */
(function () {
  "use strict";
  var me = document.currentScript;
  if (!me || !window.fetch) return;
  var base = new URL(me.src, location.href).origin;
  // The website's consent_mode, built in by /api/v1/web/sargs-consent.js?controller= (else null).
  var PRESET = /*sargs:consent-mode*/null;
  var controller = me.getAttribute("data-controller") || (PRESET ? PRESET.controller : "");
  if (PRESET && PRESET.controller !== controller) { console.warn("sargs-consent: data-controller does not match the script's", PRESET.controller); PRESET = null; }
  var policyId = me.getAttribute("data-policy");
  var lang = /^[a-z]{2,3}([-_][a-z0-9]{2,8})?(?![a-z0-9])/i.exec((me.getAttribute("data-lang") || document.documentElement.lang || "").trim());
  lang = lang && lang[0];  // en-GB-oxendict: en-GB; not a language tag: none (the policy's default)
  var KEY = "sargs-consent:" + controller;
  var gpc = navigator.globalPrivacyControl === true;
  var info = null, box = null, reopenBtn = null, lastFocus = null;

  // --- consent signals: Google Consent Mode v2, Microsoft UET, window.sargs.consent ---
  var TYPES = ["ad_storage", "ad_user_data", "ad_personalization", "analytics_storage",
    "functionality_storage", "personalization_storage", "security_storage"];
  var listeners = [], state = null;
  window.dataLayer = window.dataLayer || [];
  window.uetq = window.uetq || [];
  if (typeof window.gtag !== "function") window.gtag = function () { window.dataLayer.push(arguments); };
  function gtag() { window.gtag.apply(window, arguments); }
  function types(granted) {
    var o = {};
    TYPES.forEach(function (t) { o[t] = granted.indexOf(t) >= 0 ? "granted" : "denied"; });
    return o;
  }
  var first = types([]);
  first.wait_for_update = parseInt(me.getAttribute("data-wait-for-update") || (PRESET ? PRESET.wait_for_update_ms : 500), 10);
  gtag("consent", "default", first);
  regionDefaults(PRESET);
  window.uetq.push("consent", "default", { ad_storage: "denied" });
  function api() { return state && { categories: state.categories.slice(), consent: types(state.granted), gpc: gpc }; }
  window.sargs = window.sargs || {};
  window.sargs.consent = {
    get: api,
    onChange: function (fn) {
      if (typeof fn !== "function") throw new TypeError("onChange needs a function");
      listeners.push(fn);
      if (state) fn(api());
      return function () { listeners = listeners.filter(function (f) { return f !== fn; }); };
    }
  };
  function signal(accepted) {
    var granted = [];
    accepted.forEach(function (id) { var c = cat(id); if (c) granted = granted.concat(c.consent_types || []); });
    state = { categories: accepted.slice(), granted: granted };
    gtag("consent", "update", types(granted));
    window.uetq.push("consent", "update", { ad_storage: granted.indexOf("ad_storage") >= 0 ? "granted" : "denied" });
    window.dataLayer.push({ event: "sargs_consent_update", sargs_categories: accepted.slice() });
    listeners.forEach(function (fn) { try { fn(api()); } catch (e) { console.error(e); } });
  }
  function regionDefaults(mode) {
    (mode && mode.regions || []).forEach(function (r) {
      var o = types(r.granted);
      o.region = r.region;
      o.wait_for_update = first.wait_for_update;
      gtag("consent", "default", o);
    });
  }

  function get(k) { try { return localStorage.getItem(k); } catch (e) { return null; } }
  function put(k, v) { try { localStorage.setItem(k, v); } catch (e) { /* private mode: choice lasts the page */ } }
  function visitorId() {
    var v = get("sargs-visitor");
    if (!v || !/^[A-Za-z0-9_-]{16,64}$/.test(v)) {
      var a = new Uint8Array(16);
      crypto.getRandomValues(a);
      v = Array.prototype.map.call(a, function (b) { return (b + 256).toString(16).slice(1); }).join("");
      put("sargs-visitor", v);
    }
    return v;
  }
  function saved() {
    try {
      var s = JSON.parse(get(KEY) || "null");
      return s && s.version === info.policy_version ? s : null;
    } catch (e) { return null; }
  }
  function cat(id) { return info.categories.filter(function (c) { return c.id === id; })[0]; }
  function allowed(id) { var c = cat(id); return !!c && (c.required || !(gpc && c.marketing)); }

  function unblock(accepted) {
    var olds = document.querySelectorAll('script[type="text/plain"][data-category]');
    Array.prototype.forEach.call(olds, function (old) {
      var category = old.getAttribute("data-category");
      if (accepted.indexOf(category) < 0 || !allowed(category) || old.hasAttribute("data-sargs-ran")) return;
      old.setAttribute("data-sargs-ran", "");
      var s = document.createElement("script");
      Array.prototype.forEach.call(old.attributes, function (a) {
        if (a.name !== "type" && a.name !== "data-sargs-ran") s.setAttribute(a.name, a.value);
      });
      if (!old.src) s.text = old.text;
      old.parentNode.insertBefore(s, old.nextSibling);
    });
  }

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    for (var k in attrs) if (Object.prototype.hasOwnProperty.call(attrs, k)) e.setAttribute(k, attrs[k]);
    if (text) e.textContent = text;
    return e;
  }

  function send(accepted) {
    var same = base === location.origin;
    var url = base + (same ? "/portal/cookie-consent" : "/api/v1/web/cookie-consents");
    var status = box.querySelector(".sargs-consent-status");
    status.textContent = "";
    return fetch(url, {
      method: "POST",
      credentials: same ? "same-origin" : "omit",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ visitor_id: visitorId(), controller: controller, accepted: accepted, gpc: gpc, language: info.language })
    }).then(function (r) {
      if (!r.ok) throw new Error(String(r.status));
      return r.json();
    }).then(function (receipt) {
      put(KEY, JSON.stringify({ version: info.policy_version, accepted: receipt.accepted, receipt: receipt.receipt_id }));
      close();
      signal(receipt.accepted);
      unblock(receipt.accepted);
      announce(info.text.saved);
    }, function () {
      status.textContent = info.text.error;
    });
  }

  function announce(text) {
    var live = document.getElementById("sargs-consent-live");
    if (!live) { live = el("div", { id: "sargs-consent-live", role: "status", "aria-live": "polite", "class": "sargs-consent-sr" }); document.body.appendChild(live); }
    live.textContent = text;
  }

  function close() {
    if (box) { box.parentNode.removeChild(box); box = null; }
    showReopen();
    if (lastFocus && document.contains(lastFocus)) lastFocus.focus();
  }

  function showReopen() {
    if (reopenBtn) return;
    reopenBtn = el("button", { type: "button", "class": "sargs-consent-reopen" }, info.text.reopen);
    reopenBtn.addEventListener("click", function () { open(); });
    document.body.appendChild(reopenBtn);
  }

  function open() {
    if (box) { box.focus(); return; }
    lastFocus = document.activeElement;
    var t = info.text, current = saved();
    box = el("div", { id: "sargs-consent", "class": "sargs-consent", role: "dialog", "aria-modal": "false",
      "aria-labelledby": "sargs-consent-title", "aria-describedby": "sargs-consent-intro", tabindex: "-1", lang: info.language });
    box.appendChild(el("h2", { id: "sargs-consent-title" }, t.title));
    var intro = el("p", { id: "sargs-consent-intro" }, t.intro + " ");
    if (info.privacy_policy_url) intro.appendChild(el("a", { href: info.privacy_policy_url, target: "_blank", rel: "noopener" }, t.policy));
    box.appendChild(intro);
    if (gpc) box.appendChild(el("p", { "class": "sargs-consent-gpc", id: "sargs-consent-gpc" }, t.gpc));
    var fs = el("fieldset"); fs.appendChild(el("legend", {}, t.title));
    info.categories.forEach(function (c) {
      var row = el("div", { "class": "sargs-consent-cat" });
      var id = "sargs-cat-" + c.id;
      var input = el("input", { type: "checkbox", id: id, value: c.id, "aria-describedby": id + "-desc" });
      var locked = c.required || (gpc && c.marketing);
      input.checked = c.required || (!locked && !!current && current.accepted.indexOf(c.id) >= 0);
      if (locked) input.disabled = true;
      var label = el("label", { "for": id }, c.title + (c.required ? " (" + t.required + ")" : ""));
      row.appendChild(input); row.appendChild(label);
      row.appendChild(el("p", { id: id + "-desc" }, c.description));
      fs.appendChild(row);
    });
    box.appendChild(fs);
    var buttons = el("div", { "class": "sargs-consent-buttons" });
    [["accept", t.accept_all], ["reject", t.reject_all], ["save", t.save]].forEach(function (b) {
      var button = el("button", { type: "button", "data-act": b[0] }, b[1]);
      button.addEventListener("click", function () { choose(b[0]); });
      buttons.appendChild(button);
    });
    box.appendChild(buttons);
    box.appendChild(el("p", { "class": "sargs-consent-status", role: "alert" }));
    box.addEventListener("keydown", function (e) { if (e.key === "Escape" && saved()) close(); });
    document.body.appendChild(box);
    box.focus();
  }

  function choose(act) {
    var ids = info.categories.map(function (c) { return c.id; });
    var accepted;
    if (act === "accept") accepted = ids.filter(allowed);
    else if (act === "reject") accepted = ids.filter(function (id) { return cat(id).required; });
    else accepted = ids.filter(function (id) { var i = document.getElementById("sargs-cat-" + id); return i && i.checked; });
    send(accepted);
  }

  function start() {
    var css = el("link", { rel: "stylesheet", href: base + "/static/sargs-consent.css" });
    document.head.appendChild(css);
    fetch(base + "/api/v1/web/cookie-categories?controller=" + encodeURIComponent(controller) + (lang ? "&lang=" + encodeURIComponent(lang) : ""), { credentials: "omit" })
      .then(function (r) { if (!r.ok) throw new Error(String(r.status)); return r.json(); })
      .then(function (data) {
        if (policyId && data.policy_id !== policyId) { console.warn("sargs-consent: data-policy does not match", data.policy_id); return; }
        info = data;
        gpc = gpc || data.gpc === true;
        if (!PRESET) regionDefaults(data.consent_mode);  // late: tags may have run (docs/website.md)
        var required = data.categories.filter(function (c) { return c.required; }).map(function (c) { return c.id; });
        unblock(required);
        var s = saved();
        if (s) { signal(s.accepted.filter(allowed)); unblock(s.accepted); showReopen(); }
        else { if (gpc) signal(required); open(); }
        document.addEventListener("click", function (e) {
          var target = e.target && e.target.closest && e.target.closest("[data-sargs-consent-open]");
          if (target) { e.preventDefault(); open(); }
        });
      })
      .catch(function (e) { console.warn("sargs-consent: categories unavailable", e && e.message); });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start); else start();
})();
