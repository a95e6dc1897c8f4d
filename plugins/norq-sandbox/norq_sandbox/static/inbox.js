// The sandbox inbox: every channel in one list, a page at a time from the server
// (searched and filtered there), then kept live by the server's event stream. SMS
// are grouped into threads (recipient and sender), emails and chat messages each get
// a card. Message content is set with textContent only, never parsed as HTML; an
// email's HTML part is shown in a sandboxed frame that runs no script and is served
// with a Content-Security-Policy that loads nothing remote.
"use strict";

const messages = new Map(); // id -> inbox view, the newest version seen
const cards = new Map(); // thread key or message id -> card element
const list = document.getElementById("cards");
const connection = document.getElementById("connection");
const PENDING = new Set(["scheduled", "accepted", "queued", "sending", "sent"]);
const NOT_DELIVERED = new Set(["failed", "undelivered", "canceled"]);
const CHANNELS = ["sms", "email", "chat", "push"];
const PAGE_SIZE = 50;

// What the list shows: the server applies the same search and filters to each page,
// and live messages that do not match are left out.
const query = { q: "", channel: "", api: "", status: "" };
let next = null; // where the next (older) page starts, or null on the last
let loaded = false; // a first page has arrived for the current query
let generation = 0; // bumped by every new query, so a late page of an old one is dropped

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

const API_NAMES = { twilio: "Twilio", vonage: "Vonage", sendgrid: "SendGrid", smtp: "SMTP", slack: "Slack", "slack-webhook": "Slack webhook", telegram: "Telegram", discord: "Discord", teams: "Teams", fcm: "FCM", apns: "APNs", webpush: "Web Push" };

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
    frame.addEventListener("load", () => {
      sizeToContent(frame);
      frame.dataset.loaded = "true";
    });
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

function sizeToContent(frame) {
  // The frame may be read (allow-same-origin) but runs nothing (no allow-scripts, and
  // its CSP allows no script), so the inbox measures it and fits the frame to it.
  const page = frame.contentDocument?.documentElement;
  if (!page) return;
  const height = Math.min(Math.max(page.scrollHeight, 40), 1600);
  frame.style.height = `${height}px`;
  frame.dataset.contentHeight = String(page.scrollHeight);
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
  // The markup the text was sent in (MarkdownV2, an Adaptive Card...): the body shows it as read.
  const format = message.details?.format;
  card.querySelector(".format").textContent = format ? `sent as ${format}` : "";
  card.querySelector(".sid").textContent = message.provider_id;
  return card;
}

// -- push: the notification as a phone or a browser shows it, and the app's data ----

function renderPush(message) {
  const card = fromTemplate("push-template");
  card.dataset.sid = message.id;
  card.querySelector(".to").textContent = recipients(message);
  card.querySelector(".api").textContent = API_NAMES[message.api] || message.api;
  setTime(card.querySelector(".created"), message.created_at);
  card.querySelector(".app").textContent = message.from || API_NAMES[message.api] || message.api;
  const notification = card.querySelector(".notification");
  if (message.subject || message.body) {
    card.querySelector(".title").textContent = message.subject || "";
    card.querySelector(".push-body").textContent = message.body || "";
  } else {
    notification.hidden = true; // a data-only push shows nothing on the device
  }
  const details = message.details || {};
  const data = details.data ?? details.aps;
  const block = card.querySelector(".push-data");
  if (data !== undefined && data !== null) {
    block.querySelector("pre").textContent = JSON.stringify(data, null, 2);
    block.open = notification.hidden;
  } else {
    block.hidden = true;
  }
  const options = ["push_type", "priority", "urgency", "ttl", "topic", "collapse_id"]
    .filter((name) => details[name]).map((name) => `${name.replace("_", " ")} ${details[name]}`);
  card.querySelector(".push-options").textContent = options.join(" · ");
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

function matches(message) {
  // The server's search and filters, for messages that arrive live.
  if (query.channel && (message.channel || "sms") !== query.channel) return false;
  if (query.api && message.api !== query.api) return false;
  if (query.status) {
    const status = message.api === "twilio" ? message.status : "delivered";
    const group = { pending: PENDING, failed: NOT_DELIVERED }[query.status];
    if (group ? !group.has(status) : status !== query.status) return false;
  }
  if (!query.q) return true;
  const text = [recipients(message), message.from, message.id, message.sid, message.provider_id, message.subject, message.body]
    .filter(Boolean).join("\n").toLowerCase();
  return text.includes(query.q.toLowerCase());
}

function upsert(message, { fresh = false } = {}) {
  const known = messages.get(message.id);
  if (known && known.version > message.version) return; // an older update arrived late
  messages.set(message.id, message);
  const channel = message.channel || "sms";
  let card;
  if (channel === "sms") {
    card = placeSms(message, fresh);
  } else {
    if (known) return; // emails, chat messages and pushes never change once accepted
    const render = { email: renderEmail, push: renderPush }[channel] || renderChat;
    card = render(message);
    cards.set(message.id, card);
    if (fresh) flash(card);
  }
  place(card);
  renderState();
}

function clearAll() {
  messages.clear();
  cards.clear();
  list.replaceChildren();
  renderState();
}

function renderCounts(counts) {
  document.getElementById("stat-total").textContent = counts.all;
  document.getElementById("stat-delivered").textContent = counts.delivered;
  document.getElementById("stat-pending").textContent = counts.pending;
  document.getElementById("stat-failed").textContent = counts.failed;
  for (const channel of ["all", ...CHANNELS]) {
    document.querySelector(`[data-count="${channel}"]`).textContent = counts[channel] || 0;
  }
}

function renderState() {
  // "Loading" until the first page is in; "no messages" only once it is, and empty.
  const empty = loaded && messages.size === 0;
  const filtered = Boolean(query.q || query.channel || query.api || query.status);
  document.getElementById("loading").hidden = loaded;
  document.getElementById("empty").hidden = !empty || filtered;
  document.getElementById("no-match").hidden = !empty || !filtered;
  const more = document.getElementById("more");
  more.hidden = !loaded || next === null;
  document.getElementById("shown").textContent = loaded && messages.size
    ? `showing ${messages.size} of ${document.getElementById("shown").dataset.matching}`
    : "";
}

function pageUrl(before, limit = PAGE_SIZE) {
  const params = new URLSearchParams({ limit: String(limit) });
  for (const [name, value] of Object.entries(query)) if (value) params.set(name, value);
  if (before) params.set("before", before);
  return `/_sandbox/messages?${params}`;
}

async function loadPage({ first }) {
  // The first page fills the emptied list; a later one adds older messages below.
  // Pages merge with what is shown: events that arrived while a page was in flight
  // are newer than it and stay (an update racing a page is applied by version).
  const mine = generation;
  const response = await fetch(pageUrl(first ? null : next), { cache: "no-store" });
  const page = await response.json();
  if (mine !== generation) return;
  next = page.next;
  loaded = true;
  document.getElementById("shown").dataset.matching = page.matching;
  renderCounts(page.counts);
  // Each page is newest first; insert oldest first so each lands above the older ones.
  for (const message of page.messages.reverse()) upsert(message);
  renderState();
  // When the first page of messages was on screen, for anyone timing the inbox.
  if (first && !performance.getEntriesByName("inbox-first-page").length) performance.mark("inbox-first-page");
}

function reload() {
  generation += 1;
  loaded = false;
  next = null;
  clearAll();
  return loadPage({ first: true }).catch(() => setConnection("offline", "cannot load messages"));
}

let countsPending = null;
function refreshCounts() {
  // Live events change the counts; ask the server again, at most a few times a second.
  if (countsPending) return;
  countsPending = setTimeout(async () => {
    countsPending = null;
    try {
      const page = await (await fetch(pageUrl(null, 1), { cache: "no-store" })).json();
      renderCounts(page.counts);
      document.getElementById("shown").dataset.matching = page.matching;
      renderState();
    } catch {
      // The connection indicator reports the server being away.
    }
  }, 150);
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
    reload();
  });
  events.addEventListener("message", (event) => {
    const message = JSON.parse(event.data);
    if (matches(message)) upsert(message, { fresh: true });
    refreshCounts();
  });
  events.addEventListener("reset", () => {
    next = null;
    clearAll();
    refreshCounts();
  });
  events.addEventListener("error", () => setConnection("offline", "reconnecting…"));
}

for (const button of document.querySelectorAll(".filter")) {
  button.addEventListener("click", () => {
    query.channel = button.dataset.filter === "all" ? "" : button.dataset.filter;
    for (const other of document.querySelectorAll(".filter")) other.setAttribute("aria-pressed", String(other === button));
    reload();
  });
}

for (const [id, name] of [["api-filter", "api"], ["status-filter", "status"]]) {
  document.getElementById(id).addEventListener("change", (event) => {
    query[name] = event.target.value;
    reload();
  });
}

let searchTimer = null;
document.getElementById("search").addEventListener("input", (event) => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(() => {
    query.q = event.target.value.trim();
    reload();
  }, 200);
});

document.getElementById("more").addEventListener("click", () => {
  loadPage({ first: false }).catch(() => setConnection("offline", "cannot load messages"));
});

// Clear forgets every message of every channel: ask first, in the page itself.
const confirmClear = document.getElementById("confirm-clear");
document.getElementById("clear").addEventListener("click", () => {
  const total = document.getElementById("stat-total").textContent;
  document.getElementById("clear-question").textContent =
    `Delete all ${total} messages and the request log? This cannot be undone.`;
  confirmClear.hidden = false;
  document.getElementById("clear-cancel").focus();
});
document.getElementById("clear-cancel").addEventListener("click", () => { confirmClear.hidden = true; });
document.getElementById("clear-confirm").addEventListener("click", async () => {
  confirmClear.hidden = true;
  await fetch("/_sandbox/reset", { method: "POST" });
});

setInterval(() => {
  for (const time of list.querySelectorAll("time.created")) time.textContent = ago(time.dateTime);
}, 5000);

renderState();
loadInfo();
follow();
