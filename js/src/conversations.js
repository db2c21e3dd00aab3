// The conversation list: the saved conversations (name, last message, date, turns) from the
// kernel's store, searched by text; open one, rename it, delete it (asks first), or start a new
// one. The kernel checks every request and answers with the list as it now is.
import { h } from "./dom.js";

/** @typedef {{name: string, turns: number, last_used: string, last_message: string}} ConversationRow */
/** @typedef {{items: ConversationRow[], current: string | null}} ConversationListing */

/**
 * "5 Dec, 14:12" (this year) or "5 Dec 2025".
 * @param {string} iso
 */
function when(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  const sameYear = date.getFullYear() === new Date().getFullYear();
  const day = date.toLocaleDateString(undefined, { day: "numeric", month: "short", year: sameYear ? undefined : "numeric" });
  return sameYear ? `${day}, ${date.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" })}` : day;
}

export class ConversationList {
  /** @param {import("./types").Call} call */
  constructor(call) {
    this.call = call;
    this.toggle = h(
      "button",
      { class: "snw-button snw-chats-toggle", type: "button", "aria-expanded": "false", onclick: () => this.flip() },
      "Chats",
    );
    this.search = h("input", {
      class: "snw-chats-search",
      type: "search",
      placeholder: "Search saved conversations",
      "aria-label": "Search saved conversations",
    });
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    let timer;
    this.search.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(() => this.refresh(), 250);
    });
    this.list = h("ul", { class: "snw-chats-list", "aria-label": "Saved conversations" });
    const newButton = h(
      "button",
      { class: "snw-button snw-chats-new", type: "button", onclick: () => this.open(null) },
      "New chat",
    );
    this.box = h(
      "div",
      { class: "snw-chats", hidden: true },
      h("div", { class: "snw-chats-bar" }, this.search, newButton),
      this.list,
    );
  }

  flip() {
    this.box.hidden = !this.box.hidden;
    this.toggle.setAttribute("aria-expanded", String(!this.box.hidden));
    if (!this.box.hidden) this.refresh();
  }

  async refresh() {
    /** @type {ConversationListing | null} */
    const got = await this.call("conversations", { search: this.search.value.trim() });
    if (got) this.show(got);
  }

  /** @param {ConversationListing} listing */
  show(listing) {
    const rows = listing.items.map((row) => this.item(row, row.name === listing.current));
    if (!rows.length) {
      const empty = this.search.value.trim() ? "No saved conversation has that text." : "No saved conversations yet.";
      rows.push(h("li", { class: "snw-chats-empty" }, empty));
    }
    this.list.replaceChildren(...rows);
  }

  /**
   * @param {ConversationRow} row
   * @param {boolean} current
   */
  item(row, current) {
    const turns = `${row.turns} turn${row.turns === 1 ? "" : "s"}`;
    const openButton = h(
      "button",
      { class: "snw-chats-open", type: "button", "aria-current": current ? "true" : null, title: `Open ${row.name}` },
      h("span", { class: "snw-chats-name" }, row.name),
      h("span", { class: "snw-chats-meta" }, `${when(row.last_used)} · ${turns}`),
      h("span", { class: "snw-chats-last" }, row.last_message || "(empty)"),
    );
    openButton.addEventListener("click", () => this.open(row.name));
    const li = h("li", { class: current ? "snw-chats-item snw-chats-current" : "snw-chats-item", "data-name": row.name });
    const rename = h("button", { class: "snw-button", type: "button", "aria-label": `Rename ${row.name}` }, "Rename");
    rename.addEventListener("click", () => this.startRename(li, row.name));
    li.append(openButton, h("span", { class: "snw-chats-actions" }, rename, this.deleteButton(row.name)));
    return li;
  }

  /** @param {string} name */
  deleteButton(name) {
    const button = h("button", { class: "snw-button", type: "button", "aria-label": `Delete ${name}` }, "Delete");
    button.addEventListener("click", async () => {
      if (!button.classList.contains("snw-confirm")) {
        button.textContent = "Delete?";
        button.classList.add("snw-confirm");
        return;
      }
      if (await this.call("delete_conversation", { name })) await this.refresh();
    });
    button.addEventListener("blur", () => {
      button.textContent = "Delete";
      button.classList.remove("snw-confirm");
    });
    return button;
  }

  /**
   * An inline name box: Enter renames, Escape leaves it.
   * @param {HTMLElement} li
   * @param {string} old
   */
  startRename(li, old) {
    const input = h("input", { class: "snw-chats-rename", type: "text", "aria-label": `New name for ${old}` });
    input.value = old;
    input.addEventListener("keydown", async (event) => {
      if (event.key === "Escape") {
        event.preventDefault();
        await this.refresh();
      } else if (event.key === "Enter") {
        event.preventDefault();
        const name = input.value.trim();
        if (name && name !== old && !(await this.call("rename_conversation", { old, new: name }))) return;
        await this.refresh();
      }
    });
    li.replaceChildren(input);
    input.focus();
    input.select();
  }

  /** @param {string | null} name a saved conversation, or null for a new one */
  async open(name) {
    if (await this.call("open_conversation", { name })) {
      this.box.hidden = true;
      this.toggle.setAttribute("aria-expanded", "false");
    }
  }
}
