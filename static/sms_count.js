// Live count of an SMS text on the campaign page: characters, segments, GSM-7 or UCS-2.
// The same rules as shopcrm/delivery/sms/segments.py, approximately: the server's figures
// below the form (for a sample customer) are the exact ones. No inline script: the page's CSP
// allows scripts from 'self' only, so the alphabet comes in data attributes.
(function () {
  "use strict";
  var box = document.getElementById("sms-body");
  var out = document.getElementById("sms-live");
  if (!box || !out) { return; }
  var basic = new Set(Array.from(box.dataset.gsm || ""));
  var extension = new Set(Array.from(box.dataset.gsmExt || ""));

  function measure(text) {
    var septets = 0, ucs2 = false, culprits = [];
    Array.from(text).forEach(function (ch) {
      if (basic.has(ch)) { septets += 1; }
      else if (extension.has(ch)) { septets += 2; }
      else { ucs2 = true; if (culprits.indexOf(ch) < 0) { culprits.push(ch); } }
    });
    if (ucs2) {
      var units = text.length;  // UTF-16 code units, as UCS-2 counts them
      return {encoding: "UCS-2", units: units, segments: units <= 70 ? 1 : Math.ceil(units / 67), culprits: culprits};
    }
    return {encoding: "GSM-7", units: septets, segments: septets <= 160 ? 1 : Math.ceil(septets / 153), culprits: []};
  }

  function update() {
    var text = (box.dataset.prefix || "") + box.value.replace(/\s+/g, " ").trim() + (box.dataset.suffix || "");
    var size = measure(text);
    var words = "About " + Array.from(text).length + " characters with the frame, " + size.segments +
      " segment" + (size.segments === 1 ? "" : "s") + " (" + size.encoding + ")";
    if (size.culprits.length) { words += "; UCS-2 because of: " + size.culprits.join(" "); }
    out.textContent = words + ". Placeholders count as written until the text is saved.";
  }

  box.addEventListener("input", update);
  update();
}());
