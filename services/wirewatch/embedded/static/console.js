// The console pages work without this file; it shows each <time class="when"> in the
// reader's own time zone (the UTC time stays on hover, in the title).
"use strict";
(function () {
  function pad(n) { return String(n).padStart(2, "0"); }
  function local(date) {
    return date.getFullYear() + "-" + pad(date.getMonth() + 1) + "-" + pad(date.getDate()) + " " +
      pad(date.getHours()) + ":" + pad(date.getMinutes());
  }
  function utc(date) {  // as the server writes it (web.utc_text)
    return date.getUTCFullYear() + "-" + pad(date.getUTCMonth() + 1) + "-" + pad(date.getUTCDate()) + " " +
      pad(date.getUTCHours()) + ":" + pad(date.getUTCMinutes()) + " UTC";
  }
  for (const el of document.querySelectorAll("time.when[datetime]")) {
    const date = new Date(el.getAttribute("datetime"));
    if (Number.isNaN(date.getTime())) continue;
    el.title = utc(date);
    el.textContent = local(date);
    el.dataset.local = "1";
  }
})();
