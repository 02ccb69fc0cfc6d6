// FlyLive admin: progressive enhancement only (every page works without it).
"use strict";
document.addEventListener("submit", (event) => {
  // <form data-confirm="Really ban this user?"> asks first.
  const message = event.target.dataset && event.target.dataset.confirm;
  if (message && !window.confirm(message)) event.preventDefault();
});
document.addEventListener("change", (event) => {
  // <input type="checkbox" data-select-all="name"> ticks every checkbox of that name (bulk actions).
  const name = event.target.dataset && event.target.dataset.selectAll;
  if (!name) return;
  document.querySelectorAll(`input[type="checkbox"][name="${name}"]`).forEach((box) => { box.checked = event.target.checked; });
});
// <body data-live="/admin/overview/stream">: server-sent events {id: text} update [data-live-id] elements,
// and {svg: {id: markup}} replace [data-live-svg] charts (markup rendered by the server).
window.addEventListener("DOMContentLoaded", () => {
  const source = document.querySelector("[data-live]");
  if (!source || !window.EventSource) return;
  const stream = new EventSource(source.dataset.live);
  stream.addEventListener("figures", (event) => {
    const data = JSON.parse(event.data);
    for (const [id, text] of Object.entries(data.values || {})) {
      const el = document.querySelector(`[data-live-id="${id}"]`);
      if (el) el.textContent = text;
    }
    for (const [id, markup] of Object.entries(data.svg || {})) {
      const el = document.querySelector(`[data-live-svg="${id}"]`);
      if (el) el.innerHTML = markup;
    }
    const stamp = document.querySelector("[data-live-stamp]");
    if (stamp) stamp.textContent = new Date().toLocaleTimeString();
  });
});
