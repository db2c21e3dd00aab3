// Benchmark and test hooks, only in the development build (static/widget.dev.js, which the kernel
// serves to panels made after `ChatPanel.development_bundle = True`). Every use is behind
// `if (SNW_DEV)`, which the shipped build defines false, so esbuild drops this module and all the
// recording from static/widget.js.
import { h } from "./dom.js";
import { renderAllTurns } from "./turns.js";

/** @typedef {{t: number, kind: string, name: string | undefined}} DevEvent */
/**
 * What the benchmark and the browser tests read from `el.snwStats`.
 * @typedef {{customMessages: number, changes: number, events: DevEvent[],
 *            renders: {turns: number, ms: number}[], streamed: Record<string, string>,
 *            final: Record<string, string | undefined>}} DevStats
 */

export class DevHooks {
  /**
   * @param {HTMLElement & {snwStats?: DevStats, snwRenderNaiveMs?: () => number,
   *         snwModel?: import("./types").PanelModel}} el the view's element
   * @param {import("./types").PanelModel} model
   * @param {import("./log.js").ConversationLog} log
   */
  constructor(el, model, log) {
    /** @type {DevStats} */
    this.stats = { customMessages: 0, changes: 0, events: [], renders: [], streamed: {}, final: {} };
    this.inBurst = false;
    el.snwStats = this.stats;
    el.snwModel = model; // what a hostile page script could reach: the tests forge writes with it
    log.probe = {
      beforeRender: (turns, list) => this.beforeRender(turns, list),
      rendered: (turns, ms) => {
        this.stats.renders.push({ turns, ms });
        if (this.stats.renders.length > 1000) this.stats.renders.shift();
      },
    };
    // The naive way (rebuild every turn), timed into a scratch log, for the benchmark's baseline.
    // Replies whose Markdown still waits are rendered first, so the baseline runs on a quiet page.
    el.snwRenderNaiveMs = () => {
      log.turns.fill();
      const scratch = h("div", { class: "snw-log" });
      log.el.after(scratch);
      const started = performance.now();
      renderAllTurns(scratch, model.get("conversation") || [], log.actions, false);
      void scratch.offsetHeight;
      const ms = performance.now() - started;
      scratch.remove();
      return ms;
    };
  }

  /**
   * @param {string} kind
   * @param {string | undefined} name
   */
  note(kind, name) {
    if (this.stats.events.length < 20000) this.stats.events.push({ t: performance.now(), kind, name });
  }

  /** @param {import("./types").KernelMessage | null | undefined} msg */
  custom(msg) {
    this.stats.customMessages += 1;
    this.note("custom", msg ? msg.type : undefined);
  }

  /**
   * One state message from the kernel can change several traits (hold_sync): their change
   * events fire in one task, so a burst counts as one message.
   * @param {string} name
   */
  change(name) {
    if (this.inBurst) return;
    this.inBurst = true;
    this.stats.changes += 1;
    this.note("change", name);
    queueMicrotask(() => (this.inBurst = false));
  }

  /**
   * Before a streamed turn's node is replaced: what the deltas built, and the final text.
   * @param {import("./types").Turn[]} turns
   * @param {import("./turns.js").TurnList} list
   */
  beforeRender(turns, list) {
    for (const turn of turns) {
      const entry = turn.status !== "streaming" && list.nodes.get(turn.id);
      const body = entry && entry.node.querySelector(".snw-streaming");
      if (body) {
        this.stats.streamed[turn.id] = body.textContent || ""; // what the deltas built...
        this.stats.final[turn.id] = turn.text; // ...and the final text the kernel set once
      }
    }
  }
}
