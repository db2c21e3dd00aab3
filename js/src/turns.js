// The conversation log: one DOM node per turn, keyed by the turn's id, rebuilt only when that
// turn's synced data changes. A streaming assistant turn shows its text as one growing text node;
// Markdown is rendered once, when the kernel sets the final text. When many turns arrive at once
// (a saved notebook reopened, a long conversation set from code) only the last few are rendered
// as Markdown at once; older replies show their plain text until the browser is idle or they
// scroll near the view, so a long log appears in the time a short one takes.
import { h, copyButton, thumbnail } from "./dom.js";
import { insertButton } from "./notebook.js";
import { renderMarkdown } from "./markdown.js";

/** @typedef {import("./types").Turn} Turn */
/** @typedef {import("./types").Attachment} Attachment */
/** @typedef {import("./types").TurnActions} TurnActions */
/** @typedef {import("./types").TurnContext} TurnContext */

/** Turns rendered as Markdown at once when many arrive together; older ones wait (see above). */
export const EAGER_TURNS = 12;

/** @param {Attachment[] | undefined} attachments */
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
        thumbnail(item.thumb, label, item.kind, true),
        h("figcaption", {}, label),
      );
    }),
  );
}

/** @param {import("./types").Usage | null | undefined} usage */
function usageLine(usage) {
  if (!usage) return null;
  const parts = [];
  if (usage.prompt_tokens !== undefined) parts.push(`prompt ${usage.prompt_tokens}`);
  if (usage.completion_tokens !== undefined) parts.push(`completion ${usage.completion_tokens}`);
  if (usage.total_tokens !== undefined) parts.push(`total ${usage.total_tokens}`);
  return parts.length ? h("div", { class: "snw-usage" }, `Tokens: ${parts.join(" · ")}`) : null;
}

/**
 * An error as a person reads it: what happened and what to do (the kernel's message and advice),
 * and apart, on demand, its kind and the service's status, code and request id.
 * "RateLimitError: Too many requests (status 429, code 8, request id abc). Wait a minute." ->
 * {text: "Too many requests. Wait a minute.", details: "RateLimitError · status 429, code 8, request id abc"}
 * @param {string} error
 * @returns {{text: string, details: string}}
 */
export function errorParts(error) {
  const kind = /^([A-Z][A-Za-z]*(?:Error|Exception)): ([\s\S]*)$/.exec(error);
  let text = kind ? kind[2] : error;
  let facts = "";
  text = text.replace(/ \(((?:status|code|request id) [^()]*)\)/, (_, found) => {
    facts = found;
    return "";
  });
  const details = [kind ? kind[1] : "", facts].filter(Boolean).join(" · ");
  return { text: text.charAt(0).toUpperCase() + text.slice(1), details };
}

/**
 * Give each code block of rendered Markdown its Copy and Insert (a new cell below the panel's) buttons.
 * @param {HTMLElement} body
 */
function decorateCodeBlocks(body) {
  for (const pre of body.querySelectorAll("pre")) {
    const code = pre.querySelector("code");
    const text = () => (code ? code.textContent : pre.textContent) || "";
    const wrap = h("div", { class: "snw-code" });
    pre.replaceWith(wrap);
    wrap.append(h("div", { class: "snw-code-actions" }, copyButton(text, "Copy code"), insertButton(text)), pre);
  }
}

/**
 * Render `text` as Markdown into a reply's body (what a deferred body becomes).
 * @param {HTMLElement} body
 * @param {string} text
 */
export function fillMarkdown(body, text) {
  body.className = "snw-body snw-markdown";
  body.innerHTML = renderMarkdown(text); // safe: raw HTML is escaped by markdown-it
  decorateCodeBlocks(body);
}

/**
 * "Thinking…" while the reasoning arrives, "Thought for N s" once the answer began.
 * @param {number | null | undefined} seconds
 */
export function thoughtLabel(seconds) {
  return seconds === null || seconds === undefined ? "Thinking…" : `Thought for ${Math.max(1, Math.round(seconds))} s`;
}

/**
 * The collapsible section of a reply's reasoning, above the answer: while streaming an empty,
 * hidden one that `appendReasoning` opens; after, closed, its Markdown rendered safely.
 * @param {Turn} turn
 * @returns {HTMLElement | null}
 */
function reasoningSection(turn) {
  const streaming = turn.status === "streaming";
  if (!streaming && !turn.reasoning) return null;
  const body = h("div", { class: "snw-reasoning-body snw-plain" });
  const details = h(
    "details",
    { class: "snw-reasoning", "data-started": String(performance.now()) },
    h("summary", {}, thoughtLabel(streaming ? null : turn.thought_seconds ?? 0)),
    body,
  );
  if (streaming) {
    details.hidden = true;
    body.textContent = turn.reasoning || "";
  } else {
    body.className = "snw-reasoning-body snw-markdown";
    body.innerHTML = renderMarkdown(turn.reasoning || ""); // safe: raw HTML is escaped by markdown-it
  }
  return details;
}

/**
 * Build the node of one turn. `ctx` carries the actions: {isLastUser, isLastAssistant, busy,
 * onEdit, onRegenerate, onRetry} and whether to defer the Markdown.
 * @param {Turn} turn
 * @param {TurnContext} ctx
 * @returns {HTMLElement}
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

  const reasoning = role === "assistant" ? reasoningSection(turn) : null;
  if (reasoning) node.appendChild(reasoning);
  const body = h("div", { class: "snw-body" });
  if (role === "user") {
    body.classList.add("snw-plain");
    body.textContent = turn.text || "";
  } else if (turn.status === "streaming") {
    body.classList.add("snw-plain", "snw-streaming"); // empty until the first piece: "Waiting for the reply"
    if (turn.text) body.appendChild(document.createTextNode(turn.text));
  } else if (ctx.deferMarkdown) {
    body.classList.add("snw-plain", "snw-markdown-pending");
    body.textContent = turn.text || "";
  } else {
    fillMarkdown(body, turn.text || "");
  }
  node.appendChild(body);

  const index = typeof turn.turn === "number" ? turn.turn : null;
  if (role === "user" && turn.refused) {
    node.appendChild(h("div", { class: "snw-notice snw-refused-note", role: "note" }, "Not sent again: edit it to ask anew."));
  }
  if (role === "assistant") {
    for (const text of [turn.notice, ...(turn.omitted || [])]) {
      if (text) node.appendChild(h("div", { class: "snw-notice", role: "note" }, text));
    }
    if (turn.error) {
      const refused = turn.status === "refused";
      const { text, details } = errorParts(turn.error);
      const errorBox = h(
        "div",
        { class: `snw-error${refused ? " snw-refused" : ""}`, role: "alert" },
        h("span", { class: "snw-error-text" }, refused ? `Refused: ${text}` : text),
        details ? h("details", { class: "snw-error-details" }, h("summary", {}, "Details"), details) : null,
      );
      if (refused && index !== null && !ctx.busy) {
        errorBox.appendChild(
          h("button", { class: "snw-button snw-edit-refused", type: "button", onclick: () => ctx.onEdit(index) }, "Edit message"),
        );
      } else if (ctx.isLastAssistant && !ctx.busy && turn.retry !== false && index !== null) {
        errorBox.appendChild(
          h("button", { class: "snw-button snw-retry", type: "button", onclick: () => ctx.onRetry(index) }, "Retry"),
        );
      }
      node.appendChild(errorBox);
    }
    const usage = usageLine(turn.usage);
    if (usage) node.appendChild(usage);
  }

  if (turn.status !== "streaming") {
    const actions = h("div", { class: "snw-actions" });
    const alternatives = role === "assistant" && index !== null ? alternativesNav(turn, index, ctx) : null;
    if (alternatives) actions.appendChild(alternatives);
    if (role === "assistant" && turn.text) actions.appendChild(copyButton(() => turn.text || "", "Copy reply"));
    if (role === "assistant" && ctx.isLastAssistant && !ctx.busy && !turn.error && index !== null) {
      actions.appendChild(
        h("button", { class: "snw-button snw-regenerate", type: "button", onclick: () => ctx.onRegenerate(index) }, "Regenerate"),
      );
    }
    if (role === "user" && index !== null && !ctx.busy) {
      const label = ctx.isLastUser ? "Edit" : "Edit (forks here)";
      actions.appendChild(
        h("button", { class: "snw-button snw-edit", type: "button", title: label, onclick: () => ctx.onEdit(index) }, "Edit"),
      );
    }
    if (actions.childNodes.length) node.appendChild(actions);
  }
  return node;
}

/**
 * `< 2/3 >`: flip through the answers a regenerated turn keeps (null when it has one).
 * @param {Turn} turn
 * @param {number} index
 * @param {TurnContext} ctx
 */
function alternativesNav(turn, index, ctx) {
  const count = turn.answers || 1;
  if (count < 2) return null;
  const chosen = turn.chosen || 0;
  /** @param {string} label @param {string} text @param {number} to */
  const step = (label, text, to) =>
    h(
      "button",
      {
        class: "snw-button snw-alt",
        type: "button",
        "aria-label": label,
        disabled: ctx.busy || to < 0 || to >= count,
        onclick: () => ctx.onChoose(index, to),
      },
      text,
    );
  return h(
    "span",
    { class: "snw-alternatives", role: "group", "aria-label": "Answers" },
    step("Previous answer", "‹", chosen - 1),
    h("span", { class: "snw-alt-count" }, `${chosen + 1}/${count}`),
    step("Next answer", "›", chosen + 1),
  );
}

/**
 * @param {Turn[]} turns
 * @param {string} role
 */
function lastIndexOf(turns, role) {
  for (let i = turns.length - 1; i >= 0; i--) if (turns[i].role === role) return i;
  return -1;
}

/**
 * What a turn's node depends on: rebuild it only when this changes.
 * @param {Turn} turn
 * @param {TurnContext} ctx
 */
function signature(turn, ctx) {
  return JSON.stringify([turn, ctx.isLastUser, ctx.isLastAssistant, ctx.busy]);
}

/** The last user message the conversation holds (one refused before sending, never recorded, is
 * skipped): the one Up edits. -1 when there is none.
 * @param {Turn[]} turns
 */
export function lastSentUserIndex(turns) {
  for (let i = turns.length - 1; i >= 0; i--) if (turns[i].role === "user" && typeof turns[i].turn === "number") return i;
  return -1;
}

/**
 * @param {Turn[]} turns
 * @param {TurnActions} actions
 * @param {boolean} busy
 * @returns {TurnContext[]}
 */
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

/** @typedef {{sig: string, node: HTMLElement}} Entry */

/** Keyed, incremental rendering of the log: what the panel uses. */
export class TurnList {
  /**
   * @param {HTMLElement} container
   * @param {TurnActions} actions
   */
  constructor(container, actions) {
    this.container = container;
    this.actions = actions;
    /** @type {Map<string, Entry>} */
    this.nodes = new Map(); // id -> {sig, node}
    /** @type {Map<HTMLElement, string>} bodies whose Markdown waits, with their text */
    this.pending = new Map();
    this.idleQueued = false;
    /** @type {IntersectionObserver | null} */
    this.observer = null;
  }

  /**
   * Bring the log in line with `turns`: build the nodes whose data changed, insert new ones in
   * one DocumentFragment per run, drop the nodes of turns that are gone.
   * @param {Turn[]} turns
   * @param {boolean} busy
   */
  update(turns, busy) {
    const ctxs = contexts(turns, this.actions, busy);
    const fresh = turns.filter((turn) => !this.nodes.has(turn.id)).length;
    const eagerFrom = fresh > EAGER_TURNS ? turns.length - EAGER_TURNS : 0;
    const keep = new Set();
    /** @type {HTMLElement[]} */
    const wanted = [];
    turns.forEach((turn, i) => {
      keep.add(turn.id);
      const sig = signature(turn, ctxs[i]);
      let entry = this.nodes.get(turn.id);
      if (!entry || entry.sig !== sig) {
        const node = renderTurn(turn, { ...ctxs[i], deferMarkdown: i < eagerFrom });
        if (entry) entry.node.replaceWith(node);
        entry = { sig, node };
        this.nodes.set(turn.id, entry);
        if (i < eagerFrom) this.defer(node, turn.text || "");
      }
      wanted.push(entry.node);
    });
    for (const [id, entry] of this.nodes) {
      if (!keep.has(id)) {
        entry.node.remove();
        this.nodes.delete(id);
      }
    }
    this.place(wanted);
    if (this.pending.size) this.queueIdle();
  }

  /**
   * Put `wanted` in order in the container, moving as few nodes as it can and inserting each run
   * of new or moved nodes at once.
   * @param {HTMLElement[]} wanted
   */
  place(wanted) {
    const batch = document.createDocumentFragment();
    let cursor = this.container.firstChild;
    for (const node of wanted) {
      if (node === cursor) {
        if (batch.firstChild) this.container.insertBefore(batch, cursor);
        cursor = cursor.nextSibling;
      } else {
        batch.appendChild(node);
      }
    }
    if (batch.firstChild) this.container.insertBefore(batch, cursor);
  }

  /**
   * Leave a reply's Markdown for later: idle time, or as soon as it nears the view.
   * @param {HTMLElement} node
   * @param {string} text
   */
  defer(node, text) {
    const body = /** @type {HTMLElement | null} */ (node.querySelector(".snw-markdown-pending"));
    if (!body) return;
    this.pending.set(body, text);
    if (!this.observer && typeof IntersectionObserver === "function") {
      this.observer = new IntersectionObserver((seen) => this.nearView(seen), {
        root: this.container,
        rootMargin: "600px 0px",
      });
    }
    if (this.observer) this.observer.observe(body);
  }

  /** @param {IntersectionObserverEntry[]} seen */
  nearView(seen) {
    const bodies = seen.filter((e) => e.isIntersecting).map((e) => /** @type {HTMLElement} */ (e.target));
    if (bodies.length) this.fill(bodies);
  }

  /**
   * Render the waiting Markdown of `bodies` (all of it when omitted), keeping a log that was
   * scrolled to the bottom at the bottom.
   * @param {Iterable<HTMLElement>} [bodies]
   * @param {() => boolean} [more] false stops early (idle time ran out)
   */
  fill(bodies = [...this.pending.keys()], more = () => true) {
    const log = this.container;
    const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 4;
    for (const body of bodies) {
      this.fillOne(body);
      if (!more()) break;
    }
    if (atBottom) log.scrollTop = log.scrollHeight;
  }

  /** @param {HTMLElement} body */
  fillOne(body) {
    const text = this.pending.get(body);
    if (text === undefined) return;
    this.pending.delete(body);
    if (this.observer) this.observer.unobserve(body);
    if (body.isConnected) fillMarkdown(body, text);
  }

  /** Render waiting Markdown in idle time, the newest (nearest the view) first. */
  queueIdle() {
    if (this.idleQueued) return;
    this.idleQueued = true;
    /** @param {{timeRemaining: () => number} | undefined} deadline */
    const work = (deadline) => {
      this.idleQueued = false;
      const until = performance.now() + 12;
      const more = () => (deadline ? deadline.timeRemaining() > 2 : performance.now() < until);
      this.fill([...this.pending.keys()].reverse(), more);
      if (this.pending.size) this.queueIdle();
    };
    if (typeof requestIdleCallback === "function") requestIdleCallback(work, { timeout: 1000 });
    else setTimeout(() => work(undefined), 16);
  }

  /** Stop observing (the view is gone). */
  dispose() {
    if (this.observer) this.observer.disconnect();
    this.pending.clear();
  }

  /**
   * Append streamed text to a turn; `offset` guards against a gap (the final text mends it).
   * @param {string} turnId
   * @param {number | undefined} offset
   * @param {string} text
   */
  appendDelta(turnId, offset, text) {
    const entry = this.nodes.get(turnId);
    if (!entry) return false;
    const body = entry.node.querySelector(".snw-streaming");
    if (!body) return false;
    const have = (body.textContent || "").length;
    if (offset !== undefined && offset !== have) return false;
    if (body.lastChild && body.lastChild instanceof Text) body.lastChild.appendData(text);
    else body.appendChild(document.createTextNode(text));
    const details = /** @type {HTMLDetailsElement | null} */ (entry.node.querySelector(".snw-reasoning"));
    if (details && !details.hidden && !details.dataset.answered) {
      // the answer began: collapse the thinking, and say how long it took
      details.dataset.answered = "1";
      details.open = false;
      const seconds = (performance.now() - Number(details.dataset.started)) / 1000;
      const summary = details.querySelector("summary");
      if (summary) summary.textContent = thoughtLabel(seconds);
    }
    return true;
  }

  /**
   * Append streamed reasoning to a turn, in its section, shown open while it arrives.
   * @param {string} turnId
   * @param {number | undefined} offset
   * @param {string} text
   */
  appendReasoning(turnId, offset, text) {
    const entry = this.nodes.get(turnId);
    const details = /** @type {HTMLDetailsElement | null} */ (entry && entry.node.querySelector(".snw-reasoning"));
    const body = details && details.querySelector(".snw-reasoning-body");
    if (!details || !body) return false;
    if ((offset ?? 0) !== (body.textContent || "").length) return false;
    if (details.hidden) {
      details.hidden = false;
      details.open = true;
    }
    body.appendChild(document.createTextNode(text));
    return true;
  }
}

/**
 * The naive way, for the benchmark's baseline: throw the whole log away and rebuild it.
 * @param {HTMLElement} container
 * @param {Turn[]} turns
 * @param {TurnActions} actions
 * @param {boolean} busy
 */
export function renderAllTurns(container, turns, actions, busy) {
  const ctxs = contexts(turns, actions, busy);
  container.replaceChildren(...turns.map((turn, i) => renderTurn(turn, ctxs[i])));
}
