"use strict";
// Slack mrkdwn as page elements: *bold*, _italics_, ~strike~, `code`, ```blocks```, <links|labels>,
// <@mentions>, <#channels>, <!date^…|fallback>, :emoji: and Slack's three entities.
// Safe by construction: the text is split by one pattern, and every piece of it is appended as a
// text node inside an element this file chose; nothing is ever parsed as HTML.
import { el } from "./dom.js";

const EMOJI = {
  ticket: "🎫", white_check_mark: "✅", heavy_check_mark: "✔️", eyes: "👀", warning: "⚠️",
  arrows_counterclockwise: "🔄", lock: "🔒", red_circle: "🔴", large_yellow_circle: "🟡",
  large_green_circle: "🟢", inbox_tray: "📥", hourglass_flowing_sand: "⏳", mag: "🔍",
  no_entry: "⛔", grey_question: "❔", bust_in_silhouette: "👤", wave: "👋", raising_hand: "🙋",
  x: "❌", tada: "🎉", star: "⭐", speech_balloon: "💬",
};
export const emoji = (name) => EMOJI[name] || `:${name}:`;

// Slack escapes exactly these three; `&amp;` last, so a typed `&lt;` stays `&lt;`.
export const decode = (s) => s.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");

// As in Slack (and integrations/slack/text.py), a marker opens after a non-word character and
// closes before one, so snake_case_names and 2*3*4 stay as typed; a <token> inside is taken whole.
const WORD = "\\p{L}\\p{N}_";
const span = (m, name) =>
  `(?<![${WORD}${m}])${m}(?=[^\\s${m}])(?<${name}>(?:<[^<>]*>|[^${m}<\\n])+?)(?<=[^\\s${m}])${m}(?![${WORD}${m}])`;
const MARKUP = new RegExp(
  "```(?<block>[\\s\\S]*?)```|`(?<code>[^`\\n]+)`|<(?<token>[^<>]*)>|:(?<emoji>[a-z0-9_+'-]+):|" +
  [span("\\*", "b"), span("_", "i"), span("~", "s")].join("|"),
  "gu",
);
const TOKEN = /<([^<>]*)>/g;

/** The nodes of `text`; `ctx` names people and channels: {user(id), channel(id), goto(id, ts)}. */
export function mrkdwn(text, ctx) {
  const out = document.createDocumentFragment();
  let at = 0;
  for (const match of text.matchAll(MARKUP)) {
    out.append(decode(text.slice(at, match.index)));
    at = match.index + match[0].length;
    const g = match.groups;
    if (g.block !== undefined) out.append(el("pre", {}, el("code", {}, plain(g.block.replace(/^\n|\n$/g, ""), ctx))));
    else if (g.code !== undefined) out.append(el("code", {}, plain(g.code, ctx)));
    else if (g.token !== undefined) out.append(token(g.token, ctx));
    else if (g.emoji !== undefined) out.append(emoji(g.emoji));
    else if (g.b !== undefined) out.append(el("strong", {}, mrkdwn(g.b, ctx)));
    else if (g.i !== undefined) out.append(el("em", {}, mrkdwn(g.i, ctx)));
    else out.append(el("del", {}, mrkdwn(g.s, ctx)));
  }
  out.append(decode(text.slice(at)));
  return out;
}

// Inside code, formatting marks are literal; tokens still read as what they stand for.
function plain(text, ctx) {
  return decode(text.replace(TOKEN, (_, inner) => token(inner, ctx).textContent));
}

function token(inner, ctx) {
  const bar = inner.indexOf("|");
  const [target, label] = bar < 0 ? [inner, ""] : [inner.slice(0, bar), inner.slice(bar + 1)];
  if (target.startsWith("@")) {
    return el("span", { class: "mention" }, `@${ctx.user(target.slice(1)) || decode(label) || target.slice(1)}`);
  }
  if (target.startsWith("#")) return channelRef(target.slice(1), decode(label), ctx);
  if (target.startsWith("!")) return special(target.slice(1), decode(label));
  return link(target, label, ctx);
}

function channelRef(id, label, ctx) {
  const name = ctx.channel(id);
  const text = `#${name || label || id}`;
  if (!name) return el("span", { class: "channel-ref" }, text);
  return el("a", { href: "#", class: "channel-ref", onclick: (event) => { event.preventDefault(); ctx.goto(id); } }, text);
}

function special(command, label) {
  if (["here", "channel", "everyone"].includes(command)) return el("span", { class: "mention" }, `@${command}`);
  if (command.startsWith("subteam^")) return el("span", { class: "mention" }, label || `@${command.slice(8)}`);
  if (command.startsWith("date^")) return date(command, label);
  return label || `@${command}`;
}

// <!date^1392734382^{date_short} at {time}^optional_link|fallback>, in the visitor's time zone.
function date(command, fallback) {
  const [, seconds, format = "", href] = command.split("^");
  const moment = new Date(Number(seconds) * 1000);
  if (!/^-?\d+$/.test(seconds || "") || Number.isNaN(moment.getTime())) return fallback || command;
  const text = format.replace(/\{(\w+)\}/g, (whole, name) => dateWord(moment, name) ?? whole);
  const node = el("time", { datetime: moment.toISOString(), title: fallback || moment.toString() }, text);
  return href ? link(href, "", {}, node) : node;
}

function dateWord(moment, name) {
  const on = (options) => moment.toLocaleDateString("en-US", options);
  const long = { month: "long", day: "numeric", year: "numeric" };
  const short = { month: "short", day: "numeric", year: "numeric" };
  const days = Math.round((startOfDay(moment) - startOfDay(new Date())) / 86_400_000);
  const pretty = (options) => ({ 0: "today", [-1]: "yesterday", 1: "tomorrow" })[days] ?? on(options);
  const words = {
    date_num: () => moment.toISOString().slice(0, 10),
    date: () => on(long),
    date_short: () => on(short),
    date_long: () => on({ weekday: "long", ...long }),
    date_pretty: () => pretty(long),
    date_short_pretty: () => pretty(short),
    date_long_pretty: () => pretty({ weekday: "long", ...long }),
    time: () => moment.toLocaleTimeString("en-US", { hour: "numeric", minute: "2-digit" }),
    time_secs: () => moment.toLocaleTimeString("en-US"),
    ago: () => ago(moment),
  };
  return words[name]?.();
}

function startOfDay(moment) {
  return new Date(moment.getFullYear(), moment.getMonth(), moment.getDate()).getTime();
}

function ago(moment) {
  const seconds = Math.round((moment.getTime() - Date.now()) / 1000);
  const format = new Intl.RelativeTimeFormat("en", { numeric: "auto" });
  for (const [unit, size] of [["year", 31_536_000], ["month", 2_592_000], ["day", 86_400], ["hour", 3_600], ["minute", 60]]) {
    if (Math.abs(seconds) >= size) return format.format(Math.round(seconds / size), unit);
  }
  return format.format(seconds, "second");
}

// Gorgias ticket links and Slack permalinks lead to this page; web and mail links to a new tab.
function link(target, label, ctx, content) {
  const url = decode(target);
  const text = content || decode(label || target).replace(/^mailto:/, "");
  const ticket = /\/app\/ticket\/(\d+)$/.exec(url);
  if (ticket) return el("a", { href: `#ticket-${ticket[1]}`, class: "ticket-link" }, text);
  const permalink = /\/archives\/([A-Z0-9]+)\/p(\d{10})(\d{6})/.exec(url);
  if (permalink && ctx.goto) {
    const ts = `${permalink[2]}.${permalink[3]}`;
    return el("a", { href: "#", onclick: (event) => { event.preventDefault(); ctx.goto(permalink[1], ts); } }, text);
  }
  if (/^(https?|mailto):/i.test(url)) return el("a", { href: url, target: "_blank", rel: "noopener noreferrer" }, text);
  return text;
}
