// The conversation as the panel shows it: the log element, its empty-state hint and the keyed
// turn list, rendered at most once per kernel state message, the streamed deltas, and the
// "Latest" button of a reader who scrolled up.
import { h } from "./dom.js";
import { TurnList } from "./turns.js";

/** @typedef {import("./types").PanelModel} PanelModel */

/**
 * What the development build records around each render (see dev.js); absent in the shipped one.
 * @typedef {{beforeRender: (turns: import("./types").Turn[], list: TurnList) => void,
 *            rendered: (turns: number, ms: number) => void}} RenderProbe
 */

export class ConversationLog {
  /**
   * @param {PanelModel} model
   * @param {import("./types").TurnActions} actions
   */
  constructor(model, actions) {
    this.model = model;
    this.actions = actions;
    this.el = h("div", { class: "snw-log", role: "log", "aria-live": "polite", "aria-label": "Conversation" });
    this.empty = h(
      "div",
      { class: "snw-empty" },
      "Ask about an image: attach one with the buttons below, drop or paste it here.",
    );
    this.turns = new TurnList(this.el, actions);
    this.queued = false;
    this.shown = 0; // turns at the last render: more means a new message, shown at once
    // A reader who scrolled up stays where they are while a reply streams; "Latest" brings them
    // back. A panel with history opens at its latest turn: render() runs before the view is in
    // the page (no height yet), so the log scrolls to its end again whenever its box gets or
    // changes size, unless the reader scrolled up.
    this.jump = h(
      "button",
      { class: "snw-button snw-jump", type: "button", hidden: true, "aria-label": "Jump to the latest message" },
      "↓ Latest",
    );
    this.jump.addEventListener("click", () => this.toEnd());
    this.box = h("div", { class: "snw-log-box" }, this.el, this.jump);
    this.atEnd = true;
    this.el.addEventListener("scroll", () => {
      this.atEnd = this.el.scrollHeight - this.el.scrollTop - this.el.clientHeight < 24;
      this.jump.hidden = this.atEnd;
    });
    this.resize = typeof ResizeObserver === "function" ? new ResizeObserver(() => this.keepAtEnd()) : null;
    if (this.resize) this.resize.observe(this.el);
    /** @type {RenderProbe | null} */
    this.probe = null;
  }

  /**
   * A turn starting or ending changes `conversation` and `busy` in one state message
   * (hold_sync), and the log depends on both: render it once, after that message's change events.
   */
  queueRender() {
    if (this.queued) return;
    this.queued = true;
    queueMicrotask(() => {
      this.queued = false;
      this.render();
    });
  }

  render() {
    const started = SNW_DEV ? performance.now() : 0;
    const turns = this.model.get("conversation") || [];
    if (SNW_DEV && this.probe) this.probe.beforeRender(turns, this.turns);
    this.turns.update(turns, !!this.model.get("busy"));
    this.empty.hidden = turns.length > 0;
    if (!turns.length) this.el.appendChild(this.empty);
    if (SNW_DEV && this.probe) {
      void this.el.offsetHeight; // include layout in the measured time
      this.probe.rendered(turns.length, performance.now() - started);
    }
    if (turns.length > this.shown) this.toEnd();
    else this.keepAtEnd();
    this.shown = turns.length;
  }

  toEnd() {
    this.el.scrollTop = this.el.scrollHeight;
    this.atEnd = true;
    this.jump.hidden = true;
  }

  keepAtEnd() {
    if (this.atEnd) this.el.scrollTop = this.el.scrollHeight;
  }

  /**
   * A streamed piece of a reply, shown at once (the final text replaces it when the turn ends).
   * @param {string} turnId
   * @param {number | undefined} offset
   * @param {string} text
   */
  appendDelta(turnId, offset, text) {
    this.turns.appendDelta(turnId, offset, text);
    this.keepAtEnd();
  }

  /**
   * A streamed piece of a reply's reasoning, shown at once in its open section.
   * @param {string} turnId
   * @param {number | undefined} offset
   * @param {string} text
   */
  appendReasoning(turnId, offset, text) {
    this.turns.appendReasoning(turnId, offset, text);
    this.keepAtEnd();
  }

  dispose() {
    if (this.resize) this.resize.disconnect();
    this.turns.dispose();
  }
}
