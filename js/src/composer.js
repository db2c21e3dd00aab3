// The composer: the message box, Send (Stop while a reply streams) and editing a message (any one:
// the conversation forks there). Enter sends, Shift+Enter is a new line, Escape leaves an edit, Up
// in an empty box edits the last message. Send is disabled (with the reason as its title) while
// the staged media break a limit.
import { h } from "./dom.js";
import { lastSentUserIndex } from "./turns.js";

export class Composer {
  /**
   * @param {import("./types").PanelModel} model
   * @param {import("./types").Call} call
   * @param {import("./dom.js").Reason} reason
   * @param {() => string | null} problem why the staged attachments cannot be sent, or null
   */
  constructor(model, call, reason, problem) {
    this.model = model;
    this.call = call;
    this.reason = reason;
    this.problem = problem;
    this.editing = false;
    /** @type {number} the turn being edited */
    this.editTurn = -1;
    this.editBanner = h("div", { class: "snw-edit-banner", hidden: true });
    /** @type {(event: KeyboardEvent) => boolean} keys another part takes first (the `@name` list) */
    this.intercept = () => false;
    this.textarea = h("textarea", {
      class: "snw-input",
      rows: "2",
      "aria-label": "Message",
      placeholder: "Message SenseNova (Enter sends, Shift+Enter for a new line)",
    });
    this.sendButton = h("button", { class: "snw-button snw-send snw-primary", type: "button" }, "Send");
    this.row = h("div", { class: "snw-input-row" }, this.textarea, this.sendButton);
    this.sendButton.addEventListener("click", () => this.sendOrStop());
    this.textarea.addEventListener("keydown", (event) => {
      if (this.intercept(event)) return;
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        if (!this.model.get("busy")) this.sendOrStop();
      } else if (event.key === "Escape" && this.editing) {
        event.preventDefault(); // handled: the panel's Escape (stop a reply) leaves it alone
        this.cancelEdit();
      } else if (event.key === "ArrowUp" && !this.textarea.value && !this.editing && !this.model.get("busy")) {
        event.preventDefault();
        this.startEdit();
      }
    });
  }

  /**
   * Put a message in the box (turn `turn`, the last sent one by default); Send then replaces it,
   * and what followed it goes: the conversation forks there.
   * @param {number} [turn]
   */
  startEdit(turn) {
    const turns = this.model.get("conversation") || [];
    const message =
      turn === undefined
        ? turns[lastSentUserIndex(turns)]
        : turns.find((t) => t.role === "user" && t.turn === turn);
    if (!message || typeof message.turn !== "number") return;
    const last = !turns.some((t) => typeof t.turn === "number" && t.turn > /** @type {number} */ (message.turn));
    this.editing = true;
    this.editTurn = message.turn;
    this.textarea.value = message.text || "";
    this.editBanner.replaceChildren(
      h(
        "span",
        {},
        last
          ? "Editing your last message: Send replaces it and its reply."
          : "Editing an earlier message: Send replaces it, and the turns after it go.",
      ),
      h("button", { class: "snw-button", type: "button", onclick: () => this.cancelEdit() }, "Cancel"),
    );
    this.editBanner.hidden = false;
    this.renderBusy();
    this.textarea.focus();
  }

  cancelEdit() {
    this.editing = false;
    this.editBanner.hidden = true;
    this.textarea.value = "";
    this.renderBusy();
  }

  async sendOrStop() {
    if (this.model.get("busy")) {
      await this.call("stop", {});
      return;
    }
    const text = this.textarea.value;
    const staged = this.model.get("staged") || [];
    if (this.editing) {
      if (!text.trim()) return this.reason.show("The edited message is empty.");
      this.textarea.value = "";
      this.editing = false;
      this.editBanner.hidden = true;
      await this.call("edit", { text, turn: this.editTurn });
      return;
    }
    const problem = this.problem();
    if (problem) return this.reason.show(problem);
    if (!text.trim() && !staged.length) return this.reason.show("Type a message or attach an image first.");
    this.textarea.value = "";
    const ok = await this.call("send", { text });
    if (!ok && !this.textarea.value) this.textarea.value = text; // keep what was typed when the kernel refused
  }

  /** Send becomes Stop while a reply streams, and cannot be pressed while the staged media break a limit. */
  renderBusy() {
    const busy = !!this.model.get("busy");
    const problem = busy || this.editing ? null : this.problem();
    this.sendButton.textContent = busy ? "Stop" : "Send";
    this.sendButton.classList.toggle("snw-stop", busy);
    this.sendButton.disabled = !!problem;
    this.sendButton.title = problem || "";
    this.sendButton.setAttribute("aria-label", busy ? "Stop the reply" : problem ? `Send: ${problem}` : "Send the message");
  }
}
