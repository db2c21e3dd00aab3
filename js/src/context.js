// The Context menu beside the attach buttons: the last error's traceback, a variable's summary or
// the last plot, on request. The kernel stages each as a chip in the attachments row: a traceback
// or a summary as a context chip that opens to the exact text sent after the message, the plot as
// an image chip; each removable before Send. Nothing is sent without being shown.
import { h, nextId } from "./dom.js";

export class ContextMenu {
  /**
   * @param {import("./types").Call} call
   * @param {HTMLTextAreaElement} messageBox
   */
  constructor(call, messageBox) {
    this.call = call;
    this.messageBox = messageBox;
    const item = (/** @type {string} */ label, /** @type {() => void} */ action) =>
      h("button", { class: "snw-button snw-context-item", type: "button", role: "menuitem", onclick: action }, label);
    this.menu = h(
      "div",
      { class: "snw-context-menu", role: "menu", hidden: true },
      item("Last error", () => this.ask({ what: "error" })),
      item("Last plot", () => this.ask({ what: "plot" })),
      item("A variable…", () => this.askName()),
    );
    this.button = h(
      "button",
      { class: "snw-button snw-context", type: "button", "aria-haspopup": "menu", onclick: () => this.toggle() },
      "Context",
    );
    const names = h("datalist", { id: nextId("context-names") });
    this.nameInput = h("input", {
      class: "snw-context-name",
      type: "text",
      list: names.id,
      placeholder: "A variable's name, then Enter",
      "aria-label": "Variable to summarize",
    });
    this.names = names;
    this.nameInput.addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        event.preventDefault();
        this.ask({ what: "variable", name: this.nameInput.value.trim() });
      }
    });
    this.nameBox = h("div", { class: "snw-context-name-box", hidden: true }, this.nameInput, names);
    this.el = h("span", { class: "snw-context-box" }, this.button, this.menu);
  }

  toggle() {
    this.menu.hidden = !this.menu.hidden;
  }

  async askName() {
    this.menu.hidden = true;
    this.nameBox.hidden = false;
    this.nameInput.focus();
    /** @type {{names: string[]} | null} */
    const got = await this.call("context_names", {});
    if (got) this.names.replaceChildren(...got.names.map((name) => h("option", { value: name })));
  }

  /** @param {{what: string, name?: string}} params */
  async ask(params) {
    this.menu.hidden = true;
    /** @type {{id: string} | null} */
    const got = await this.call("context", params);
    if (!got) return;
    this.nameBox.hidden = true;
    this.nameInput.value = "";
    this.messageBox.focus(); // the chip is staged: back to writing the message
  }
}
