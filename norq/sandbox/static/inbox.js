// The sandbox inbox: load the messages once, then follow the server's event stream.
// Message content is shown with textContent only, never parsed as HTML.
"use strict";

const messages = new Map(); // sid -> inbox view, the newest version seen
const seen = new Map(); // sid -> when this page first learned of it (performance.now())
const list = document.getElementById("messages");
const template = document.getElementById("message-template");
const connection = document.getElementById("connection");
const PENDING = new Set(["accepted", "queued", "sending", "sent"]);

function setConnection(state, label) {
  connection.dataset.state = state;
  connection.textContent = label;
}

function clock(iso) {
  const when = new Date(iso);
  const time = when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
  return `${time}.${String(when.getMilliseconds()).padStart(3, "0")}`;
}

function ago(iso) {
  const seconds = Math.max(0, Math.round((Date.now() - new Date(iso).getTime()) / 1000));
  if (seconds < 5) return "just now";
  if (seconds < 60) return `${seconds}s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  return new Date(iso).toLocaleString();
}

function renderStep(step) {
  const item = document.createElement("li");
  item.className = "step";
  item.dataset.status = step.status;
  const name = document.createElement("span");
  name.className = "step-name";
  name.textContent = step.status;
  const at = document.createElement("time");
  at.dateTime = step.at;
  at.textContent = clock(step.at);
  item.append(name, at);
  if (step.callback !== null) {
    const callback = document.createElement("span");
    callback.className = "callback";
    callback.dataset.ok = String(/^2\d\d$/.test(step.callback));
    callback.textContent = `callback ${step.callback}`;
    item.append(callback);
  }
  return item;
}

function renderMessage(message) {
  const node = template.content.firstElementChild.cloneNode(true);
  node.dataset.sid = message.sid;
  node.querySelector(".to").textContent = message.to;
  const sender = message.from || message.messaging_service_sid || "";
  node.querySelector(".from").textContent = sender ? `from ${sender}` : "";
  const status = node.querySelector(".status");
  status.textContent = message.status;
  status.dataset.status = message.status;
  const created = node.querySelector(".created");
  created.dateTime = message.created_at;
  created.textContent = ago(message.created_at);
  created.title = new Date(message.created_at).toLocaleString();
  node.querySelector(".body").textContent = message.body || "(no body)";
  if (message.error_code !== null) {
    const error = node.querySelector(".error");
    error.hidden = false;
    error.textContent = `Error ${message.error_code}: ${message.error_message}`;
  }
  node.querySelector(".timeline").append(...message.timeline.map(renderStep));
  const segments = Number(message.num_segments);
  node.querySelector(".segments").textContent = `${segments} segment${segments === 1 ? "" : "s"}`;
  node.querySelector(".chars").textContent = `${[...(message.body || "")].length} characters`;
  node.querySelector(".callback-url").textContent = message.status_callback
    ? `callbacks → ${message.status_callback}`
    : "no status callback";
  node.querySelector(".sid").textContent = message.sid;
  return node;
}

function renderSummary() {
  const all = [...messages.values()];
  const count = (test) => all.filter(test).length;
  document.getElementById("stat-total").textContent = all.length;
  document.getElementById("stat-delivered").textContent = count((m) => m.status === "delivered");
  document.getElementById("stat-pending").textContent = count((m) => PENDING.has(m.status));
  document.getElementById("stat-failed").textContent = count((m) => m.status === "failed" || m.status === "undelivered");
  document.getElementById("empty").hidden = all.length > 0;
}

function upsert(message, { fresh = false } = {}) {
  const known = messages.get(message.sid);
  if (known && known.version > message.version) return; // an older update arrived late
  messages.set(message.sid, message);
  if (!seen.has(message.sid)) seen.set(message.sid, performance.now());
  const node = renderMessage(message);
  const existing = list.querySelector(`[data-sid="${message.sid}"]`);
  if (existing) {
    existing.replaceWith(node);
  } else {
    // Newest first: messages arrive in creation order, so a new one goes on top.
    const newer = [...list.children].find((child) => messages.get(child.dataset.sid).created_at < message.created_at);
    list.insertBefore(node, newer || null);
    if (fresh) {
      node.classList.add("fresh");
      setTimeout(() => node.classList.remove("fresh"), 1600);
    }
  }
  renderSummary();
}

function clearAll() {
  messages.clear();
  seen.clear();
  list.replaceChildren();
  renderSummary();
}

async function loadAll() {
  // Merge the snapshot instead of replacing the list: events that arrived
  // while it was in flight are newer than it and must stay. A message known
  // from before the request that the snapshot lacks is gone (server restart).
  const requestedAt = performance.now();
  const response = await fetch("/_sandbox/messages", { cache: "no-store" });
  const { messages: current } = await response.json();
  const present = new Set(current.map((message) => message.sid));
  for (const [sid, seenAt] of seen) {
    if (!present.has(sid) && seenAt < requestedAt) forget(sid);
  }
  // The list is newest first; insert oldest first so each lands on top.
  for (const message of current.reverse()) upsert(message);
  renderSummary();
}

function forget(sid) {
  messages.delete(sid);
  seen.delete(sid);
  list.querySelector(`[data-sid="${sid}"]`)?.remove();
}

async function loadInfo() {
  const info = await (await fetch("/_sandbox/info", { cache: "no-store" })).json();
  const base = window.location.origin;
  document.getElementById("base-url").textContent = `NORQ_TWILIO_BASE_URL=${base}`;
  document.getElementById("curl-example").textContent = [
    `curl -u ${info.api_key_sid}:${info.default_credentials ? "sandbox-api-key-secret" : "$API_KEY_SECRET"} \\`,
    `  -d To=+15558675310 -d From=+15005550006 -d Body="Hello from the sandbox" \\`,
    `  ${base}/2010-04-01/Accounts/${info.account_sid}/Messages.json`,
  ].join("\n");
}

function follow() {
  const events = new EventSource("/_sandbox/events");
  // Subscribe first, then load: an update racing the load is applied by version.
  events.addEventListener("open", () => {
    setConnection("live", "live");
    loadAll().catch(() => setConnection("offline", "cannot load messages"));
  });
  events.addEventListener("message", (event) => upsert(JSON.parse(event.data), { fresh: true }));
  events.addEventListener("reset", clearAll);
  events.addEventListener("error", () => setConnection("offline", "reconnecting…"));
}

document.getElementById("clear").addEventListener("click", async () => {
  await fetch("/_sandbox/reset", { method: "POST" });
});

setInterval(() => {
  for (const time of list.querySelectorAll("time.created")) time.textContent = ago(time.dateTime);
}, 5000);

renderSummary();
loadInfo();
follow();
