// The facetrack dashboard: cameras, live events, the gallery. Plain JavaScript, no build step.
"use strict";

const $ = (id) => document.getElementById(id);
const tokenInput = $("token");
tokenInput.value = localStorage.getItem("facetrack-token") || "";
tokenInput.addEventListener("change", () => localStorage.setItem("facetrack-token", tokenInput.value));

function withToken(url) {
  return tokenInput.value ? url + (url.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(tokenInput.value) : url;
}

function headers() {
  return tokenInput.value ? { Authorization: "Bearer " + tokenInput.value } : {};
}

async function api(path, options = {}) {
  const response = await fetch(path, { ...options, headers: { ...headers(), ...(options.headers || {}) } });
  const body = response.status === 204 ? null : await response.json();
  if (!response.ok && !(body && body.outcomes)) throw new Error(body ? body.error : response.statusText);
  return body;
}

function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  Object.assign(node, attributes);
  node.append(...children);
  return node;
}

function say(text) { $("message").textContent = text; }

async function refreshReady() {
  try {
    const response = await fetch("/ready", { headers: headers() });
    const body = await response.json();
    $("ready").textContent = body.ready ? "ready" : "not ready";
    $("ready").className = "badge " + (body.ready ? "ok" : "bad");
  } catch (error) { $("ready").textContent = "offline"; $("ready").className = "badge bad"; }
}

async function refreshCameras() {
  let cameras = [];
  try { cameras = await api("/api/cameras"); } catch (error) { $("cameras").textContent = error.message; return; }
  const box = $("cameras");
  for (const camera of cameras) {
    let tile = document.querySelector(`[data-camera="${CSS.escape(camera.id)}"]`);
    if (!tile) {
      tile = element("div", { className: "tile" },
        element("img", { src: withToken(`/cameras/${encodeURIComponent(camera.id)}/live.mjpg`), alt: camera.id }),
        element("div", { className: "state" }));
      tile.dataset.camera = camera.id;
      box.append(tile);
    }
    tile.querySelector(".state").textContent =
      `${camera.id}: ${camera.state}, ${camera.fps_analysed} fps, ${camera.tracks} tracks, ${camera.lag_ms} ms`;
  }
  for (const tile of box.querySelectorAll("[data-camera]")) {
    if (!cameras.some((c) => c.id === tile.dataset.camera)) tile.remove();
  }
}

async function refreshWorkers() {
  // Several workers: each live worker, its last heartbeat and the cameras it analyses (hidden when alone).
  const response = await fetch("/api/workers", { headers: headers() });
  $("workers-section").hidden = !response.ok;
  if (!response.ok) return;
  const group = await response.json();
  $("workers").replaceChildren(...group.workers.map((w) => {
    const item = element("li", { textContent:
      `${w.id}${w.id === group.this_worker ? " (this one)" : ""}: ${w.cameras.join(", ") || "no cameras"}, ` +
      `heartbeat ${w.age_seconds.toFixed(1)} s ago` });
    item.dataset.worker = w.id;
    return item;
  }));
}

async function refreshPresence() {
  // Who is where on this worker's cameras (hidden where no cameras run: facetrack serve).
  const response = await fetch("/api/presence", { headers: headers() });
  $("presence-section").hidden = !response.ok;
  if (!response.ok) return;
  const people = await response.json();
  const seen = (t) => new Date(t * 1000).toLocaleTimeString();
  $("presence").replaceChildren(...(people.length ? people.map((p) => {
    const item = element("li", { textContent: p.state === "home"
      ? `${p.name}: in view on ${p.cameras.join(", ") || p.last_camera} since ${seen(p.since)}`
      : `${p.name}: away since ${seen(p.since)}, last seen on ${p.last_camera} at ${seen(p.last_seen)}` });
    item.dataset.person = p.name;
    return item;
  }) : [element("li", { textContent: "nobody named yet" })]));
}

async function refreshAudit() {
  // Reference faces that barely resemble their person or make two people confusable.
  const report = await api("/api/audit");
  const pair = report.closest_pair;
  $("audit-summary").textContent = `${report.faces} faces checked, ${report.flagged.length} flagged` +
    (pair ? `; closest pair: ${pair.a} and ${pair.b} (${pair.distance})` : "");
  $("audit").replaceChildren(...report.flagged.map((f) => {
    const item = element("li", {},
      element("img", { src: withToken(`/api/identities/${encodeURIComponent(f.name)}/faces/${f.face_id}/crop.jpg`), alt: "" }),
      element("span", { textContent: `${f.name}, face ${f.face_id}: ${f.flags.join(", ")}` +
        (f.other ? ` (nearest other person: ${f.other}, ${f.other_distance.toFixed(3)})` : "") }));
    item.dataset.face = f.face_id;
    return item;
  }));
}

function showEvent(event) {
  const crop = event.crop_jpeg ? element("img", { src: "data:image/jpeg;base64," + event.crop_jpeg, alt: "" }) : "";
  const time = new Date(event.frame_time * 1000).toLocaleTimeString();
  const item = element("li", { className: "event" }, crop,
    element("span", {}, `${time} ${event.type} · ${event.camera}${event.track_id === null ? "" : " #" + event.track_id} · ${event.type === "identity.review" ? "is this " + event.name + "?" : event.name}`));
  if (["track.started", "identity.resolved", "track.unknown"].includes(event.type)) {
    const button = element("button", { type: "button", textContent: "enroll…" });
    button.addEventListener("click", () => enrollTrack(event.camera, event.track_id));
    item.append(button);
  }
  if (event.identity_id !== null && event.identity_id !== undefined && event.crop_jpeg && event.type !== "identity.review") {
    const button = element("button", { type: "button", className: "reject", textContent: `not ${event.name}` });
    button.addEventListener("click", () => rejectFace(event.name, event.crop_jpeg));
    item.append(button);
  }
  $("events").prepend(item);
  if (event.type === "identity.review") setTimeout(refreshReviews, 2000);  // its sighting is written just after
  while ($("events").children.length > 200) $("events").lastChild.remove();
}

function followEvents() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  let since = "";
  const connect = () => {
    const socket = new WebSocket(withToken(`${scheme}://${location.host}/ws/events${since ? "?since=" + since : ""}`));
    socket.onmessage = (message) => { const event = JSON.parse(message.data); since = event.stream_id; showEvent(event); };
    socket.onclose = () => setTimeout(connect, 2000);
  };
  connect();
}

async function refreshPeople() {
  const people = await api("/api/identities");
  const list = $("people");
  list.replaceChildren();
  for (const person of people) {
    const detail = await api(`/api/identities/${encodeURIComponent(person.name)}`);
    const faces = detail.face_list.slice(0, 5).map((face) => element("img", {
      src: withToken(`/api/identities/${encodeURIComponent(person.name)}/faces/${face.id}/crop.jpg`), alt: "" }));
    const remove = element("button", { type: "button", textContent: "delete" });
    remove.addEventListener("click", async () => {
      if (!confirm(`Erase ${person.name} and all their faces?`)) return;
      try { await api(`/api/identities/${encodeURIComponent(person.name)}`, { method: "DELETE" }); say(`${person.name} erased`); }
      catch (error) { say(error.message); }
      refreshPeople();
    });
    const item = element("li", { className: "person" }, element("span", { className: "name", textContent: person.name }),
      ...faces, element("span", { className: "counts", textContent:
        `${person.faces} faces` + (detail.negative_list.length ? `, ${detail.negative_list.length} rejected` : "") }),
      remove);
    item.dataset.name = person.name;
    list.append(item);
  }
  refreshAudit();
}

async function refreshUnknowns() {
  let clusters = [];
  try { clusters = await api("/api/unknowns"); } catch (error) { $("unknowns").textContent = error.message; return; }
  const list = $("unknowns");
  list.replaceChildren();
  for (const cluster of clusters) {
    const detail = await api(`/api/unknowns/${cluster.id}`);
    const faces = detail.face_list.slice(0, 6).map((face) => element("img", {
      src: withToken(`/api/unknowns/${cluster.id}/faces/${face.id}/crop.jpg`), alt: "" }));
    const name = element("input", { placeholder: "name", className: "cluster-name" });
    const act = (label, run) => {
      const button = element("button", { type: "button", textContent: label });
      button.addEventListener("click", async () => {
        try { await run(); } catch (error) { say(error.message); }
        refreshUnknowns(); refreshPeople();
      });
      return button;
    };
    const post = (path, body) => api(`/api/unknowns/${cluster.id}/${path}`, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body || {}) });
    const item = element("li", { className: "cluster" },
      element("span", { textContent: `#${cluster.id}: ${cluster.sightings} sightings, ${cluster.cameras.join(", ")}` }),
      element("div", { className: "faces" }, ...faces), name,
      act("name", async () => { if (name.value) report(await post("name", { name: name.value })); }),
      act("merge into…", async () => {
        const other = prompt(`Merge which cluster into #${cluster.id}?`);
        if (other) { await post("merge", { other: Number(other) }); say(`#${other} merged into #${cluster.id}`); }
      }),
      act("ignore", async () => { await post("ignore"); say(`#${cluster.id} ignored`); }),
      act("delete", async () => {
        if (!confirm(`Erase cluster #${cluster.id} and its faces?`)) return;
        await api(`/api/unknowns/${cluster.id}`, { method: "DELETE" }); say(`#${cluster.id} erased`);
      }));
    item.dataset.cluster = cluster.id;
    list.append(item);
  }
}

let lastAnswered = null;  // the review the last answer was given to: u (or the undo button) takes it back
let answering = false;  // one answer or undo at a time: a key held down or pressed twice answers once

async function refreshReviews() {
  // Tracks that ended almost named: the track's face beside the candidate's, answered by button or key.
  let reviews = [];
  try { reviews = await api("/api/reviews"); } catch (error) { $("reviews").textContent = error.message; return; }
  const list = $("reviews");
  list.replaceChildren();
  for (const review of reviews) {
    const candidate = element("img", { alt: review.name });
    api(`/api/identities/${encodeURIComponent(review.name)}`).then((person) => {
      if (person.face_list.length) {
        candidate.src = withToken(`/api/identities/${encodeURIComponent(review.name)}/faces/${person.face_list[0].id}/crop.jpg`);
      }
    }).catch(() => {});
    const act = (label, answer) => {
      const button = element("button", { type: "button", textContent: label });
      button.addEventListener("click", () => answerReview(review, answer));
      return button;
    };
    const item = element("li", { className: "review" },
      element("img", { src: withToken(review.face_url), alt: "the track's face" }), candidate,
      element("span", { textContent: `Is this ${review.name}? ${review.camera} #${review.track_id}, ` +
        `${review.faces} faces, ${review.to_bound.toFixed(1)} short of the name` }),
      act("yes", "yes"), act("no", "no"), act("someone else…", "other"));
    item.dataset.review = review.id;
    list.append(item);
  }
}

async function answerReview(review, answer) {
  if (answering) return;
  const body = { answer };
  if (answer === "other") {
    body.name = prompt(`Who is it (not ${review.name})?`);
    if (!body.name) return;
  }
  answering = true;
  try {
    const answered = await api(`/api/reviews/${review.id}`, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    lastAnswered = review.id;
    const left = (answered.outcomes || []).filter((o) => !["enrolled", "rejected"].includes(o.status));
    say(`#${review.id}: ${answer === "no" ? "not " + review.name : answered.answered_as} (u: undo)` +
      (left.length ? "; " + left.map((o) => o.reason).join("; ") : ""));
  } catch (error) { say(error.message); }
  await refreshReviews();
  answering = false;
  refreshPeople();
}

async function undoReview() {
  if (lastAnswered === null || answering) return;
  answering = true;
  try {
    const undone = await api(`/api/reviews/${lastAnswered}/undo`, { method: "POST" });
    say(`#${lastAnswered}: answer taken back` + (undone.note ? `; ${undone.note}` : ""));
  } catch (error) { say(error.message); }
  lastAnswered = null;
  await refreshReviews();
  answering = false;
  refreshPeople();
}

document.addEventListener("keydown", (key) => {
  if (["INPUT", "TEXTAREA"].includes(document.activeElement.tagName) || key.ctrlKey || key.metaKey || key.altKey ||
      key.repeat) return;
  const first = $("reviews").querySelector("[data-review]");
  const answers = { y: "yes", n: "no", s: "other" };
  if (key.key === "u") undoReview();
  else if (answers[key.key] && first) {
    answerReview({ id: Number(first.dataset.review), name: first.querySelector("img:nth-of-type(2)").alt },
      answers[key.key]);
  }
});

function report(body) {
  const refused = (body.outcomes || []).filter((o) => o.status !== "enrolled").map((o) => `${o.source}: ${o.reason}`);
  say(`${body.name}: ${body.enrolled} enrolled` + (refused.length ? "; " + refused.join("; ") : ""));
}

async function rejectFace(name, cropJpeg) {
  // A wrong match: the event's face crop is stored as not this person, who is then not named from faces like it.
  const bytes = Uint8Array.from(atob(cropJpeg), (c) => c.charCodeAt(0));
  const form = new FormData();
  form.append("image", new Blob([bytes], { type: "image/jpeg" }), "event crop.jpg");
  try {
    const body = await api(`/api/identities/${encodeURIComponent(name)}/negatives`, { method: "POST", body: form });
    say(body.rejected ? `rejected as not ${name}: faces like it are no longer named ${name}` : body.error);
  } catch (error) { say(error.message); }
  refreshPeople();
}

async function enrollTrack(camera, track) {
  const name = prompt(`Name for track ${track} of ${camera}:`);
  if (!name) return;
  try {
    report(await api(`/api/identities/${encodeURIComponent(name)}/from-track`, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ camera, track }) }));
  } catch (error) { say(error.message); }
  refreshPeople();
}

$("enroll").addEventListener("submit", async (submit) => {
  submit.preventDefault();
  const form = new FormData();
  form.append("name", $("enroll-name").value);
  for (const file of $("enroll-files").files) form.append("image", file, file.name);
  say("enrolling…");
  try { report(await api("/api/identities", { method: "POST", body: form })); } catch (error) { say(error.message); }
  refreshPeople();
});

refreshReady(); refreshCameras(); refreshWorkers(); refreshPresence(); refreshPeople(); refreshUnknowns(); refreshReviews();
followEvents();
setInterval(refreshPresence, 3000);
setInterval(refreshReady, 5000);
setInterval(refreshCameras, 3000);
setInterval(refreshWorkers, 3000);
setInterval(() => { if (!document.activeElement.classList.contains("cluster-name")) refreshUnknowns(); }, 15000);
setInterval(refreshReviews, 15000);
