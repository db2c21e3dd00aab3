// Small DOM helpers: every piece of text goes in as a text node, never as HTML.

/** @typedef {string | Node | null | undefined | false} Child */
/** @typedef {Record<string, string | number | boolean | null | undefined | ((event: any) => unknown)>} Attrs */

/**
 * h("button", {class: "snw-x", onclick}, "label", child)
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Attrs} [attrs]
 * @param {...(Child | Child[])} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = String(value);
    else if (key === "text") el.textContent = String(value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    el.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return el;
}

let uid = 0;
/**
 * A page-unique element id, so labels point at their own panel's inputs.
 * @param {string} prefix
 */
export const nextId = (prefix) => `snw-${prefix}-${++uid}`;

/**
 * A menu dropped from a button (Export, Context) closes as menus do: on Escape (which then stops
 * no reply), and on a press anywhere outside its box (the button and the menu), so two menus are
 * never open over each other. The composed path sees through marimo's shadow root.
 * @param {HTMLElement} box the element holding the button and the menu
 * @param {HTMLElement} menu
 * @returns {() => void} toggles the menu
 */
export function dropdown(box, menu) {
  /** @param {Event} event */
  const outside = (event) => {
    if (!event.composedPath().includes(box)) close();
  };
  const close = () => {
    menu.hidden = true;
    document.removeEventListener("pointerdown", outside, true);
  };
  box.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !menu.hidden) {
      event.preventDefault();
      close();
    }
  });
  return () => {
    if (!menu.hidden) return close();
    menu.hidden = false;
    document.addEventListener("pointerdown", outside, true);
  };
}

/** The panel's one line of "why not": a refused setting, too many attachments, a kernel error. */
export class Reason {
  constructor() {
    this.el = h("div", { class: "snw-reason", role: "alert" });
  }

  /** @param {string | null | undefined} text shown as text; empty hides the line */
  show(text) {
    this.el.textContent = text || "";
    this.el.hidden = !text;
  }
}

/**
 * Copy text to the clipboard, with a fallback where the async API is unavailable.
 * @param {string} text
 * @returns {Promise<boolean>}
 */
export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch (_) {
    const area = h("textarea", { class: "snw-offscreen", "aria-hidden": "true" });
    area.value = text;
    document.body.appendChild(area);
    area.select();
    let ok = false;
    try {
      ok = document.execCommand("copy");
    } catch (_) {
      ok = false;
    }
    area.remove();
    return ok;
  }
}

/**
 * A button that copies `getText()` and says so for a moment.
 * @param {() => string} getText
 * @param {string} label
 */
export function copyButton(getText, label) {
  const button = h("button", { class: "snw-button snw-copy", type: "button", "aria-label": label, title: label }, "Copy");
  button.addEventListener("click", async () => {
    const ok = await copyText(getText());
    button.textContent = ok ? "Copied" : "Copy failed";
    setTimeout(() => (button.textContent = "Copy"), 1200);
  });
  return button;
}

/**
 * Only data: image URLs made by the kernel are shown as thumbnails.
 * @param {unknown} src
 * @returns {string | null}
 */
export function safeImageSrc(src) {
  return typeof src === "string" && /^data:image\/(png|jpeg|gif|webp);base64,[A-Za-z0-9+/=]+$/.test(src) ? src : null;
}

/**
 * The kernel's thumbnail of an attachment, or a placeholder where it has none (a URL, a file id).
 * @param {string | null | undefined} src
 * @param {string} alt
 * @param {string | undefined} kind
 * @param {boolean} [zoom] focusable, and opens the panel's lightbox (see lightbox.js)
 */
export function thumbnail(src, alt, kind, zoom = false) {
  const safe = safeImageSrc(src);
  if (safe && zoom) {
    return h("img", { src: safe, alt, tabindex: "0", role: "button", title: `${alt}: click to see it larger` });
  }
  if (safe) return h("img", { src: safe, alt });
  return h("div", { class: "snw-thumb-placeholder", "aria-hidden": "true" }, kind === "video" ? "▶" : "□");
}
