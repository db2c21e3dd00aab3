// "From notebook": a list of the kernel's image-like variables with thumbnails; picking one
// stages it. The list is asked for each time the picker opens, so it is never stale.
import { h, thumbnail } from "./dom.js";

/** @typedef {{name: string, kind?: string, description?: string, thumb?: string | null}} Variable */

export class NotebookPicker {
  /** @param {import("./types").Call} call */
  constructor(call) {
    this.call = call;
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
    this.box.replaceChildren(h("ul", { class: "snw-picker-list" }, items.map((item) => this.item(item))), close);
    const first = /** @type {HTMLElement | null} */ (this.box.querySelector(".snw-picker-item"));
    if (first) first.focus();
  }

  /** @param {Variable} item */
  item(item) {
    const pick = async () => {
      if (await this.call("attach_variable", { name: item.name })) this.close();
    };
    const button = h(
      "button",
      { class: "snw-picker-item", type: "button", "data-name": item.name, onclick: pick },
      thumbnail(item.thumb, "", item.kind),
      h("span", { class: "snw-picker-name" }, item.name),
      h("small", {}, item.description || item.kind),
    );
    return h("li", {}, button);
  }

  close() {
    this.box.hidden = true;
    this.button.setAttribute("aria-expanded", "false");
    this.button.focus();
  }
}
