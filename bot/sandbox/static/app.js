"use strict";
// The sandbox page: renders GET /sandbox/api/state every second and sends the visitor's actions.
// All user text goes through text nodes (dom.js, mrkdwn.js), never through innerHTML.
import { $, el } from "./dom.js";
import { emoji, mrkdwn } from "./mrkdwn.js";
import { moreActions, renderModal } from "./modal.js";

const view = {
  channel: null, open: new Set(), state: null, raw: "", offline: false,
  drafts: new Map(), // thread ts → what the visitor is typing in its reply box
  menu: null, // the ts of the message whose More actions menu is open
};
const byTs = (a, b) => a.ts.localeCompare(b.ts, "en", { numeric: true });

function userName(id) {
  const user = view.state.slack.users.find((u) => u.id === id);
  return user ? user.display_name : id;
}

function findChannel(id) {
  return view.state.slack.channels.find((c) => c.id === id);
}

const names = {
  user: (id) => view.state.slack.users.find((u) => u.id === id)?.display_name,
  channel: (id) => findChannel(id)?.name,
  goto: (id, ts) => goto(id, ts),
};
// What modal.js needs of the page.
const page = {
  get state() { return view.state; },
  get menu() { return view.menu; },
  setMenu(ts) { view.menu = ts; render(); },
  send,
  me: () => view.state.people[identity()],
  names,
};

// A message's buttons and user pickers: the click reaches the app as a signed block_actions.
function control(element, message) {
  const click = (extra) => send("click", { ts: message.ts, action_id: element.action_id, ...extra });
  if (element.type === "button") {
    return el("button", { type: "button", class: "block-button", onclick: () => click({}) }, element.text?.text || "");
  }
  if (element.type !== "users_select") return null;
  const label = element.placeholder?.text || "Pick someone";
  const people = view.state.slack.users.filter((u) => !u.is_bot);
  return el("select", {
    class: "block-select", "aria-label": label,
    onchange: (event) => event.target.value && click({ selected_user: event.target.value }),
  }, el("option", { value: "", selected: true }, label),
  ...people.map((u) => el("option", { value: u.id }, u.display_name)));
}

function body(message) {
  const blocks = message.blocks || [];
  if (!blocks.length) return el("div", { class: "text" }, mrkdwn(message.text || "", names));
  const parts = blocks.map((block) => {
    if (block.type === "divider") return el("hr");
    if (block.type === "actions" && message.ts) {
      return el("div", { class: "block actions" }, ...(block.elements || []).map((e) => control(e, message)));
    }
    const texts = [block.text, ...(block.fields || []), ...(block.elements || [])]
      .filter((t) => t && typeof t.text === "string").map((t) => t.text);
    return el("div", { class: `block ${block.type}` }, mrkdwn(texts.join(block.fields ? "\n" : " · "), names));
  });
  return el("div", { class: "text" }, ...parts);
}

/** POST an action; `{ok, answer}`, with the sandbox's refusal shown in the notice line. */
async function send(kind, payload) {
  let ok = false, answer = {};
  try {
    const response = await fetch(`/sandbox/api/${kind}`, {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ as: identity(), channel: view.channel, ...payload }),
    });
    answer = await response.json();
    ok = response.ok;
    $("notice").textContent = ok ? "" : `${kind}: ${answer.error}`;
  } catch (error) {
    $("notice").textContent = `${kind}: the sandbox did not answer (${error.message})`;
  }
  await refresh();
  return { ok, answer };
}

function identity() {
  return document.querySelector("input[name=as]:checked").value;
}

function reactionButtons(message) {
  const me = view.state.people[identity()];
  const { create, resolve, claim } = view.state.reactions;
  return [create, resolve, claim].map((name) => {
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
  const actions = el("div", { class: "actions" }, ...reactionButtons(message));
  const item = el("li", { class: "message", "data-ts": message.ts },
    el("div", { class: "meta" }, el("strong", {}, message.user_name || "?"),
      el("time", {}, new Date(parseFloat(message.ts) * 1000).toLocaleTimeString())),
    body(message),
    el("div", { class: "reactions" }, ...chips),
    actions);
  if (!inThread) {
    const open = view.open.has(message.ts);
    const count = (message.replies || []).length;
    const label = open ? "Hide thread" : count ? `${count} ${count === 1 ? "reply" : "replies"}` : "Reply";
    actions.append(el("button", {
      type: "button", class: "thread-toggle",
      onclick: () => { view.open[open ? "delete" : "add"](message.ts); render(); },
    }, label));
  }
  actions.append(moreActions(message, page));
  if (!inThread && view.open.has(message.ts)) item.append(thread(message));
  return item;
}

function thread(message) {
  const ts = message.ts;
  const input = el("input", {
    "aria-label": "Reply in thread", "data-thread": ts, required: true, autocomplete: "off",
    placeholder: `Reply as ${userName(view.state.people[identity()])}…`,
    oninput: () => view.drafts.set(ts, input.value),
  });
  input.value = view.drafts.get(ts) || "";
  const form = el("form", { class: "row reply", onsubmit: async (event) => {
    event.preventDefault();
    await post(input.value, { thread_ts: ts }, (text) => {
      view.drafts.set(ts, text);
      const live = $("messages").querySelector(`input[data-thread="${CSS.escape(ts)}"]`);
      if (live && !live.value) live.value = text;
    });
  } }, input, el("button", { type: "submit" }, "Reply"));
  return el("ol", { class: "thread" }, ...message.replies.map((r) => messageItem(r, true)), form);
}

// Sent text leaves its box at once, as in Slack, so a second click cannot post it twice; a
// refused post puts it back.
async function post(text, where, restore) {
  view.drafts.delete(where.thread_ts);
  const box = where.thread_ts ? null : $("message-text");
  if (box) box.value = "";
  const live = where.thread_ts && $("messages").querySelector(`input[data-thread="${CSS.escape(where.thread_ts)}"]`);
  if (live) live.value = "";
  const { ok } = await send("post", { text, ...where });
  if (!ok) restore(text);
}

function ephemeralItem(entry) {
  return el("li", { class: "message ephemeral" },
    el("div", { class: "meta" }, el("strong", {}, "ticketbolt"),
      el("span", { class: "muted" }, `Only visible to ${userName(entry.user)}`)),
    entry.command ? el("div", { class: "ran" }, `${userName(entry.user)} ran ${entry.command}`) : null,
    body(entry.command ? entry.answer : entry));
}

function channelLabel(channel) {
  return channel.is_im ? `${channel.name.slice(1)} ↔ ticketbolt` : `# ${channel.name}`;
}

function renderSidebar(channels) {
  const item = (channel) => el("li", {}, el("button", {
    type: "button", class: channel.id === view.channel ? "current" : "",
    onclick: () => goto(channel.id),
  }, channelLabel(channel), channel.is_ext_shared ? el("span", { class: "muted" }, " (shared)") : null));
  $("channels").replaceChildren(...channels.filter((c) => !c.is_im).map(item));
  $("dms").replaceChildren(...channels.filter((c) => c.is_im).map(item));
}

function renderMessages(channel) {
  const list = $("messages");
  const atBottom = list.scrollTop + list.clientHeight >= list.scrollHeight - 40;
  const focused = document.activeElement?.dataset?.thread;
  const commands = view.state.commands.filter((c) => c.channel === channel.id);
  const entries = [
    ...channel.messages.map((m) => ({ ts: m.ts, node: () => messageItem(m, false) })),
    ...channel.ephemeral.map((e) => ({ ts: e.message_ts, node: () => ephemeralItem(e) })),
    ...commands.map((c) => ({ ts: c.ts, node: () => ephemeralItem(c) })),
  ].sort(byTs);
  list.replaceChildren(...entries.map((e) => e.node()));
  if (focused) list.querySelector(`input[data-thread="${CSS.escape(focused)}"]`)?.focus();
  if (atBottom) list.scrollTop = list.scrollHeight;
}

function renderTickets(tickets) {
  $("no-tickets").hidden = tickets.length > 0;
  $("ticket-count").textContent = tickets.length ? `(${tickets.length})` : "";
  $("tickets").replaceChildren(...tickets.slice().reverse().map((t) => el("li", { id: `ticket-${t.id}`, class: "ticket" },
    el("div", { class: "ticket-head" }, el("strong", {}, `#${t.id}`), " ", t.subject,
      el("span", { class: `status ${t.status}` }, t.status)),
    el("div", { class: "muted" }, `${t.customer} · ${t.tags.join(", ")}`),
    el("div", { class: "assignee muted" }, t.assignee ? `Assigned to ${t.assignee}` : "Unassigned"),
    el("ol", { class: "ticket-messages" }, ...t.messages.map((m) => el("li", { class: m.from_agent ? "agent" : "customer" },
      el("strong", {}, m.sender || (m.from_agent ? "agent" : "customer")), el("p", {}, m.body)))))));
}

function render() {
  const { slack, tickets } = view.state;
  if (!slack.channels.some((c) => c.id === view.channel)) {
    view.channel = (slack.channels.find((c) => c.name === "support") || slack.channels[0]).id;
  }
  const channel = findChannel(view.channel);
  // In the DM the visitor can only be the customer who owns it.
  for (const radio of document.querySelectorAll("input[name=as]")) {
    radio.disabled = channel.is_im && radio.value !== "customer";
    if (channel.is_im && radio.value === "customer") radio.checked = true;
  }
  $("team").textContent = slack.team.name;
  $("channel-name").textContent = channelLabel(channel);
  $("message-text").placeholder = `Message ${channel.is_im ? "the bot" : "#" + channel.name} as ${userName(view.state.people[identity()])}`;
  renderSidebar(slack.channels);
  renderMessages(channel);
  renderTickets(tickets);
  renderModal(page);
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

// -- narrow screens: the channel list and the Gorgias panel are drawers over the conversation --

function drawer(name, open) {
  for (const other of ["sidebar", "gorgias"]) {
    const shown = other === name && open;
    document.body.classList.toggle(`show-${other}`, shown);
    $(`toggle-${other}`).setAttribute("aria-expanded", String(shown));
  }
}

function goto(channelId, ts) {
  if (!findChannel(channelId)) return;
  view.channel = channelId;
  drawer(null, false);
  render();
  const target = ts && $("messages").querySelector(`li[data-ts="${CSS.escape(ts)}"]`);
  if (target) {
    target.scrollIntoView({ block: "center" });
    target.classList.add("flash");
  }
}

$("toggle-sidebar").addEventListener("click", () => drawer("sidebar", !document.body.classList.contains("show-sidebar")));
$("toggle-gorgias").addEventListener("click", () => drawer("gorgias", !document.body.classList.contains("show-gorgias")));
$("scrim").addEventListener("click", () => drawer(null, false));
document.addEventListener("click", (event) => {
  if (event.target.closest?.("a.ticket-link")) drawer("gorgias", true);
  if (view.menu !== null && !event.target.closest?.(".more-wrap")) page.setMenu(null);
});
document.addEventListener("keydown", (event) => {
  if (event.key !== "Escape") return;
  drawer(null, false);
  if (view.menu !== null) page.setMenu(null);
});
// Escape in a modal is its Cancel: the emulated Slack closes it, not only the page.
$("modal").addEventListener("cancel", (event) => {
  event.preventDefault();
  const modal = view.state?.modals[page.me()];
  if (modal) send("close", { view_id: modal.id });
});

$("composer").addEventListener("submit", async (event) => {
  event.preventDefault();
  await post($("message-text").value, {}, (text) => {
    if (!$("message-text").value) $("message-text").value = text;
  });
});
$("command").addEventListener("submit", async (event) => {
  event.preventDefault();
  const box = $("command-text"), line = box.value;
  box.value = "";
  const { ok } = await send("command", { text: line });
  if (!ok && !box.value) box.value = line;
});
for (const radio of document.querySelectorAll("input[name=as]")) {
  radio.addEventListener("change", () => view.state && render());
}

(async function poll() {
  await refresh();
  setTimeout(poll, 1000);
})();
