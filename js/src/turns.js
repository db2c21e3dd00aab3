// The conversation log: one DOM node per turn, keyed by the turn's id, rebuilt only when that
// turn's synced data changes. A streaming assistant turn shows its text as one growing text node;
// Markdown is rendered once, when the kernel sets the final text.
import { h, copyButton, thumbnail } from "./dom.js";
import { renderMarkdown } from "./markdown.js";

function attachmentsRow(attachments) {
  if (!attachments || !attachments.length) return null;
  return h(
    "div",
    { class: "snw-attachments" },
    attachments.map((item) => {
      const label = item.label || item.kind || "attachment";
      return h(
        "figure",
        { class: `snw-attachment snw-kind-${item.kind === "video" ? "video" : "image"}`, title: label },
        thumbnail(item.thumb, label, item.kind),
        h("figcaption", {}, label),
      );
    }),
  );
}

function usageLine(usage) {
  if (!usage) return null;
  const parts = [];
  if (usage.prompt_tokens !== undefined) parts.push(`prompt ${usage.prompt_tokens}`);
  if (usage.completion_tokens !== undefined) parts.push(`completion ${usage.completion_tokens}`);
  if (usage.total_tokens !== undefined) parts.push(`total ${usage.total_tokens}`);
  return parts.length ? h("div", { class: "snw-usage" }, `Tokens: ${parts.join(" · ")}`) : null;
}

/** Add a copy button to each code block of rendered Markdown. */
function decorateCodeBlocks(body) {
  for (const pre of body.querySelectorAll("pre")) {
    const code = pre.querySelector("code");
    const wrap = h("div", { class: "snw-code" });
    pre.replaceWith(wrap);
    wrap.appendChild(copyButton(() => (code ? code.textContent : pre.textContent), "Copy code"));
    wrap.appendChild(pre);
  }
}

/**
 * Build the node of one turn. `ctx` carries the actions: {isLastUser, isLastAssistant, busy,
 * onEdit, onRegenerate, onRetry}.
 */
export function renderTurn(turn, ctx) {
  const role = turn.role === "user" ? "user" : "assistant";
  const node = h("article", {
    class: `snw-turn snw-${role} snw-status-${turn.status || "done"}`,
    "data-turn-id": turn.id,
    "aria-label": role === "user" ? "Your message" : "Reply",
  });
  const who = role === "user" ? "You" : `SenseNova${turn.model ? ` · ${turn.model}` : ""}`;
  node.appendChild(h("header", { class: "snw-turn-header" }, who));
  const att = attachmentsRow(turn.attachments);
  if (att) node.appendChild(att);

  const body = h("div", { class: "snw-body" });
  if (role === "user") {
    body.classList.add("snw-plain");
    body.textContent = turn.text || "";
  } else if (turn.status === "streaming") {
    body.classList.add("snw-plain", "snw-streaming");
    body.appendChild(document.createTextNode(turn.text || ""));
  } else {
    body.classList.add("snw-markdown");
    body.innerHTML = renderMarkdown(turn.text || ""); // safe: raw HTML is escaped by markdown-it
    decorateCodeBlocks(body);
  }
  node.appendChild(body);

  if (role === "assistant") {
    for (const text of [turn.notice, ...(turn.omitted || [])]) {
      if (text) node.appendChild(h("div", { class: "snw-notice", role: "note" }, text));
    }
    if (turn.error) {
      const errorBox = h("div", { class: "snw-error", role: "alert" }, h("span", {}, turn.error));
      if (ctx.isLastAssistant && !ctx.busy && turn.retry !== false) {
        errorBox.appendChild(h("button", { class: "snw-button snw-retry", type: "button", onclick: ctx.onRetry }, "Retry"));
      }
      node.appendChild(errorBox);
    }
    const usage = usageLine(turn.usage);
    if (usage) node.appendChild(usage);
  }

  if (turn.status !== "streaming") {
    const actions = h("div", { class: "snw-actions" });
    if (role === "assistant" && turn.text) actions.appendChild(copyButton(() => turn.text, "Copy reply"));
    if (role === "assistant" && ctx.isLastAssistant && !ctx.busy && !turn.error) {
      actions.appendChild(h("button", { class: "snw-button snw-regenerate", type: "button", onclick: ctx.onRegenerate }, "Regenerate"));
    }
    if (role === "user" && ctx.isLastUser && !ctx.busy) {
      actions.appendChild(h("button", { class: "snw-button snw-edit", type: "button", onclick: ctx.onEdit }, "Edit"));
    }
    if (actions.childNodes.length) node.appendChild(actions);
  }
  return node;
}

function lastIndexOf(turns, role) {
  for (let i = turns.length - 1; i >= 0; i--) if (turns[i].role === role) return i;
  return -1;
}

/** What a turn's node depends on: rebuild it only when this changes. */
function signature(turn, ctx) {
  return JSON.stringify([turn, ctx.isLastUser, ctx.isLastAssistant, ctx.busy]);
}

/** The last user turn that reached the service (one refused before sending is skipped): the one
 * Edit and Regenerate act on, as the kernel does. -1 when there is none. */
export function lastSentUserIndex(turns) {
  return lastIndexOf(turns.map((t) => (t.sent === false ? {} : t)), "user");
}

function contexts(turns, actions, busy) {
  const lastUser = lastSentUserIndex(turns);
  const lastAssistant = lastIndexOf(turns, "assistant");
  return turns.map((turn, i) => ({
    ...actions,
    busy,
    isLastUser: i === lastUser,
    isLastAssistant: i === lastAssistant,
  }));
}

/** Keyed, incremental rendering of the log: what the panel uses. */
export class TurnList {
  constructor(container, actions) {
    this.container = container;
    this.actions = actions;
    this.nodes = new Map(); // id -> {sig, node}
  }

  update(turns, busy) {
    const ctxs = contexts(turns, this.actions, busy);
    const keep = new Set();
    let previous = null;
    turns.forEach((turn, i) => {
      keep.add(turn.id);
      const sig = signature(turn, ctxs[i]);
      let entry = this.nodes.get(turn.id);
      if (!entry || entry.sig !== sig) {
        const node = renderTurn(turn, ctxs[i]);
        if (entry) entry.node.replaceWith(node);
        entry = { sig, node };
        this.nodes.set(turn.id, entry);
      }
      const expected = previous ? previous.nextSibling : this.container.firstChild;
      if (expected !== entry.node) this.container.insertBefore(entry.node, expected);
      previous = entry.node;
    });
    for (const [id, entry] of this.nodes) {
      if (!keep.has(id)) {
        entry.node.remove();
        this.nodes.delete(id);
      }
    }
  }

  /** Append streamed text to a turn; `offset` guards against a gap (the final text mends it). */
  appendDelta(turnId, offset, text) {
    const entry = this.nodes.get(turnId);
    if (!entry) return false;
    const body = entry.node.querySelector(".snw-streaming");
    if (!body) return false;
    const have = body.textContent.length;
    if (offset !== undefined && offset !== have) return false;
    if (body.lastChild && body.lastChild.nodeType === Node.TEXT_NODE) body.lastChild.appendData(text);
    else body.appendChild(document.createTextNode(text));
    return true;
  }
}

/** The naive way, for the benchmark's baseline: throw the whole log away and rebuild it. */
export function renderAllTurns(container, turns, actions, busy) {
  const ctxs = contexts(turns, actions, busy);
  container.replaceChildren(...turns.map((turn, i) => renderTurn(turn, ctxs[i])));
}
