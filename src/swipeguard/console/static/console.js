"use strict";

// Shared by the console pages: API calls, the signed-in user, formatting.

const Console = (() => {
  class ApiError extends Error {
    constructor(status, detail) {
      super(detail || `request failed (${status})`);
      this.status = status;
    }
  }

  function toSignIn() {
    location.assign(`/console/sign-in?next=${encodeURIComponent(location.pathname)}`);
  }

  // Every write says it comes from this console (see the server's CSRF guard).
  async function api(path, { method = "GET", body } = {}) {
    const headers = { "X-Requested-With": "swipeguard-console", Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(path, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
    });
    if (response.status === 401) {
      toSignIn();
      throw new ApiError(401, "signed out");
    }
    if (!response.ok) {
      const payload = await response.json().catch(() => ({}));
      throw new ApiError(response.status, payload.detail);
    }
    return response.status === 204 ? null : response.json();
  }

  function el(tag, props = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props)) {
      if (value === undefined || value === null) continue;
      if (key === "class") node.className = value;
      else if (key === "dataset") Object.assign(node.dataset, value);
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else if (key in node && typeof value !== "string") node[key] = value;
      else node.setAttribute(key, value);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  const timeFormat = new Intl.DateTimeFormat(undefined, {
    hour: "2-digit", minute: "2-digit", second: "2-digit",
  });
  const dateTimeFormat = new Intl.DateTimeFormat(undefined, {
    year: "numeric", month: "short", day: "numeric",
    hour: "2-digit", minute: "2-digit", second: "2-digit",
  });

  function sameDay(a, b) {
    return a.toDateString() === b.toDateString();
  }

  function when(iso) {
    if (!iso) return "—";
    const d = new Date(iso);
    return sameDay(d, new Date()) ? timeFormat.format(d) : dateTimeFormat.format(d);
  }

  function fullTime(iso) {
    return iso ? dateTimeFormat.format(new Date(iso)) : "—";
  }

  function ago(iso) {
    if (!iso) return "";
    const s = Math.max(0, (Date.now() - new Date(iso).getTime()) / 1000);
    if (s < 60) return "just now";
    if (s < 3600) return `${Math.floor(s / 60)} min ago`;
    if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
    return `${Math.floor(s / 86400)} d ago`;
  }

  function money(cents) {
    return cents === null || cents === undefined ? "—" : (cents / 100).toFixed(2);
  }

  function mask(card) {
    if (!card) return "—";
    return card.startsWith("*") ? card : `****${String(card).slice(-4)}`;
  }

  const KIND = {
    mismatch: "Face mismatch",
    no_face: "No face seen",
    no_video: "No video from camera",
    lost_card: "Lost card used",
    rule: "Unusual pattern",
    error: "Could not be verified",
  };

  function kindLabel(item) {
    return KIND[item.kind] || item.kind;
  }

  async function showUser() {
    const who = document.getElementById("who");
    const me = await api("/api/me");
    document.body.dataset.role = me.role; // hides what the role may not open
    if (who) {
      who.replaceChildren(el("strong", {}, me.username), ` · ${me.role}`);
    }
    const out = document.getElementById("sign-out");
    if (out) {
      out.addEventListener("click", async () => {
        await api("/api/session", { method: "DELETE" }).catch(() => null);
        location.assign("/console/sign-in");
      });
    }
    return me;
  }

  return { api, ApiError, el, when, fullTime, ago, money, mask, kindLabel, showUser, toSignIn };
})();
