// The web chat: one WebSocket to /ws on this page's own server, one text frame per line each way.
// Everything shown is set as text (textContent), never as HTML: a nickname, a topic or a message
// cannot inject markup. The member and room lists are the server's own answers to /who and /rooms.
"use strict";

const lines = document.getElementById("lines");
const status = document.getElementById("status");
const text = document.getElementById("text");
const roomsList = document.getElementById("rooms");
const membersList = document.getElementById("members");
const membersTitle = document.getElementById("members-title");

let nickname = null;
let asking = 0;          // answers to our own /who and /rooms still to come: not shown in the conversation
let roomsPending = null; // the "*   #room (n)" lines of a /rooms answer being read
let roomsExpected = 0;   // how many its first line announced

const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`;
const socket = new WebSocket(url);

socket.addEventListener("open", () => { status.textContent = `connected to ${location.host}`; });
socket.addEventListener("close", event => {
  status.textContent = `disconnected${event.reason ? ": " + event.reason : ""}`;
  text.disabled = true;
});
socket.addEventListener("message", event => receive(String(event.data)));

document.getElementById("say").addEventListener("submit", event => {
  event.preventDefault();
  const line = text.value;
  if (line.trim() === "" || socket.readyState !== WebSocket.OPEN) return;
  socket.send(line);
  if (nickname !== null && !line.startsWith("/")) show(`${nickname}: ${line}`, "mine");
  text.value = "";
});

function receive(line) {
  if (line === "NICK") return; // the greeting the lesson's client waits for
  const welcome = /^\* Welcome, (.+?)! In /.exec(line);
  if (welcome) {
    nickname = welcome[1];
    text.placeholder = "Say something, or /help";
    refresh();
  } else if (/^\* You are in (#\S+) now/.test(line) || / is now known as /.test(line)) {
    const renamed = new RegExp(`^\\* ${escapeRegExp(nickname ?? "")} is now known as (.+)\\.$`).exec(line);
    if (renamed) nickname = renamed[1];
    refresh();
  } else if (/^\* .+ (joined|left)\b/.test(line)) {
    refresh();
  }
  if (asking > 0 && takeAnswer(line)) return;
  show(line, line.startsWith("! ") ? "error" : line.startsWith("* ") ? "notice" : "");
}

// Our own /who and /rooms, asked whenever who is where changes: their answers fill the side panel.
function refresh() {
  if (socket.readyState !== WebSocket.OPEN) return;
  asking += 2;
  socket.send("/who");
  socket.send("/rooms");
}

function takeAnswer(line) {
  const who = /^\* In (the chat|#\S+) \((\d+)\): (.*)$/.exec(line);
  if (who) {
    membersTitle.textContent = who[1] === "the chat" ? "In the room" : `In ${who[1]}`;
    fill(membersList, who[3].split(", "), name => document.createTextNode(name));
    asking--;
    return true;
  }
  const rooms = /^\* Rooms \((\d+)\):$/.exec(line);
  if (rooms) {
    roomsPending = [];
    roomsExpected = Number(rooms[1]);
    if (roomsExpected === 0) finishRooms();
    return true;
  }
  const room = /^\*   (#\S+) \((\d+)\)(?:: (.*))?$/.exec(line);
  if (roomsPending !== null && room) {
    roomsPending.push(room);
    if (roomsPending.length === roomsExpected) finishRooms();
    return true;
  }
  if (/^\* Members on other servers as last heard/.test(line)) return true;
  return false;
}

function finishRooms() {
  fill(roomsList, roomsPending, room => {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = `${room[1]} (${room[2]})`;
    button.addEventListener("click", () => socket.send(`/join ${room[1]}`));
    return button;
  });
  roomsPending = null;
  asking--;
}

function fill(list, items, render) {
  list.replaceChildren(...items.map(item => {
    const li = document.createElement("li");
    li.append(render(item));
    return li;
  }));
}

function show(line, kind) {
  const li = document.createElement("li");
  li.textContent = line;
  if (kind) li.className = kind;
  const atBottom = lines.scrollTop + lines.clientHeight >= lines.scrollHeight - 4;
  lines.append(li);
  if (atBottom) lines.scrollTop = lines.scrollHeight;
}

function escapeRegExp(s) { return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"); }
