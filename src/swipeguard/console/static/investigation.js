"use strict";

// The investigation page: a card's ranked suspects and timeline, and face search.

(() => {
  const { api, el, fullTime, money, mask } = Console;
  const $ = (id) => document.getElementById(id);
  let last = null; // the card and time of the investigation on screen, for "save as a case"

  function sinceParam() {
    const value = $("since").value;
    return value ? new Date(value).toISOString() : null;
  }

  function evidenceRow(s) {
    return el("tr", {},
      el("td", {}, fullTime(s.swiped_at)), el("td", {}, s.facility),
      el("td", { class: "num" }, money(s.amount_cents)),
      el("td", {}, s.capture_id ?? "—"),
      el("td", { class: "num" }, s.distance_to_holder?.toFixed(3) ?? "—"),
      el("td", {}, el("a", { href: s.clip_url }, "clip")));
  }

  function table(head, rows) {
    return el("table", {}, el("thead", {}, el("tr", {}, head.map((h) => el("th", {}, h)))),
      el("tbody", {}, rows));
  }

  function suspectCard(p) {
    const who = p.identified_as
      ? `${p.identified_as.name} (${mask(p.identified_as.card_no)}) — ${p.identified_as.band}`
      : "not identified among enrolled card holders";
    return el("article", { class: "suspect" },
      el("h2", {}, `#${p.rank}: ${who}`),
      el("ul", {}, p.reasons.map((r) => el("li", {}, r))),
      table(["Time", "Facility", "Amount", "Capture", "To holder", ""],
        p.swipes.map(evidenceRow)),
      p.sightings.length ? el("p", { class: "muted" },
        `Also seen at ${p.sightings.length} other swipes (cards: `
        + `${[...new Set(p.sightings.map((m) => mask(m.card_no)))].join(", ")})`) : null);
  }

  function showInvestigation(found) {
    const people = found.suspects.map(suspectCard);
    $("suspects").replaceChildren(
      el("p", {}, `${found.suspicious_swipes.length} swipes by someone other than the holder `
        + `since ${fullTime(found.since)}; ${found.holder_swipes.length} by the holder; `
        + `${found.faceless_swipes.length} without a face (${found.took_ms} ms).`),
      ...(people.length ? people : [el("p", { class: "muted" }, "No strangers' faces.")]));
  }

  function showTimeline(t) {
    const strangers = new Set(t.not_holder_swipe_ids);
    $("timeline").replaceChildren(
      el("h2", {}, "Timeline"),
      table(["Time", "Facility", "Till", "Amount", "Verdict", "Distance", ""],
        t.swipes.map((s) => el("tr", {},
          el("td", {}, fullTime(s.swiped_at)), el("td", {}, s.facility), el("td", {}, s.till),
          el("td", { class: "num" }, money(s.amount_cents)),
          el("td", { class: strangers.has(s.swipe_id) ? "stranger" : "" }, s.verdict ?? "—"),
          el("td", { class: "num" }, s.distance?.toFixed(3) ?? "—"),
          el("td", {}, el("a", { href: s.clip_url }, "clip"))))),
      el("h2", {}, "Money per day"),
      table(["Day", "Swipes", "Amount"], t.per_day.map((d) => el("tr", {},
        el("td", {}, d.day), el("td", { class: "num" }, d.swipes),
        el("td", { class: "num" }, money(d.amount_cents))))));
  }

  async function investigate(event) {
    event.preventDefault();
    const card = $("card-no").value.trim();
    const since = sinceParam();
    const query = since ? `?since=${encodeURIComponent(since)}` : "";
    $("card-status").textContent = "Investigating…";
    try {
      const [found, timeline] = await Promise.all([
        api(`/api/cards/${encodeURIComponent(card)}/investigation${query}`),
        api(`/api/cards/${encodeURIComponent(card)}/timeline`),
      ]);
      showInvestigation(found);
      showTimeline(timeline);
      last = { card_no: card, since: found.since };
      $("save-case").disabled = false;
      $("card-status").textContent = "";
    } catch (e) {
      $("card-status").textContent = e.message;
    }
  }

  async function saveCase() {
    if (!last) return;
    const title = `Card ${mask(last.card_no)} since ${fullTime(last.since)}`;
    try {
      const saved = await api("/api/cases", { method: "POST", body: { ...last, title } });
      $("card-status").textContent = `Saved as case ${saved.id}.`;
    } catch (e) {
      $("card-status").textContent = e.message;
    }
  }

  async function search(event) {
    event.preventDefault();
    const form = new FormData();
    const capture = $("capture-id").value.trim();
    if (capture) form.append("capture_id", capture);
    if ($("photo").files[0]) form.append("photo", $("photo").files[0]);
    $("search-status").textContent = "Searching…";
    const response = await fetch("/api/search/faces", {
      method: "POST", body: form, credentials: "same-origin",
      headers: { "X-Requested-With": "swipeguard-console", Accept: "application/json" },
    });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      $("search-status").textContent = body.detail || `search failed (${response.status})`;
      return;
    }
    $("search-status").textContent = body.bands.map((b) =>
      `${b.from}–${b.to ?? "…"}: ${b.meaning}`).join(" · ");
    $("search-results").replaceChildren(
      el("h2", {}, "Enrolled card holders"),
      table(["Card", "Name", "Distance", "Meaning"], body.card_holders.map((h) => el("tr", {},
        el("td", {}, mask(h.card_no)), el("td", {}, h.name),
        el("td", { class: "num" }, h.distance.toFixed(3)), el("td", {}, h.band)))),
      el("h2", {}, "Captures at swipes"),
      table(["Time", "Facility", "Card", "Amount", "Distance", "Meaning", ""],
        body.captures.map((c) => el("tr", {},
          el("td", {}, fullTime(c.swiped_at)), el("td", {}, c.facility),
          el("td", {}, mask(c.card_no)), el("td", { class: "num" }, money(c.amount_cents)),
          el("td", { class: "num" }, c.distance.toFixed(3)), el("td", {}, c.band),
          el("td", {}, el("a", { href: c.clip_url }, "clip"))))));
  }

  // Opened from an alarm as /investigate#swipe=ID: the card of that swipe, investigated
  // from when it was reported lost or else from that swipe (the address never holds it).
  async function openFromSwipe() {
    const match = /^#swipe=(\d+)$/.exec(location.hash);
    if (!match) return;
    try {
      const found = await api(`/api/swipes/${match[1]}/card`);
      $("card-no").value = found.card_no;
      if (!found.lost_since) {
        const at = new Date(found.swiped_at);
        $("since").value = new Date(at.getTime() - at.getTimezoneOffset() * 60000)
          .toISOString().slice(0, 16);
      }
      $("card-form").requestSubmit();
    } catch (e) {
      $("card-status").textContent = e.message;
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    Console.showUser().catch(() => null);
    $("card-form").addEventListener("submit", investigate);
    openFromSwipe();
    $("save-case").addEventListener("click", saveCase);
    $("search-form").addEventListener("submit", search);
  });
})();
