"use strict";
// A message's More actions menu (the app's message shortcuts) and the modal the app opens, which
// the visitor fills and submits. Both travel the signed path: the page asks the sandbox, the
// emulated Slack sends `message_action` / `view_submission` to the app and shows its answer.
import { $, el } from "./dom.js";
import { mrkdwn } from "./mrkdwn.js";

const shown = { key: null, errors: {} };

/** The ⋯ button of a message and, when open, its menu of the app's shortcuts. */
export function moreActions(message, page) {
  const open = page.menu === message.ts;
  const toggle = el("button", {
    type: "button", class: "more", title: "More actions", "aria-label": "More actions",
    "aria-haspopup": "menu", "aria-expanded": String(open),
    onclick: (event) => { event.stopPropagation(); page.setMenu(open ? null : message.ts); },
  }, "⋯");
  if (!open) return toggle;
  const items = page.state.shortcuts.map((shortcut) => el("li", { role: "none" }, el("button", {
    type: "button", role: "menuitem",
    onclick: async (event) => {
      event.stopPropagation();
      page.setMenu(null);
      await page.send("shortcut", { ts: message.ts, callback_id: shortcut.callback_id });
    },
  }, shortcut.name, el("span", { class: "muted" }, ` · ${page.state.slack.bot.name}`))));
  return el("span", { class: "more-wrap" }, toggle, el("ul", { class: "menu", role: "menu", "aria-label": "More actions" }, ...items));
}

/** Show the visitor's open modal (or close the dialog); typing survives the page's refreshes. */
export function renderModal(page) {
  const dialog = $("modal");
  const modal = page.state.modals[page.me()];
  if (!modal) {
    shown.key = null;
    if (dialog.open) dialog.close();
    return;
  }
  const key = `${modal.id}:${modal.hash}`;
  if (key !== shown.key) {
    shown.key = key;
    shown.errors = {};
    dialog.replaceChildren(form(modal, page));
  }
  if (!dialog.open) dialog.showModal();
}

function form(modal, page) {
  const fields = el("div", { class: "modal-body" }, ...modal.blocks.map((block) => blockNode(block, page)));
  const buttons = el("div", { class: "modal-buttons" },
    el("button", { type: "button", class: "secondary", onclick: () => page.send("close", { view_id: modal.id }) },
      modal.close?.text || "Cancel"),
    modal.submit ? el("button", { type: "submit" }, modal.submit.text) : null);
  return el("form", {
    class: "modal", "aria-labelledby": "modal-title",
    oninput: (event) => { const error = $(`${event.target.id}-error`); if (error) error.textContent = ""; },
    onsubmit: async (event) => {
      event.preventDefault();
      const values = Object.fromEntries(
        [...event.target.querySelectorAll("[data-block]")].map((input) => [input.dataset.block, input.value]));
      const { ok, answer } = await page.send("submit", { view_id: modal.id, values });
      if (ok) showErrors(event.target, answer.errors || {});
    },
  }, el("h2", { id: "modal-title" }, modal.title?.text || "Modal"), fields, buttons);
}

function blockNode(block, page) {
  if (block.type !== "input") {
    const texts = [block.text, ...(block.fields || []), ...(block.elements || [])].filter((t) => t && typeof t.text === "string");
    return el("div", { class: `block ${block.type}` }, ...texts.map((t) => t.type === "mrkdwn" ? mrkdwn(t.text, page.names) : t.text));
  }
  const element = block.element || {};
  const id = `modal-${block.block_id}`;
  const common = { id, "data-block": block.block_id, "aria-describedby": `${id}-error` };
  let input;
  if (element.type === "static_select") {
    input = el("select", common, ...(element.options || []).map((option) => el("option", {
      value: option.value, selected: element.initial_option?.value === option.value,
    }, option.text.text)));
  } else if (element.multiline) {
    input = el("textarea", { ...common, rows: 5, maxlength: element.max_length }, element.initial_value || "");
  } else {
    input = el("input", { ...common, maxlength: element.max_length, placeholder: element.placeholder?.text });
    input.value = element.initial_value || "";
  }
  return el("div", { class: "field" },
    el("label", { for: id }, block.label.text, block.optional ? el("span", { class: "muted" }, " (optional)") : null),
    input,
    block.hint ? el("div", { class: "hint muted" }, block.hint.text) : null,
    el("div", { id: `${id}-error`, class: "field-error", role: "alert" }));
}

// The app's `response_action: errors`: a message under each named field; the modal stays open.
function showErrors(formNode, errors) {
  for (const node of formNode.querySelectorAll(".field-error")) node.textContent = "";
  for (const [block, message] of Object.entries(errors)) {
    const node = $(`modal-${block}-error`);
    if (node) node.textContent = message;
  }
}
