"use strict";
// The sandbox page: renders GET /sandbox/api/state every second and sends the visitor's actions.
// All user text goes through text nodes (append/textContent), never through innerHTML.

const EMOJI = {
  ticket: "🎫", white_check_mark: "✅", heavy_check_mark: "✔️", eyes: "👀", warning: "⚠️",
  arrows_counterclockwise: "🔄", lock: "🔒", red_circle: "🔴", large_yellow_circle: "🟡",
  large_green_circle: "🟢", inbox_tray: "📥", hourglass_flowing_sand: "⏳", mag: "🔍",
  no_entry: "⛔", grey_question: "❔", bust_in_silhouette: "👤", wave: "👋",
};
const view = { channel: null, open: new Set(), state: null, raw: "", offline: false };
const $ = (id) => document.getElementById(id);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

const emoji = (name) => EMOJI[name] || `:${name}:`;
const unescape = (s) => s.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
const byTs = (a, b) => a.ts.localeCompare(b.ts, "en", { numeric: true });

function userName(id) {
  const user = view.state.slack.users.find((u) => u.id === id);
  return user ? user.display_name : id;
}

function channelName(id) {
  const channel = view.state.slack.channels.find((c) => c.id === id);
  return channel ? channel.name : id;
}

// Slack mrkdwn, just enough of it: <links|labels>, <@mentions>, <#channels>, *bold*, :emoji:.
function rich(text) {
  const out = document.createDocumentFragment();
  const pattern = /<([^>|]+)(?:\|([^>]+))?>|\*([^*\n]+)\*|:([a-z0-9_+-]+):/g;
  let at = 0;
  for (const match of text.matchAll(pattern)) {
    out.append(unescape(text.slice(at, match.index)));
    at = match.index + match[0].length;
    if (match[3] !== undefined) out.append(el("strong", {}, rich(match[3])));
    else if (match[4] !== undefined) out.append(emoji(match[4]));
    else out.append(link(match[1], match[2]));
  }
  out.append(unescape(text.slice(at)));
  return out;
}

function link(target, label) {
  if (target.startsWith("@")) return `@${userName(target.slice(1))}`;
  if (target.startsWith("#")) return `#${label || channelName(target.slice(1))}`;
  if (target.startsWith("!")) return `@${label || target.slice(1)}`;
  const ticket = /\/app\/ticket\/(\d+)$/.exec(target);
  if (ticket) return el("a", { href: `#ticket-${ticket[1]}` }, unescape(label || target));
  return unescape(label || target); // other links stay text: nothing here leaves the machine
}

function body(message) {
  const blocks = message.blocks || [];
  if (!blocks.length) return el("div", { class: "text" }, rich(message.text || ""));
  const parts = blocks.map((block) => {
    if (block.type === "divider") return el("hr");
    const texts = [block.text, ...(block.fields || []), ...(block.elements || [])]
      .filter((t) => t && typeof t.text === "string").map((t) => t.text);
    return el("div", { class: `block ${block.type}` }, rich(texts.join(block.fields ? "\n" : " · ")));
  });
  return el("div", { class: "text" }, ...parts);
}

async function send(kind, payload) {
  const response = await fetch(`/sandbox/api/${kind}`, {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ as: identity(), channel: view.channel, ...payload }),
  });
  const answer = await response.json();
  $("notice").textContent = response.ok ? "" : `${kind}: ${answer.error}`;
  await refresh();
  return answer;
}

function identity() {
  return document.querySelector("input[name=as]:checked").value;
}

function reactionButtons(message) {
  const me = view.state.people[identity()];
  const { create, resolve } = view.state.reactions;
  return [create, resolve].map((name) => {
    const mine = (message.reactions || []).some((r) => r.name === name && r.users.includes(me));
    const verb = mine ? "remove" : "add";
    return el("button", {
      type: "button", class: `react ${verb}`, title: `${verb} :${name}:`, "aria-label": `${verb} :${name}:`,
      onclick: () => send(mine ? "unreact" : "react", { ts: message.ts, name }),
    }, `${mine ? "−" : "+"}${emoji(name)}`);
  });
}

function messageItem(message, inThread) {
  const chips = (message.reactions || []).map((r) =>
    el("span", { class: "chip", title: r.users.map(userName).join(", ") }, `${emoji(r.name)} ${r.count}`));
  const item = el("li", { class: "message", "data-ts": message.ts },
    el("div", { class: "meta" }, el("strong", {}, message.user_name || "?"),
      el("time", {}, new Date(parseFloat(message.ts) * 1000).toLocaleTimeString())),
    body(message),
    el("div", { class: "reactions" }, ...chips),
    el("div", { class: "actions" }, ...reactionButtons(message)));
  if (inThread) return item;
  const open = view.open.has(message.ts);
  const count = (message.replies || []).length;
  const label = open ? "Hide thread" : count ? `${count} ${count === 1 ? "reply" : "replies"}` : "Reply";
  item.querySelector(".actions").append(el("button", {
    type: "button", class: "thread-toggle",
    onclick: () => { view.open[open ? "delete" : "add"](message.ts); render(); },
  }, label));
  if (open) item.append(thread(message));
  return item;
}

function thread(message) {
  const input = el("input", { "aria-label": "Reply in thread", "data-thread": message.ts, required: "" });
  const form = el("form", { class: "row reply", onsubmit: async (event) => {
    event.preventDefault();
    await send("post", { text: input.value, thread_ts: message.ts });
    input.value = "";
  } }, input, el("button", { type: "submit" }, "Reply"));
  return el("ol", { class: "thread" }, ...message.replies.map((r) => messageItem(r, true)), form);
}

function ephemeralItem(entry) {
  return el("li", { class: "message ephemeral" },
    el("div", { class: "meta" }, el("strong", {}, "ticketbolt"),
      el("span", { class: "muted" }, `Only visible to ${userName(entry.user)}`)),
    entry.command ? el("div", { class: "ran" }, `${userName(entry.user)} ran ${entry.command}`) : null,
    body(entry.command ? entry.answer : entry));
}

function renderSidebar(channels) {
  const item = (channel) => el("li", {}, el("button", {
    type: "button", class: channel.id === view.channel ? "current" : "",
    onclick: () => { view.channel = channel.id; render(); },
  }, channel.is_im ? `${channel.name.slice(1)} ↔ ticketbolt` : `# ${channel.name}`,
  channel.is_ext_shared ? el("span", { class: "muted" }, " (shared)") : null));
  $("channels").replaceChildren(...channels.filter((c) => !c.is_im).map(item));
  $("dms").replaceChildren(...channels.filter((c) => c.is_im).map(item));
}

function renderMessages(channel) {
  const list = $("messages");
  const atBottom = list.scrollTop + list.clientHeight >= list.scrollHeight - 40;
  const typed = [...list.querySelectorAll("input[data-thread]")].map((i) => [i.dataset.thread, i.value]);
  const focused = document.activeElement?.dataset?.thread;
  const commands = view.state.commands.filter((c) => c.channel === channel.id);
  const entries = [
    ...channel.messages.map((m) => ({ ts: m.ts, node: () => messageItem(m, false) })),
    ...channel.ephemeral.map((e) => ({ ts: e.message_ts, node: () => ephemeralItem(e) })),
    ...commands.map((c) => ({ ts: c.ts, node: () => ephemeralItem(c) })),
  ].sort(byTs);
  list.replaceChildren(...entries.map((e) => e.node()));
  for (const [ts, value] of typed) {
    const input = list.querySelector(`input[data-thread="${CSS.escape(ts)}"]`);
    if (input) input.value = value;
    if (input && ts === focused) input.focus();
  }
  if (atBottom) list.scrollTop = list.scrollHeight;
}

function renderTickets(tickets) {
  $("no-tickets").hidden = tickets.length > 0;
  $("tickets").replaceChildren(...tickets.slice().reverse().map((t) => el("li", { id: `ticket-${t.id}`, class: "ticket" },
    el("div", { class: "ticket-head" }, el("strong", {}, `#${t.id}`), " ", t.subject,
      el("span", { class: `status ${t.status}` }, t.status)),
    el("div", { class: "muted" }, `${t.customer} · ${t.tags.join(", ")}`),
    el("ol", { class: "ticket-messages" }, ...t.messages.map((m) => el("li", { class: m.from_agent ? "agent" : "customer" },
      el("strong", {}, m.sender || (m.from_agent ? "agent" : "customer")), el("p", {}, m.body)))))));
}

function render() {
  const { slack, tickets } = view.state;
  if (!slack.channels.some((c) => c.id === view.channel)) {
    view.channel = (slack.channels.find((c) => c.name === "support") || slack.channels[0]).id;
  }
  const channel = slack.channels.find((c) => c.id === view.channel);
  // In the DM the visitor can only be the customer who owns it.
  for (const radio of document.querySelectorAll("input[name=as]")) {
    radio.disabled = channel.is_im && radio.value !== "customer";
    if (channel.is_im && radio.value === "customer") radio.checked = true;
  }
  $("team").textContent = slack.team.name;
  $("channel-name").textContent = channel.is_im ? `${channel.name.slice(1)} ↔ ticketbolt` : `# ${channel.name}`;
  $("message-text").placeholder = `Message ${channel.is_im ? "the bot" : "#" + channel.name} as ${userName(view.state.people[identity()])}`;
  renderSidebar(slack.channels);
  renderMessages(channel);
  renderTickets(tickets);
}

async function refresh() {
  try {
    const raw = await (await fetch("/sandbox/api/state", { cache: "no-store" })).text();
    if (view.offline) $("notice").textContent = "";
    view.offline = false;
    if (raw === view.raw) return;
    view.raw = raw;
    view.state = JSON.parse(raw);
    render();
  } catch (error) {
    view.offline = true;
    $("notice").textContent = `The sandbox is not answering (${error.message}). Is it still running?`;
  }
}

$("composer").addEventListener("submit", async (event) => {
  event.preventDefault();
  const input = $("message-text");
  await send("post", { text: input.value });
  input.value = "";
});
$("command").addEventListener("submit", async (event) => {
  event.preventDefault();
  await send("command", { text: $("command-text").value });
  $("command-text").value = "";
});
for (const radio of document.querySelectorAll("input[name=as]")) {
  radio.addEventListener("change", () => view.state && render());
}

(async function poll() {
  await refresh();
  setTimeout(poll, 1000);
})();
