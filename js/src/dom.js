// Small DOM helpers: every piece of text goes in as a text node, never as HTML.

/** h("button", {class: "snw-x", onclick}, "label", child) */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else if (key === "text") el.textContent = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    el.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return el;
}

/** Copy text to the clipboard, with a fallback where the async API is unavailable. */
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

/** A button that copies `getText()` and says so for a moment. */
export function copyButton(getText, label) {
  const button = h("button", { class: "snw-button snw-copy", type: "button", "aria-label": label, title: label }, "Copy");
  button.addEventListener("click", async () => {
    const ok = await copyText(getText());
    button.textContent = ok ? "Copied" : "Copy failed";
    setTimeout(() => (button.textContent = "Copy"), 1200);
  });
  return button;
}

/** Only data: image URLs made by the kernel are shown as thumbnails. */
export function safeImageSrc(src) {
  return typeof src === "string" && /^data:image\/(png|jpeg|gif|webp);base64,[A-Za-z0-9+/=]+$/.test(src) ? src : null;
}

/** The kernel's thumbnail of an attachment, or a placeholder where it has none (a URL, a file id). */
export function thumbnail(src, alt, kind) {
  const safe = safeImageSrc(src);
  if (safe) return h("img", { src: safe, alt });
  return h("div", { class: "snw-thumb-placeholder", "aria-hidden": "true" }, kind === "video" ? "▶" : "□");
}
