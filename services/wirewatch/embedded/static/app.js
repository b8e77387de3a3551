// Live alerts: poll /api/alerts every 2 s and prepend new ones. Text only
// (textContent), never innerHTML: alert titles come from hostile feeds.
"use strict";
(function () {
  const list = document.getElementById("alerts");
  const stats = document.getElementById("stats");
  if (!list) return;
  let last = Number(list.dataset.last || 0);

  function safeHref(url) {
    try {
      const u = new URL(url);
      return u.protocol === "http:" || u.protocol === "https:" ? u.href : "#";
    } catch (e) { return "#"; }
  }

  function row(seq, alert) {
    const li = document.createElement("li");
    li.className = "alert fresh";
    li.dataset.seq = String(seq);
    const rule = document.createElement("span");
    rule.className = "rule";
    rule.textContent = alert.rule;
    const link = document.createElement("a");
    link.href = safeHref(alert.url);
    link.rel = "noopener noreferrer nofollow";
    link.dir = "auto";  // right-to-left titles (Arabic, Hebrew, Persian) read right-to-left
    link.textContent = alert.title;
    const source = document.createElement("span");
    source.className = "source";
    source.dir = "auto";
    source.textContent = (alert.source && (alert.source.name || alert.source.id)) || "";
    const story = document.createElement("a");
    story.className = "story-link";
    story.href = "/story/" + encodeURIComponent(alert.story_id || "");
    story.textContent = "story";
    const time = document.createElement("time");
    time.textContent = alert.matched_at || "";
    li.append(rule, " ", link, " ", source, " ", story, " ", time);
    return li;
  }

  async function tick() {
    try {
      const resp = await fetch("/api/alerts?after=" + last, { cache: "no-store" });
      if (resp.ok) {
        const data = await resp.json();
        for (const entry of data.alerts) {
          list.prepend(row(entry.seq, entry.alert));
          last = Math.max(last, entry.seq);
        }
        if (stats && data.stats_text) stats.textContent = data.stats_text;
      }
    } catch (e) { /* server restarting: try again next tick */ }
    setTimeout(tick, 2000);
  }
  setTimeout(tick, 2000);
})();
