// The console's progressive part: everything works without it (server-rendered, plain links).
// With it: live alerts (/api/alerts every 2 s), a live stories list (/api/stories every 3 s),
// local times with the UTC time on hover, and "/" to focus the search box.
// Alerts are built with textContent, never innerHTML: titles come from hostile feeds. Story
// rows come from the server already rendered by the page's own autoescaped template
// (rows.html), so the live list and the first render are one definition.
"use strict";
(function () {
  const stats = document.getElementById("stats");
  const localFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

  function utcText(date) {
    return date.toISOString().slice(0, 16).replace("T", " ") + " UTC";
  }

  // <time datetime> stays UTC ISO; the text becomes local time, the title the UTC time.
  function localTimes(root) {
    for (const el of root.querySelectorAll("time[datetime]")) {
      if (el.dataset.local) continue;
      const date = new Date(el.getAttribute("datetime"));
      if (isNaN(date.getTime())) continue;
      el.textContent = localFormat.format(date);
      el.title = utcText(date);
      el.dataset.local = "1";
    }
  }
  localTimes(document);

  // "/" focuses the search box (as on GitHub, Gmail, Kibana), unless typing somewhere already.
  const box = document.getElementById("q");
  document.addEventListener("keydown", function (event) {
    if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey || !box) return;
    const target = event.target;
    if (target instanceof HTMLElement && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName))) return;
    event.preventDefault();
    box.focus();
    box.setSelectionRange(box.value.length, box.value.length);  // go on typing after the words
  });

  function safeHref(url) {
    try {
      const u = new URL(url);
      return u.protocol === "http:" || u.protocol === "https:" ? u.href : "#";
    } catch (e) { return "#"; }
  }

  // ---- live alerts
  const alertList = document.getElementById("alerts");
  let lastAlert = alertList ? Number(alertList.dataset.last || 0) : 0;

  function alertRow(seq, alert) {
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
    time.setAttribute("datetime", alert.matched_at || "");
    time.textContent = alert.matched_at || "";
    li.append(rule, " ", link, " ", source, " ", story, " ", time);
    localTimes(li);
    return li;
  }

  async function pollAlerts() {
    try {
      const resp = await fetch("/api/alerts?after=" + lastAlert, { cache: "no-store" });
      if (resp.ok) {
        const data = await resp.json();
        for (const entry of data.alerts) {
          alertList.prepend(alertRow(entry.seq, entry.alert));
          lastAlert = Math.max(lastAlert, entry.seq);
        }
        if (stats && data.stats_text) stats.textContent = data.stats_text;
      }
    } catch (e) { /* server restarting: try again next tick */ }
    setTimeout(pollAlerts, 2000);
  }
  if (alertList) setTimeout(pollAlerts, 2000);

  // ---- live stories: new ones on top, changed ones (folded counts) replaced in place.
  // Each row carries data-signature (its items and revisions); a row whose signature the
  // server no longer sends is re-rendered, one the server no longer lists is removed.
  const storyList = document.getElementById("stories");

  function rowFrom(html) {
    const holder = document.createElement("template");
    holder.innerHTML = html.trim();  // server-rendered and autoescaped (rows.html), see above
    return holder.content.firstElementChild;
  }

  function storyRow(id) {
    for (const row of storyList.querySelectorAll("li.story")) if (row.dataset.story === id) return row;
    return null;
  }

  async function pollStories() {
    try {
      const resp = await fetch("/api/stories", { cache: "no-store" });
      if (resp.ok) {
        const data = await resp.json();
        const focused = document.activeElement;
        const listed = new Set();
        let previous = null;
        for (const story of data.stories) {
          listed.add(story.story_id);
          let row = storyRow(story.story_id);
          if (!row || (row.dataset.signature !== story.signature && !row.contains(focused))) {
            const fresh = rowFrom(story.html);
            if (!fresh) continue;
            localTimes(fresh);
            fresh.classList.add("fresh");
            if (row) row.replaceWith(fresh);
            row = fresh;
          }
          const wanted = previous ? previous.nextElementSibling : storyList.firstElementChild;
          if (wanted !== row) {  // keep the server's order: newest story first
            if (previous) previous.after(row); else storyList.prepend(row);
          }
          previous = row;
        }
        for (const row of storyList.querySelectorAll("li.story")) {
          if (!listed.has(row.dataset.story) && !row.contains(focused)) row.remove();
        }
        const empty = storyList.querySelector("li.empty");
        if (empty && data.stories.length) empty.remove();
        if (stats && data.stats_text) stats.textContent = data.stats_text;
      }
    } catch (e) { /* server restarting: try again next tick */ }
    setTimeout(pollStories, 3000);
  }
  if (storyList) setTimeout(pollStories, 3000);
})();
