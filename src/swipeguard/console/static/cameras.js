"use strict";

// What each counter camera's recorder reports (served by the cameras API; every 5 s).

const { api, el, when, fullTime, ago } = Console;

const COLUMNS = [
  "Camera", "Facility", "Recorder", "Last heartbeat", "Recorded up to", "Bitrate",
  "Gaps (24 h)", "Problem",
];

function bitrate(bps) {
  return typeof bps === "number" ? `${(bps / 1e6).toFixed(1)} Mbit/s` : "—";
}

function cells(c) {
  const status = c.status || c.state || (c.enabled === false ? "disabled" : "unknown");
  const beat = c.heartbeat_at || c.last_heartbeat_at;
  return [
    el("td", {}, c.name || `camera ${c.id ?? c.camera_id}`),
    el("td", {}, c.facility_name || (c.facility_id ? `facility ${c.facility_id}` : "—")),
    el("td", { class: `status-${status}` }, status),
    el("td", { title: fullTime(beat) }, beat ? `${when(beat)} (${ago(beat)})` : "—"),
    el("td", { title: fullTime(c.last_segment_end) }, when(c.last_segment_end)),
    el("td", {}, bitrate(c.bitrate_bps)),
    el("td", {}, Array.isArray(c.gaps_24h) ? String(c.gaps_24h.length) : "—"),
    el("td", {}, c.last_error || ""),
  ];
}

async function refresh() {
  const status = document.getElementById("status");
  try {
    const cameras = await api("/api/cameras");
    document.getElementById("rows").replaceChildren(...cameras.map((c) => el("tr", {}, cells(c))));
    document.getElementById("table").hidden = cameras.length === 0;
    status.textContent = cameras.length ? `${cameras.length} cameras.` : "No cameras registered.";
  } catch (e) {
    document.getElementById("table").hidden = true;
    status.textContent = e.status === 404
      ? "Camera status is not available on this server yet."
      : `Cameras cannot be loaded: ${e.message}`;
  }
}

document.getElementById("head").replaceChildren(...COLUMNS.map((c) => el("th", {}, c)));
Console.showUser().then(() => {
  refresh();
  setInterval(refresh, 5_000);
}).catch(() => null);
