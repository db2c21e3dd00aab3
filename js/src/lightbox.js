// A thumbnail, clicked (or Enter on it), shows larger over the panel without leaving the notebook.
// A staged image asks the kernel once for a bigger preview (at most 1024 px, never kept in a trait);
// a sent one shows its thumbnail enlarged. Escape, the Close button or a click closes it.
import { h, safeImageSrc } from "./dom.js";

/** The thumbnails the lightbox opens: a sent turn's attachments and the staged ones. */
export const ZOOMABLE = ".snw-attachment img, .snw-staged-item img";

export class Lightbox {
  /** @param {import("./types").Call} call */
  constructor(call) {
    this.call = call;
    this.image = h("img", { class: "snw-lightbox-image", alt: "" });
    this.caption = h("div", { class: "snw-lightbox-caption" });
    const close = h("button", { class: "snw-button snw-lightbox-close", type: "button", onclick: () => this.close() }, "Close");
    this.el = h(
      "div",
      { class: "snw-lightbox", hidden: true, role: "dialog", "aria-modal": "true", "aria-label": "Image, larger" },
      this.image,
      h("div", { class: "snw-lightbox-bar" }, this.caption, close),
    );
    this.el.addEventListener("click", (event) => {
      if (event.target !== close) this.close();
    });
    this.el.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        event.preventDefault();
        this.close();
      }
    });
    /** @type {HTMLElement | null} */
    this.opener = null;
  }

  /**
   * Make the thumbnails under `root` open the lightbox (click, or Enter/Space when focused).
   * @param {HTMLElement} root
   */
  listen(root) {
    root.addEventListener("click", (event) => {
      const img = event.target instanceof HTMLImageElement && event.target.closest(ZOOMABLE) ? event.target : null;
      if (img) this.open(img);
    });
    root.addEventListener("keydown", (event) => {
      const img = event.target instanceof HTMLImageElement && event.target.closest(ZOOMABLE) ? event.target : null;
      if (img && (event.key === "Enter" || event.key === " ")) {
        event.preventDefault();
        this.open(img);
      }
    });
  }

  /** @param {HTMLImageElement} thumb */
  async open(thumb) {
    const src = safeImageSrc(thumb.getAttribute("src"));
    if (!src) return;
    this.opener = thumb;
    this.image.src = src;
    this.image.alt = thumb.alt;
    this.caption.textContent = thumb.alt;
    this.el.hidden = false;
    /** @type {HTMLElement | null} */ (this.el.querySelector(".snw-lightbox-close"))?.focus();
    const staged = /** @type {HTMLElement | null} */ (thumb.closest("[data-staged-id]"));
    if (!staged) return;
    const result = await this.call("preview", { id: staged.dataset.stagedId });
    const larger = result && safeImageSrc(result.src);
    if (larger && !this.el.hidden && this.opener === thumb) this.image.src = larger;
  }

  close() {
    if (this.el.hidden) return;
    this.el.hidden = true;
    this.image.removeAttribute("src");
    if (this.opener && this.opener.isConnected) this.opener.focus();
    this.opener = null;
  }
}
