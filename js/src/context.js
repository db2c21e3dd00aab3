// The Context menu beside the attach buttons: the last error's traceback, a variable's summary or
// the last plot, on request. The kernel stages each as a chip in the attachments row: a traceback
// or a summary as a context chip that opens to the exact text sent after the message, the plot as
// an image chip; each removable before Send. Nothing is sent without being shown.
import { dropdown, h, nextId } from "./dom.js";

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
    this.toggle = dropdown(this.el, this.menu);
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

const MENTION = /(^|\s)@([A-Za-z_][A-Za-z0-9_]*)?$/;
const MAX_MENTIONS = 8;

/**
 * `@name` in the message box: typing `@` and the start of a variable's name offers the notebook's
 * variables (the kernel's list); Enter, Tab or a click stages the one chosen as a context chip
 * (as "A variable…" does) and leaves its plain name in the text. Up/Down choose, Escape closes.
 */
export class Mentions {
  /**
   * @param {import("./types").Call} call
   * @param {HTMLTextAreaElement} messageBox
   * @param {ContextMenu} menu stages what is picked
   */
  constructor(call, messageBox, menu) {
    this.call = call;
    this.messageBox = messageBox;
    this.menu = menu;
    /** @type {Promise<string[]> | null} the kernel's names, asked once per `@` typed */
    this.names = null;
    /** @type {string[]} */
    this.shown = [];
    this.active = 0;
    this.start = -1; // where the `@` being completed is in the box
    this.list = h("div", { class: "snw-mentions", role: "listbox", id: nextId("mentions"), hidden: true });
    this.list.setAttribute("aria-label", "Notebook variables");
    messageBox.setAttribute("aria-autocomplete", "list");
    messageBox.setAttribute("aria-controls", this.list.id);
    messageBox.addEventListener("input", () => this.update());
    messageBox.addEventListener("blur", () => this.close());
  }

  async update() {
    const box = this.messageBox;
    if (!MENTION.test(box.value.slice(0, box.selectionStart))) return this.close();
    this.names ??= this.call("context_names", {}).then((got) => (got ? got.names : []));
    const names = await this.names;
    const found = MENTION.exec(box.value.slice(0, box.selectionStart)); // the box may have moved on
    if (!found) return this.close();
    const query = found[2] || "";
    this.start = box.selectionStart - query.length - 1;
    const lower = query.toLowerCase();
    this.shown = names.filter((name) => name.toLowerCase().startsWith(lower)).slice(0, MAX_MENTIONS);
    this.active = 0;
    this.render();
  }

  render() {
    this.list.replaceChildren(
      ...this.shown.map((name, index) => {
        const option = h("div", {
          class: "snw-mention",
          role: "option",
          id: `${this.list.id}-${index}`,
          "aria-selected": String(index === this.active),
        }, `@${name}`);
        option.addEventListener("mousedown", (event) => {
          event.preventDefault(); // the box keeps the focus
          this.pick(name);
        });
        return option;
      }),
    );
    const open = this.shown.length > 0;
    this.list.hidden = !open;
    this.messageBox.setAttribute("aria-expanded", String(open));
    if (open) this.messageBox.setAttribute("aria-activedescendant", `${this.list.id}-${this.active}`);
    else this.messageBox.removeAttribute("aria-activedescendant");
  }

  close() {
    this.shown = [];
    this.names = null;
    this.render();
  }

  /**
   * The message box's keys while the list is open; true when one was used here.
   * @param {KeyboardEvent} event
   */
  key(event) {
    if (this.list.hidden || event.isComposing) return false;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      const step = event.key === "ArrowDown" ? 1 : -1;
      this.active = (this.active + step + this.shown.length) % this.shown.length;
      this.render();
    } else if ((event.key === "Enter" && !event.shiftKey) || event.key === "Tab") {
      this.pick(this.shown[this.active]);
    } else if (event.key === "Escape") {
      this.close();
    } else {
      return false;
    }
    event.preventDefault();
    return true;
  }

  /** @param {string} name */
  pick(name) {
    const box = this.messageBox;
    const end = box.selectionStart;
    box.value = box.value.slice(0, this.start) + name + box.value.slice(end);
    const caret = this.start + name.length;
    box.setSelectionRange(caret, caret);
    this.close();
    this.menu.ask({ what: "variable", name });
  }
}
