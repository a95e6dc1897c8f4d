// The sandbox inbox: every channel in one list, loaded once, then kept live by the
// server's event stream. SMS are grouped into threads (recipient and sender), emails
// and chat messages each get a card. Message content is set with textContent only,
// never parsed as HTML; an email's HTML part is shown in a sandboxed frame that runs
// no script and is served with a Content-Security-Policy that loads nothing remote.
"use strict";

const messages = new Map(); // id -> inbox view, the newest version seen
const seen = new Map(); // id -> when this page first learned of it (performance.now())
const cards = new Map(); // thread key or message id -> card element
const list = document.getElementById("cards");
const connection = document.getElementById("connection");
const PENDING = new Set(["scheduled", "accepted", "queued", "sending", "sent"]);
const CHANNELS = ["sms", "email", "chat"];

function setConnection(state, label) {
  connection.dataset.state = state;
  connection.textContent = label;
}

function fromTemplate(id) {
  return document.getElementById(id).content.firstElementChild.cloneNode(true);
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

function setTime(node, iso) {
  node.dateTime = iso;
  node.textContent = ago(iso);
  node.title = new Date(iso).toLocaleString();
}

function recipients(message) {
  return Array.isArray(message.to) ? message.to.join(", ") : message.to;
}

const API_NAMES = { twilio: "Twilio", vonage: "Vonage", sendgrid: "SendGrid", smtp: "SMTP", slack: "Slack", "slack-webhook": "Slack webhook" };

// -- SMS: threads of messages between one recipient and one sender -------------------

function threadKey(message) {
  // A Messaging Service picks its number later; the service keeps the thread stable.
  const sender = message.messaging_service_sid || message.from || "";
  const bare = (number) => String(number).replace(/^\+/, "");
  return `sms:${bare(recipients(message))}|${bare(sender)}`;
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

function renderSms(message) {
  const node = fromTemplate("sms-template");
  node.dataset.sid = message.id;
  node.querySelector(".api").textContent = API_NAMES[message.api] || message.api;
  const status = node.querySelector(".status");
  status.textContent = message.status;
  status.dataset.status = message.status;
  setTime(node.querySelector(".created"), message.created_at);
  node.querySelector(".body").textContent = message.body || "(no body)";
  if (message.error_code !== null && message.error_code !== undefined) {
    const error = node.querySelector(".error");
    error.hidden = false;
    error.textContent = `Error ${message.error_code}: ${message.error_message}`;
  }
  node.querySelector(".timeline").append(...(message.timeline || []).map(renderStep));
  const segments = Number(message.num_segments || (message.details?.message_ids || [1]).length);
  node.querySelector(".segments").textContent = `${segments} segment${segments === 1 ? "" : "s"}`;
  node.querySelector(".chars").textContent = `${[...(message.body || "")].length} characters`;
  const callbackUrl = message.status_callback || message.details?.callback;
  node.querySelector(".callback-url").textContent = callbackUrl ? `callbacks → ${callbackUrl}` : "no status callback";
  node.querySelector(".sid").textContent = message.sid || message.provider_id;
  return node;
}

function threadCard(message) {
  const key = threadKey(message);
  let card = cards.get(key);
  if (!card) {
    card = fromTemplate("thread-template");
    card.dataset.thread = key;
    card.querySelector(".to").textContent = recipients(message);
    cards.set(key, card);
  }
  return card;
}

function updateThreadHead(card) {
  const shown = [...card.querySelectorAll(".thread-messages > .message")].map((node) => messages.get(node.dataset.sid));
  const senders = [...new Set(shown.map((m) => m.from || m.messaging_service_sid).filter(Boolean))];
  card.querySelector(".from").textContent = senders.length ? `from ${senders.join(", ")}` : "";
  card.querySelector(".thread-count").textContent = `${shown.length} message${shown.length === 1 ? "" : "s"}`;
}

function placeSms(message, fresh) {
  const card = threadCard(message);
  const thread = card.querySelector(".thread-messages");
  const node = renderSms(message);
  const existing = thread.querySelector(`[data-sid="${CSS.escape(message.id)}"]`);
  if (existing) {
    existing.replaceWith(node);
  } else {
    const newer = [...thread.children].find((child) => messages.get(child.dataset.sid).created_at < message.created_at);
    thread.insertBefore(node, newer || null);
    if (fresh) flash(node);
  }
  updateThreadHead(card);
  return card;
}

// -- emails ------------------------------------------------------------------------

function renderEmail(message) {
  const card = fromTemplate("email-template");
  card.dataset.sid = message.id;
  card.querySelector(".subject").textContent = message.subject || "(no subject)";
  card.querySelector(".api").textContent = API_NAMES[message.api] || message.api;
  setTime(card.querySelector(".created"), message.created_at);
  card.querySelector(".from").textContent = message.from || "";
  card.querySelector(".to").textContent = recipients(message);
  card.querySelector(".headers summary").textContent = `Headers (${message.headers.length})`;
  const rows = card.querySelector(".headers tbody");
  for (const [name, value] of message.headers) {
    const row = rows.insertRow();
    row.insertCell().textContent = name;
    row.insertCell().textContent = value;
  }
  const tabs = card.querySelector(".part-tabs");
  const frame = card.querySelector(".html-part");
  const text = card.querySelector(".text-part");
  const parts = [];
  if (message.has_html) {
    frame.src = `/_sandbox/messages/${encodeURIComponent(message.id)}/html`;
    frame.addEventListener("load", () => { frame.dataset.loaded = "true"; });
    parts.push(["HTML", frame]);
  }
  if (message.body) {
    text.textContent = message.body;
    parts.push(["Text", text]);
  }
  for (const [label, part] of parts) {
    const tab = document.createElement("button");
    tab.type = "button";
    tab.className = "part-tab";
    tab.setAttribute("role", "tab");
    tab.textContent = label;
    tab.addEventListener("click", () => showPart(card, tab, part));
    tabs.append(tab);
  }
  if (parts.length) showPart(card, tabs.firstElementChild, parts[0][1]);
  card.querySelector(".sid").textContent = message.provider_id;
  return card;
}

function showPart(card, tab, part) {
  for (const other of card.querySelectorAll(".part-tab")) other.setAttribute("aria-selected", String(other === tab));
  for (const other of card.querySelectorAll(".html-part, .text-part")) other.hidden = other !== part;
}

// -- chat --------------------------------------------------------------------------

function renderChat(message) {
  const card = fromTemplate("chat-template");
  card.dataset.sid = message.id;
  card.querySelector(".to").textContent = recipients(message);
  card.querySelector(".from").textContent = message.from ? `from ${message.from}` : "";
  card.querySelector(".api").textContent = API_NAMES[message.api] || message.api;
  setTime(card.querySelector(".created"), message.created_at);
  card.querySelector(".body").textContent = message.body || "(blocks only)";
  const blocks = message.details?.blocks;
  card.querySelector(".blocks").textContent = Array.isArray(blocks) ? `${blocks.length} block${blocks.length === 1 ? "" : "s"}` : "";
  const thread = message.details?.thread_ts;
  card.querySelector(".thread-ts").textContent = thread ? `in thread ${thread}` : "";
  card.querySelector(".sid").textContent = message.provider_id;
  return card;
}

// -- the list --------------------------------------------------------------------

function flash(node) {
  node.classList.add("fresh");
  setTimeout(() => node.classList.remove("fresh"), 1600);
}

function activity(card) {
  const ids = card.dataset.thread
    ? [...card.querySelectorAll(".thread-messages > .message")].map((node) => node.dataset.sid)
    : [card.dataset.sid];
  return ids.map((id) => messages.get(id).created_at).sort().at(-1);
}

function place(card) {
  // Newest activity first: a thread moves up when one of its messages is new.
  const latest = activity(card);
  const after = [...list.children].find((other) => other !== card && activity(other) < latest);
  if (after) {
    if (card.nextElementSibling !== after) list.insertBefore(card, after);
  } else if (card.parentElement !== list || card !== list.lastElementChild) {
    list.append(card);
  }
}

function upsert(message, { fresh = false } = {}) {
  const known = messages.get(message.id);
  if (known && known.version > message.version) return; // an older update arrived late
  messages.set(message.id, message);
  if (!seen.has(message.id)) seen.set(message.id, performance.now());
  const channel = message.channel || "sms";
  let card;
  if (channel === "sms") {
    card = placeSms(message, fresh);
  } else {
    if (known) return; // emails and chat messages never change once accepted
    card = channel === "email" ? renderEmail(message) : renderChat(message);
    cards.set(message.id, card);
    if (fresh) flash(card);
  }
  place(card);
  renderSummary();
}

function forget(id) {
  const message = messages.get(id);
  messages.delete(id);
  seen.delete(id);
  if (!message) return;
  if ((message.channel || "sms") === "sms") {
    const card = cards.get(threadKey(message));
    card?.querySelector(`[data-sid="${CSS.escape(id)}"]`)?.remove();
    if (card && !card.querySelector(".thread-messages > .message")) {
      card.remove();
      cards.delete(threadKey(message));
    } else if (card) {
      updateThreadHead(card);
    }
  } else {
    cards.get(id)?.remove();
    cards.delete(id);
  }
}

function clearAll() {
  messages.clear();
  seen.clear();
  cards.clear();
  list.replaceChildren();
  renderSummary();
}

function renderSummary() {
  const all = [...messages.values()];
  const count = (test) => all.filter(test).length;
  // Only Twilio messages have a journey; what another API accepted is in this inbox, delivered.
  const delivered = (m) => m.status === "delivered" || (m.api !== "twilio" && m.status === "accepted");
  document.getElementById("stat-total").textContent = all.length;
  document.getElementById("stat-delivered").textContent = count(delivered);
  document.getElementById("stat-pending").textContent = count((m) => m.api === "twilio" && PENDING.has(m.status));
  document.getElementById("stat-failed").textContent = count((m) => m.status === "failed" || m.status === "undelivered");
  document.querySelector('[data-count="all"]').textContent = all.length;
  for (const channel of CHANNELS) {
    document.querySelector(`[data-count="${channel}"]`).textContent = count((m) => (m.channel || "sms") === channel);
  }
  document.getElementById("empty").hidden = all.length > 0;
}

async function loadAll() {
  // Merge the snapshot instead of replacing the list: events that arrived
  // while it was in flight are newer than it and must stay. A message known
  // from before the request that the snapshot lacks is gone (server restart).
  const requestedAt = performance.now();
  const response = await fetch("/_sandbox/messages", { cache: "no-store" });
  const { messages: current } = await response.json();
  const present = new Set(current.map((message) => message.id));
  for (const [id, seenAt] of seen) {
    if (!present.has(id) && seenAt < requestedAt) forget(id);
  }
  // The list is newest first; insert oldest first so each lands on top.
  for (const message of current.reverse()) upsert(message);
  renderSummary();
}

async function loadInfo() {
  const info = await (await fetch("/_sandbox/info", { cache: "no-store" })).json();
  const base = window.location.origin;
  document.getElementById("base-url").textContent = `NORQ_TWILIO_BASE_URL=${base}`;
  document.getElementById("smtp-address").textContent = info.smtp ? `SMTP ${info.smtp}` : "";
  document.getElementById("curl-example").textContent = [
    `curl -u ${info.api_key_sid}:${info.default_credentials ? "sandbox-api-key-secret" : "$API_KEY_SECRET"} \\`,
    `  -d To=+15558675310 -d From=+15005550006 -d Body="Hello from the sandbox" \\`,
    `  ${base}/2010-04-01/Accounts/${info.account_sid}/Messages.json`,
    "",
    `curl -H 'Content-Type: application/json' -d '{"text": "Hello from the sandbox"}' \\`,
    `  ${base}/services/T0SANDBOX/B0SANDBOX/secret`,
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

for (const button of document.querySelectorAll(".filter")) {
  button.addEventListener("click", () => {
    list.dataset.filter = button.dataset.filter;
    for (const other of document.querySelectorAll(".filter")) other.setAttribute("aria-pressed", String(other === button));
  });
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
