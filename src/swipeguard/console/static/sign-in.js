"use strict";

// Only a console page of this server may be the target after signing in. A redirect
// here keeps the page's fragment (an alarm's "#swipe=ID"), so it goes on with it.
function nextPage() {
  const next = new URLSearchParams(location.search).get("next") || "";
  if (!/^\/(console\/[a-z-]+|investigate)$/.test(next)) return "/console/alarms";
  return /^#swipe=\d+$/.test(location.hash) ? next + location.hash : next;
}

document.getElementById("sign-in").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  const error = document.getElementById("error");
  const button = form.querySelector("button");
  error.hidden = true;
  button.disabled = true;
  try {
    const response = await fetch("/api/session", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ username: form.username.value, password: form.password.value }),
    });
    if (response.ok) {
      location.assign(nextPage());
      return;
    }
    const body = await response.json().catch(() => ({}));
    error.textContent = response.status === 422
      ? "Enter your username and password."
      : body.detail || `Sign-in failed (${response.status}).`;
    error.hidden = false;
    form.password.select();
  } catch (e) {
    error.textContent = "The server cannot be reached. Check the network and try again.";
    error.hidden = false;
  } finally {
    button.disabled = false;
  }
});
