// The dashboard: reads /dashboard/events (Server-Sent Events) with fetch, so that the admin key goes as a
// header (EventSource cannot send one); the key lives in this tab's sessionStorage only. Everything shown is
// set as text, never as HTML.
"use strict";

const status = document.getElementById("status");
const keyForm = document.getElementById("key");
const rows = document.querySelector("#connections tbody");
const rowsById = new Map(); // connection id → its row, kept while the connection is in the snapshots
const COLUMNS = 12;
const history = []; // {at, connections, messages, bytes} per snapshot, the last 5 minutes
let previous = null;

function key() { return sessionStorage.getItem("kestrelchat-admin-key"); }
function headers() { const k = key(); return k ? { "X-Api-Key": k } : {}; }

keyForm.addEventListener("submit", event => {
  event.preventDefault();
  sessionStorage.setItem("kestrelchat-admin-key", document.getElementById("key-value").value);
  keyForm.hidden = true;
  connect();
});

async function connect() {
  status.textContent = "connecting…";
  let response;
  try {
    response = await fetch("/dashboard/events", { headers: headers(), cache: "no-store" });
  } catch {
    status.textContent = "the server does not answer; trying again…";
    setTimeout(connect, 2000);
    return;
  }
  if (response.status === 401 || response.status === 403) {
    status.textContent = "the admin API key is needed";
    keyForm.hidden = false;
    return;
  }
  if (!response.ok) {
    status.textContent = `the server said ${response.status}; trying again…`;
    setTimeout(connect, 2000);
    return;
  }
  status.textContent = "live";
  await readEvents(response, (name, data) => { if (name === "snapshot") show(JSON.parse(data)); });
  status.textContent = "the stream ended; reconnecting…";
  setTimeout(connect, 1000);
}

function show(snapshot) {
  status.textContent = `live — ${snapshot.instance}` + (snapshot.staleSeconds != null ? ` (other instances as of ${snapshot.staleSeconds} s ago)` : "");
  // Rows are kept per connection and only their cells change: with 2,000 connections a rebuild each second costs
  // the browser far more, and a button replaced under the pointer between press and release never gets its click.
  const present = new Set();
  const ordered = snapshot.clients.map(client => {
    present.add(client.id);
    let tr = rowsById.get(client.id);
    if (!tr) rowsById.set(client.id, tr = row(client));
    update(tr, client);
    return tr;
  });
  for (const id of [...rowsById.keys()]) if (!present.has(id)) rowsById.delete(id);
  if (ordered.length !== rows.children.length || ordered.some((tr, i) => rows.children[i] !== tr)) rows.replaceChildren(...ordered);
  const rooms = document.getElementById("rooms");
  rooms.replaceChildren(...snapshot.rooms.map(r => {
    const li = document.createElement("li");
    li.textContent = `${r.name} (${r.members.length})${r.topic ? ": " + r.topic : ""} — ${r.members.join(", ")}`;
    return li;
  }));
  const select = document.getElementById("broadcast-room");
  const chosen = select.value;
  select.replaceChildren(option("", "everyone"), ...snapshot.rooms.map(r => option(r.name, r.name)));
  select.value = chosen;
  chart(snapshot);
}

function option(value, label) { const o = document.createElement("option"); o.value = value; o.textContent = label; return o; }

// A connection's row: its cells, then Kick and Watch, which act on what the latest snapshot said of it (tr.client).
function row(client) {
  const tr = document.createElement("tr");
  tr.dataset.id = client.id;
  for (let i = 0; i < COLUMNS; i++) {
    const td = document.createElement("td");
    if (i >= 6) td.className = "number";
    tr.append(td);
  }
  const kick = document.createElement("button");
  kick.type = "button";
  kick.textContent = "Kick";
  kick.addEventListener("click", async () => {
    const c = tr.client;
    const reason = prompt(`Kick ${c.nickname ?? c.id}? Reason (optional):`, "");
    if (reason === null) return;
    const query = reason.trim() ? `?reason=${encodeURIComponent(reason.trim())}` : "";
    const answer = await fetch(`/clients/${encodeURIComponent(c.id)}${query}`, { method: "DELETE", headers: headers() });
    status.textContent = answer.ok ? `kicked ${c.nickname ?? c.id}` : `kick refused: ${answer.status}`;
  });
  const watchButton = document.createElement("button");
  watchButton.type = "button";
  watchButton.textContent = "Watch";
  watchButton.addEventListener("click", () => watch(tr.client));
  const td = document.createElement("td");
  td.append(kick, " ", watchButton);
  tr.append(td);
  return tr;
}

function update(tr, client) {
  tr.client = client;
  const since = Math.round((Date.now() - Date.parse(client.connectedAt)) / 1000);
  const values = [client.id, client.nickname ?? "(no nickname yet)", client.room ?? "", client.transport,
    client.remoteEndPoint ?? "", client.localEndPoint ?? "", `${since} s`, client.bytesIn, client.bytesOut,
    client.messagesIn, client.messagesOut, client.sendQueueBytes];
  for (let i = 0; i < COLUMNS; i++) {
    const text = String(values[i]);
    const cell = tr.cells[i];
    if (cell.textContent !== text) cell.textContent = text;
  }
}

document.getElementById("broadcast").addEventListener("submit", async event => {
  event.preventDefault();
  const text = document.getElementById("broadcast-text").value.trim();
  if (!text) return;
  const room = document.getElementById("broadcast-room").value;
  const answer = await fetch("/broadcast", {
    method: "POST",
    headers: { ...headers(), "Content-Type": "application/json" },
    body: JSON.stringify(room ? { text, room } : { text }),
  });
  status.textContent = answer.ok ? "announced" : `announcement refused: ${answer.status}`;
  if (answer.ok) document.getElementById("broadcast-text").value = "";
});

// Rates from the connections present in two snapshots in a row (one that left takes its counters with it).
function chart(snapshot) {
  const at = Date.parse(snapshot.at);
  let messages = 0, bytes = 0;
  if (previous) {
    const before = new Map(previous.clients.map(c => [c.id, c]));
    const seconds = Math.max((at - Date.parse(previous.at)) / 1000, 0.001);
    for (const c of snapshot.clients) {
      const p = before.get(c.id);
      if (!p) continue;
      messages += Math.max(0, c.messagesIn - p.messagesIn) / seconds;
      bytes += Math.max(0, c.bytesIn + c.bytesOut - p.bytesIn - p.bytesOut) / seconds;
    }
  }
  previous = snapshot;
  history.push({ at, connections: snapshot.clients.length, messages, bytes });
  while (history.length && history[0].at < at - 5 * 60 * 1000) history.shift();
  draw("connections", history.map(h => h.connections));
  draw("messages", history.map(h => h.messages));
  draw("bytes", history.map(h => h.bytes));
}

function draw(name, values) {
  document.getElementById(`${name}-now`).textContent = String(Math.round(values[values.length - 1] ?? 0));
  const svg = document.getElementById(`${name}-chart`);
  const max = Math.max(1, ...values);
  const step = 300 / Math.max(1, 300 - 1);
  const start = 300 - values.length * step;
  const points = values.map((v, i) => `${(start + i * step).toFixed(1)},${(58 - v / max * 56).toFixed(1)}`).join(" ");
  const line = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
  line.setAttribute("points", points);
  svg.replaceChildren(line);
}

connect();

// The wire view: /dashboard/wire/{id}, each read or write as hex and text side by side, 16 bytes a row.
let watching = null;
document.getElementById("wire-stop").addEventListener("click", () => { watching?.abort(); watching = null; });

async function watch(client) {
  watching?.abort();
  const controller = new AbortController();
  watching = controller;
  const panel = document.getElementById("wire");
  const out = document.getElementById("wire-bytes");
  panel.hidden = false;
  document.getElementById("wire-who").textContent = `${client.nickname ?? "(no nickname)"} ${client.id} ${client.remoteEndPoint ?? ""}`;
  out.replaceChildren();
  let response;
  try {
    response = await fetch(`/dashboard/wire/${encodeURIComponent(client.id)}`, { headers: headers(), signal: controller.signal, cache: "no-store" });
  } catch { return; }
  if (!response.ok) { append(out, "note", `not watched: the server said ${response.status}`); return; }
  append(out, "note", "watching from now on…");
  try {
    await readEvents(response, (name, data) => {
      if (name === "closed") append(out, "note", "the connection closed");
      else if (name === "in" || name === "out") chunk(out, name, JSON.parse(data));
    });
  } catch { /* stopped */ }
}

// A Server-Sent Events body, read to its end: each event's name and data to onEvent.
async function readEvents(response, onEvent) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const lines = buffer.slice(0, end).split("\n");
      buffer = buffer.slice(end + 2);
      const name = (lines.find(l => l.startsWith("event: ")) ?? "").slice(7);
      const data = lines.filter(l => l.startsWith("data: ")).map(l => l.slice(6)).join("\n");
      if (data) onEvent(name, data);
    }
  }
}

function chunk(out, direction, event) {
  const bytes = Uint8Array.from(atob(event.bytes), c => c.charCodeAt(0));
  const time = new Date(event.at).toISOString().slice(11, 23);
  append(out, direction, `${direction === "in" ? "←" : "→"} ${time}  ${bytes.length} bytes${event.cut ? ` (+${event.cut} not kept)` : ""}`);
  for (let i = 0; i < bytes.length; i += 16) {
    const row = bytes.slice(i, i + 16);
    const hex = Array.from(row, b => b.toString(16).padStart(2, "0")).join(" ").padEnd(16 * 3 - 1);
    const text = Array.from(row, b => b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : ".").join("");
    append(out, direction, `  ${i.toString(16).padStart(4, "0")}  ${hex}  ${text}`);
  }
}

function append(out, kind, text) {
  const line = document.createElement("div");
  line.className = kind;
  line.textContent = text;
  out.append(line);
  out.scrollTop = out.scrollHeight;
}
