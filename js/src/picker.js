// "From notebook": a list of the kernel's image-like variables with thumbnails. Click (or Space)
// selects several, "Attach" stages them in order; a double click stages just that one. The list
// is asked for each time the picker opens, so it is never stale.
import { h, thumbnail } from "./dom.js";

/** @typedef {{name: string, kind?: string, description?: string, thumb?: string | null}} Variable */

export class NotebookPicker {
  /** @param {import("./types").Call} call */
  constructor(call) {
    this.call = call;
    /** @type {string[]} */
    this.selected = [];
    /** @type {HTMLButtonElement | null} */
    this.attachButton = null;
    this.button = h(
      "button",
      { class: "snw-button snw-picker-button", type: "button", "aria-expanded": "false" },
      "From notebook",
    );
    this.box = h("div", { class: "snw-picker", hidden: true, role: "dialog", "aria-label": "Notebook variables" });
    this.button.addEventListener("click", () => (this.box.hidden ? this.open() : this.close()));
    this.box.addEventListener("keydown", (event) => {
      if (event.key === "Escape") this.close();
    });
  }

  async open() {
    this.box.hidden = false;
    this.button.setAttribute("aria-expanded", "true");
    this.box.replaceChildren(h("div", { class: "snw-picker-status" }, "Looking for images in the notebook…"));
    const result = await this.call("list_variables", {});
    if (!result) {
      this.box.hidden = true;
      return;
    }
    /** @type {Variable[]} */
    const items = result.items || [];
    const close = h("button", { class: "snw-button snw-picker-close", type: "button", onclick: () => this.close() }, "Close");
    if (!items.length) {
      const none = "No image-like variables in the notebook yet (PIL images, arrays, figures, frame stacks).";
      this.box.replaceChildren(h("div", { class: "snw-picker-status" }, none), close);
      return;
    }
    /** @type {string[]} the names selected, in the order they were picked */
    this.selected = [];
    this.attachButton = h(
      "button",
      { class: "snw-button snw-primary snw-picker-attach", type: "button", disabled: true, onclick: () => this.attach(this.selected) },
      "Attach",
    );
    const hint = h("span", { class: "snw-picker-hint" }, "Select one or more, then Attach (double click attaches one).");
    const list = h("ul", { class: "snw-picker-list" }, items.map((item) => this.item(item)));
    this.box.replaceChildren(list, h("div", { class: "snw-picker-bar" }, hint, this.attachButton, close));
    const first = /** @type {HTMLElement | null} */ (this.box.querySelector(".snw-picker-item"));
    if (first) first.focus();
  }

  /** @param {Variable} item */
  item(item) {
    const toggle = () => {
      const at = this.selected.indexOf(item.name);
      if (at >= 0) this.selected.splice(at, 1);
      else this.selected.push(item.name);
      button.setAttribute("aria-pressed", String(at < 0));
      const count = this.selected.length;
      if (this.attachButton) {
        this.attachButton.disabled = count === 0;
        this.attachButton.textContent = count > 1 ? `Attach ${count}` : "Attach";
      }
    };
    const button = h(
      "button",
      {
        class: "snw-picker-item",
        type: "button",
        "data-name": item.name,
        "aria-pressed": "false",
        onclick: toggle,
        ondblclick: () => this.attach([item.name]),
      },
      thumbnail(item.thumb, "", item.kind),
      h("span", { class: "snw-picker-name" }, item.name),
      h("small", {}, item.description || item.kind),
    );
    return h("li", {}, button);
  }

  /**
   * Stage the named variables, in order, in one request (the kernel stages all or none); the
   * picker closes once they are in.
   * @param {string[]} names
   */
  async attach(names) {
    if (names.length && (await this.call("attach_variable", { names: [...names] }))) this.close();
  }

  close() {
    this.box.hidden = true;
    this.button.setAttribute("aria-expanded", "false");
    this.button.focus();
  }
}
