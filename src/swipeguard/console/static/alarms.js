"use strict";

// The alarm queue: loaded once, then kept live by the server's event stream.

const { api, el, when, fullTime, ago, money, mask, kindLabel } = Console;

const FILTERS = {
  active: ["open", "acknowledged"],
  open: ["open"],
  acknowledged: ["acknowledged"],
  closed: ["closed"],
};

const state = {
  items: new Map(), // id -> alarm item
  unseen: new Set(), // ids that arrived live and have not been opened
  arrived: new Map(), // id -> time it arrived live, for a one-off glow
  filter: "active",
  selected: null, // id
  detail: null, // the selected alarm's detail, with history
  me: null,
};

const GLOW_MS = 6000; // as long as the CSS "arrive" animation

const queue = document.getElementById("queue");
const detailPane = document.getElementById("detail");

// --- loading and ordering ---

async function loadQueue() {
  const statuses = state.filter === "closed"
    ? ["open", "acknowledged", "closed"] : ["open", "acknowledged"];
  const query = statuses.map((s) => `status=${s}`).join("&");
  const items = await api(`/api/alarms?${query}&limit=500`);
  state.items = new Map(items.map((item) => [item.id, item]));
  render();
}

function byUrgency(a, b) {
  return b.priority - a.priority || b.created_at.localeCompare(a.created_at) || b.id - a.id;
}

function visible() {
  const wanted = FILTERS[state.filter];
  return [...state.items.values()].filter((a) => wanted.includes(a.status)).sort(byUrgency);
}

// --- rendering the queue ---

function row(item) {
  const isNew = state.unseen.has(item.id);
  const arriving = Date.now() - (state.arrived.get(item.id) || 0) < GLOW_MS;
  const distance = item.distance === null || item.distance === undefined
    ? null : `distance ${item.distance.toFixed(2)} / ${item.threshold.toFixed(2)}`;
  const button = el("button", {
    type: "button",
    class: `alarm-row${isNew ? " is-new" : ""}${arriving ? " arriving" : ""}`,
    dataset: { id: item.id, status: item.status, kind: item.kind },
    "aria-current": item.id === state.selected ? "true" : "false",
    onclick: () => select(item.id),
  },
    el("span", { class: "stripe", "aria-hidden": "true" }),
    el("span", { class: "title" }, kindLabel(item),
      isNew ? el("span", { class: "tag new" }, "NEW") : null,
      item.status !== "open" ? el("span", { class: `tag status-${item.status}` }, item.status) : null),
    el("span", { class: "when", title: fullTime(item.created_at) },
      when(item.swiped_at || item.created_at)),
    el("span", { class: "where" },
      item.facility_name ? `${item.facility_name} · ${item.till_name}` : item.reason),
    el("span", { class: "facts-line" },
      [item.card_no_masked && mask(item.card_no_masked),
        typeof item.amount_cents === "number" ? money(item.amount_cents) : null,
        distance, ago(item.created_at)].filter(Boolean).join("  ·  ")),
  );
  return el("li", {}, button);
}

function render() {
  const items = visible();
  const hadFocus = queue.contains(document.activeElement);
  queue.replaceChildren(...items.map(row));
  if (hadFocus && state.selected !== null) {
    queue.querySelector(`[data-id="${state.selected}"]`)?.focus({ preventScroll: true });
  }
  document.getElementById("queue-empty").hidden = items.length > 0;
  renderCounts();
}

function renderCounts() {
  let open = 0;
  let acknowledged = 0;
  for (const a of state.items.values()) {
    if (a.status === "open") open += 1;
    if (a.status === "acknowledged") acknowledged += 1;
  }
  document.getElementById("count-open").textContent = open;
  document.getElementById("count-ack").textContent = acknowledged;
  const nav = document.getElementById("nav-count");
  nav.textContent = open;
  nav.toggleAttribute("data-zero", open === 0);
  document.title = `${open ? `(${open}) ` : ""}Alarms · swipeguard`;
}

// --- the detail panel ---

async function select(id) {
  state.selected = id;
  state.unseen.delete(id);
  render();
  const current = queue.querySelector(`[data-id="${id}"]`);
  if (current) {
    current.focus({ preventScroll: true });
    current.scrollIntoView({ block: "nearest" });
  }
  try {
    const detail = await api(`/api/alarms/${id}`);
    if (state.selected !== id) return;
    state.detail = detail;
    state.items.set(id, stripHistory(detail));
    showDetail(detail);
    render();
  } catch (e) {
    detailPane.replaceChildren(el("p", { class: "notice" }, `Cannot load alarm ${id}: ${e.message}`));
  }
}

function stripHistory(detail) {
  const { history, ...item } = detail;
  return item;
}

function field(root, name) {
  return root.querySelector(`[data-field="${name}"]`);
}

function showDetail(a) {
  const root = document.getElementById("detail-template").content.cloneNode(true);
  field(root, "title").replaceChildren(kindLabel(a), el("small", {}, `alarm ${a.id}`));
  const status = field(root, "status");
  status.textContent = a.resolution ? `${a.status}: ${a.resolution.replace("_", " ")}` : a.status;
  status.classList.add(`status-${a.status}`);
  field(root, "reason").textContent = a.reason;
  setImage(field(root, "capture"), a.capture_id && `/api/captures/${a.capture_id}/image`,
    "No face was captured");
  setImage(field(root, "enrolled"),
    a.enrolled_photo_id && `/api/enrolled-photos/${a.enrolled_photo_id}/image`,
    "No enrolled photo");
  showMeter(field(root, "meter"), a);
  field(root, "facility").textContent = a.facility_name || "—";
  field(root, "till").textContent = a.till_name || "—";
  field(root, "swiped_at").textContent = fullTime(a.swiped_at);
  field(root, "amount").textContent = money(a.amount_cents);
  field(root, "card").textContent = mask(a.card_no_masked);
  field(root, "investigate").href = `/investigate#swipe=${a.swipe_id}`;
  field(root, "created_at").textContent = fullTime(a.created_at);
  showVideo(field(root, "video"), field(root, "no-video"), a.swipe_id);
  field(root, "history").replaceChildren(...a.history.map((h) => el("tr", {},
    el("td", {}, fullTime(h.at)), el("td", {}, h.actor), el("td", {}, h.action),
    el("td", {}, h.reason || ""))));
  root.querySelector('[data-action="acknowledge"]').disabled = a.status !== "open";
  root.querySelector('[data-action="close"]').disabled = a.status !== "acknowledged";
  root.querySelector('[data-action="acknowledge"]').addEventListener("click", acknowledge);
  root.querySelector('[data-action="close"]').addEventListener("click", openCloseDialog);
  detailPane.replaceChildren(root);
}

function setImage(img, src, missing) {
  if (!src) {
    img.replaceWith(el("div", { class: "no-image" }, missing));
    return;
  }
  img.addEventListener("error", () => img.replaceWith(el("div", { class: "no-image" }, missing)));
  img.src = src;
}

function showMeter(meter, a) {
  if (a.distance === null || a.distance === undefined || !a.threshold) {
    meter.hidden = true;
    return;
  }
  const scale = Math.max(1.0, a.distance * 1.1, a.threshold * 1.5);
  const pct = (v) => `${Math.min(100, (v / scale) * 100).toFixed(1)}%`;
  field(meter, "distance").textContent = a.distance.toFixed(3);
  field(meter, "threshold").textContent = a.threshold.toFixed(3);
  meter.querySelector(".meter-track").style.setProperty("--t", pct(a.threshold));
  meter.querySelector(".meter-threshold").style.left = pct(a.threshold);
  meter.querySelector(".meter-fill").style.left = `calc(${pct(a.distance)} - 0.15rem)`;
}

function showVideo(video, noVideo, swipeId) {
  if (!swipeId) {
    video.hidden = true;
    noVideo.hidden = false;
    return;
  }
  video.addEventListener("error", () => {
    video.hidden = true;
    noVideo.hidden = false;
  });
  video.src = `/api/swipes/${swipeId}/clip`;
}

// --- acting on the selected alarm ---

function showActionError(message) {
  const box = document.getElementById("action-error");
  if (!box) return;
  box.textContent = message;
  box.hidden = false;
}

async function acknowledge() {
  const a = state.detail;
  if (!a || a.status !== "open") return;
  try {
    const updated = await api(`/api/alarms/${a.id}/acknowledge`, { method: "POST", body: {} });
    applyDetail(updated);
  } catch (e) {
    await refreshAfterConflict(a.id, e);
  }
}

async function refreshAfterConflict(id, e) {
  if (e.status === 409) {
    await select(id);
    showActionError(`Someone else acted first: ${e.message}`);
  } else {
    showActionError(e.message);
  }
}

function applyDetail(detail) {
  state.items.set(detail.id, stripHistory(detail));
  if (state.selected === detail.id) {
    state.detail = detail;
    showDetail(detail);
  }
  render();
}

const dialog = document.getElementById("close-dialog");
const closeForm = document.getElementById("close-form");

function openCloseDialog() {
  if (!state.detail || state.detail.status !== "acknowledged") return;
  closeForm.reset();
  document.getElementById("close-error").hidden = true;
  dialog.showModal();
  closeForm.querySelector('input[name="resolution"]').focus();
}

document.getElementById("close-cancel").addEventListener("click", () => dialog.close());

closeForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const error = document.getElementById("close-error");
  const resolution = closeForm.resolution.value;
  const reason = closeForm.reason.value.trim();
  if (!resolution || !reason) {
    error.textContent = "Choose a resolution and write the reason.";
    error.hidden = false;
    return;
  }
  const id = state.detail.id;
  try {
    const updated = await api(`/api/alarms/${id}/close`, {
      method: "POST", body: { resolution, reason },
    });
    dialog.close();
    applyDetail(updated);
  } catch (e) {
    dialog.close();
    await refreshAfterConflict(id, e);
  }
});

// --- live updates ---

function arrive(id) {
  state.unseen.add(id);
  state.arrived.set(id, Date.now());
}

function setLive(stateName, text) {
  const live = document.getElementById("live");
  live.dataset.state = stateName;
  live.textContent = text;
}

function connect() {
  const source = new EventSource("/api/alarms/stream");
  source.addEventListener("ready", () => {
    setLive("live", "Live");
    loadQueue().catch((e) => setLive("reconnecting", `Queue not loaded: ${e.message}`));
  });
  source.addEventListener("alarm", (event) => {
    const item = JSON.parse(event.data);
    if (!state.items.has(item.id)) arrive(item.id);
    state.items.set(item.id, item);
    render();
  });
  source.addEventListener("alarm-update", (event) => {
    const item = JSON.parse(event.data);
    const known = state.items.has(item.id);
    state.items.set(item.id, item);
    if (!known && item.status === "open") arrive(item.id);
    // The selected alarm changed elsewhere (another operator): reload its detail and history.
    const changedElsewhere = item.id === state.selected
      && (!state.detail || state.detail.updated_at !== item.updated_at);
    if (changedElsewhere) select(item.id);
    else render();
  });
  source.addEventListener("signed-out", () => {
    source.close();
    Console.toSignIn();
  });
  source.addEventListener("error", () => {
    if (source.readyState === EventSource.CLOSED) {
      // The server refused the stream (signed out); make sure and go to the sign-in page.
      api("/api/me").then(() => setTimeout(connect, 3000)).catch(() => null);
      setLive("reconnecting", "Disconnected");
    } else {
      setLive("reconnecting", "Reconnecting…");
    }
  });
}

// --- keyboard ---

function move(step) {
  const items = visible();
  if (!items.length) return;
  const at = items.findIndex((a) => a.id === state.selected);
  const next = at < 0 ? 0 : Math.min(items.length - 1, Math.max(0, at + step));
  select(items[next].id);
}

document.addEventListener("keydown", (event) => {
  if (dialog.open || event.ctrlKey || event.metaKey || event.altKey) return;
  if (["INPUT", "TEXTAREA", "SELECT"].includes(event.target.tagName)) return;
  const actions = {
    j: () => move(1), ArrowDown: () => move(1),
    k: () => move(-1), ArrowUp: () => move(-1),
    a: acknowledge, c: openCloseDialog,
  };
  const action = actions[event.key];
  if (action) {
    event.preventDefault();
    action();
  }
});

for (const button of document.querySelectorAll("[data-filter]")) {
  button.addEventListener("click", () => {
    state.filter = button.dataset.filter;
    for (const b of document.querySelectorAll("[data-filter]")) {
      b.setAttribute("aria-pressed", String(b === button));
    }
    loadQueue().catch((e) => setLive("reconnecting", e.message));
  });
}

// Relative times ("3 min ago") stay true without a reload.
setInterval(render, 30_000);

Console.showUser().then((me) => {
  state.me = me;
  connect();
}).catch(() => null);
