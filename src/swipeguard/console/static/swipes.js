"use strict";

// The latest swipes with their verdicts (served by the swipes API; refreshed every 10 s).

const { api, el, when, fullTime, mask } = Console;

const COLUMNS = ["Time", "Swipe", "Till", "Card", "Amount", "Verdict", "Distance", "Reason"];

function cells(s) {
  const distance = typeof s.distance === "number"
    ? `${s.distance.toFixed(2)} / ${(s.threshold ?? 0).toFixed(2)}` : "—";
  const verdict = s.verdict || s.state || "—";
  return [
    el("td", { title: fullTime(s.swiped_at) }, when(s.swiped_at)),
    el("td", {}, `#${s.swipe_id ?? s.id}`),
    el("td", {}, s.till_name || (s.till_id ? `till ${s.till_id}` : "—")),
    el("td", {}, mask(s.card || s.card_no_masked)),
    el("td", {}, s.amount ?? "—"),
    el("td", { class: `verdict-${verdict}` }, verdict.replace("_", " ")),
    el("td", {}, distance),
    el("td", {}, s.reason || ""),
  ];
}

async function refresh() {
  const status = document.getElementById("status");
  try {
    const swipes = await api("/api/swipes?limit=100");
    document.getElementById("rows").replaceChildren(...swipes.map((s) => el("tr", {}, cells(s))));
    document.getElementById("table").hidden = swipes.length === 0;
    status.textContent = swipes.length ? `The latest ${swipes.length} swipes, newest first.`
      : "No swipes yet.";
  } catch (e) {
    document.getElementById("table").hidden = true;
    status.textContent = e.status === 404
      ? "The swipe list is not available on this server yet."
      : `Swipes cannot be loaded: ${e.message}`;
  }
}

document.getElementById("head").replaceChildren(...COLUMNS.map((c) => el("th", {}, c)));
Console.showUser().then(() => {
  refresh();
  setInterval(refresh, 10_000);
}).catch(() => null);
