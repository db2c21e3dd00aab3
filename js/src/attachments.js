// The attachments of the next message: the staged row (the `staged` trait, kept by the kernel)
// and every way in: the file dialogs, drag and drop, pasting, a video URL and the notebook picker.
import { h, thumbnail } from "./dom.js";
import { NotebookPicker } from "./picker.js";

/** @typedef {import("./types").StagedItem} StagedItem */
/** @typedef {import("./types").Limits} Limits */

/**
 * The reason the staged items cannot be sent, or null (6 images, 1 video, never both).
 * @param {{kind: string}[]} staged
 * @param {Limits} limits
 * @returns {string | null}
 */
export function stagedProblem(staged, limits) {
  const images = staged.filter((s) => s.kind === "image").length;
  const videos = staged.filter((s) => s.kind === "video").length;
  const maxImages = limits.max_images ?? 6;
  const maxVideos = limits.max_videos ?? 1;
  if (images && videos) {
    return `Images and a video cannot go in one message: remove the video or the ${images} image(s).`;
  }
  if (images > maxImages) return `At most ${maxImages} images per message: remove ${images - maxImages}.`;
  if (videos > maxVideos) return `At most ${maxVideos} video per message: remove ${videos - maxVideos}.`;
  return null;
}

/**
 * @param {File} file
 * @returns {"image" | "video" | null}
 */
function fileKind(file) {
  if (file.type.startsWith("video/")) return "video";
  return file.type.startsWith("image/") ? "image" : null;
}

export class Attachments {
  /**
   * @param {import("./types").PanelModel} model
   * @param {import("./types").Call} call
   * @param {import("./dom.js").Reason} reason
   */
  constructor(model, call, reason) {
    this.model = model;
    this.call = call;
    this.reason = reason;
    /** @type {HTMLElement | null} */
    this.messageBox = null;
    this.row = h("div", { class: "snw-staged", "aria-label": "Attachments for the next message" });
    /** the context chips opened to their text (kept across renders of the row) */
    this.openContexts = new Set();
    this.picker = new NotebookPicker(call);
    this.urlInput = h("input", {
      type: "url",
      class: "snw-url-input",
      placeholder: "https://example.com/clip.mp4",
      "aria-label": "Video URL",
    });
    const add = h("button", { class: "snw-button snw-url-add", type: "button", onclick: () => this.submitUrl() }, "Attach");
    this.urlBox = h("div", { class: "snw-url-box", hidden: true }, this.urlInput, add);
    this.buttons = this.buildButtons();
    /** called after each render of the staged row (the composer's Send follows the limits) */
    this.onChange = () => {};
  }

  /** The attach row: Image…, Video…, Video URL, From notebook and the two hidden file inputs. */
  buildButtons() {
    const fileInput = (/** @type {string} */ accept, /** @type {string} */ label, multiple = false) => {
      const input = h("input", { type: "file", accept, multiple, class: "snw-file", "aria-label": label });
      input.addEventListener("change", async () => {
        await this.attachFiles([...(input.files || [])]);
        input.value = "";
      });
      return input;
    };
    const images = fileInput("image/*", "Image files", true);
    const video = fileInput("video/*", "Video file");
    const button = (/** @type {string} */ cls, /** @type {string} */ text, /** @type {() => void} */ onclick) =>
      h("button", { class: `snw-button ${cls}`, type: "button", onclick }, text);
    const urlButton = button("snw-attach-url", "Video URL", () => {
      this.urlBox.hidden = !this.urlBox.hidden;
      if (!this.urlBox.hidden) this.urlInput.focus();
    });
    this.urlInput.addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        event.preventDefault();
        this.submitUrl();
      }
    });
    return h(
      "div",
      { class: "snw-attach-row" },
      button("snw-attach-image", "Image…", () => images.click()),
      button("snw-attach-video", "Video…", () => video.click()),
      urlButton,
      this.picker.button,
      images,
      video,
    );
  }

  /**
   * Files dropped on `dropTarget` or images pasted into `pasteTarget` (the message box, which
   * gets the focus back when a staged item is removed) are attached.
   * @param {HTMLElement} dropTarget
   * @param {HTMLElement} pasteTarget
   */
  listen(dropTarget, pasteTarget) {
    this.messageBox = pasteTarget;
    dropTarget.addEventListener("dragover", (event) => {
      if (event.dataTransfer && [...event.dataTransfer.types].includes("Files")) {
        event.preventDefault();
        dropTarget.classList.add("snw-dragging");
      }
    });
    dropTarget.addEventListener("dragleave", () => dropTarget.classList.remove("snw-dragging"));
    dropTarget.addEventListener("drop", (event) => {
      dropTarget.classList.remove("snw-dragging");
      if (event.dataTransfer && event.dataTransfer.files.length) {
        event.preventDefault();
        event.stopPropagation(); // JupyterLab must not open the dropped file itself
        this.attachFiles([...event.dataTransfer.files]);
      }
    });
    pasteTarget.addEventListener("paste", (event) => {
      const files = [...(event.clipboardData?.items || [])]
        .filter((item) => item.kind === "file" && item.type.startsWith("image/"))
        .map((item) => item.getAsFile())
        .filter((file) => file !== null);
      if (files.length) {
        event.preventDefault();
        this.attachFiles(files);
      }
    });
  }

  /**
   * Send each file's bytes to the kernel (as a buffer), which stages it.
   * @param {File[]} files
   */
  async attachFiles(files) {
    for (const file of files) {
      const kind = fileKind(file);
      if (!kind) {
        this.reason.show(`${file.name || "That file"} is neither an image nor a video.`);
        continue;
      }
      const buffer = await file.arrayBuffer();
      const name = file.name || `pasted.${file.type.split("/")[1]}`;
      await this.call("attach_file", { name, mime: file.type, kind }, [buffer]);
    }
  }

  async submitUrl() {
    const url = this.urlInput.value.trim();
    if (!/^https?:\/\//i.test(url)) {
      this.reason.show("A video URL must start with http:// or https://.");
      return;
    }
    if (await this.call("attach_video_url", { url })) {
      this.urlInput.value = "";
      this.urlBox.hidden = true;
    }
  }

  /** The reason the staged items cannot be sent now, or null. */
  problem() {
    return stagedProblem(this.model.get("staged") || [], this.model.get("limits") || {});
  }

  /** Show the `staged` trait: a thumbnail, a label and a remove button each. */
  render() {
    const staged = this.model.get("staged") || [];
    const ids = new Set(staged.map((item) => item.id));
    for (const id of [...this.openContexts]) if (!ids.has(id)) this.openContexts.delete(id);
    this.row.replaceChildren(...staged.map((item) => this.stagedItem(item)));
    this.row.hidden = staged.length === 0;
    this.reason.show(this.problem());
    this.onChange();
  }

  /** @param {StagedItem} item */
  stagedItem(item) {
    const remove = this.removeButton(item);
    if (item.kind === "context") return this.contextItem(item, remove);
    return h(
      "div",
      { class: `snw-staged-item snw-kind-${item.kind}`, title: item.label, "data-staged-id": item.id },
      thumbnail(item.thumb, item.label, item.kind, true),
      h("span", { class: "snw-staged-label" }, item.label),
      remove,
    );
  }

  /**
   * Notebook context (a traceback, a variable's summary): a chip named by its label that opens to
   * the exact text the kernel will put after the message, so nothing is sent unseen.
   * @param {StagedItem} item
   * @param {HTMLElement} remove
   */
  contextItem(item, remove) {
    const open = this.openContexts.has(item.id);
    const text = h("pre", { class: "snw-context-text", id: `snw-ctx-${item.id}`, hidden: !open }, item.text || "");
    const toggle = h(
      "button",
      {
        class: "snw-context-chip",
        type: "button",
        "aria-expanded": String(open),
        "aria-controls": text.id,
        title: open ? "Hide the text sent with the message" : "Show the text sent with the message",
        onclick: () => {
          const opening = !!text.hidden;
          text.hidden = !opening;
          toggle.setAttribute("aria-expanded", String(opening));
          chip.classList.toggle("snw-open", opening);
          if (opening) this.openContexts.add(item.id);
          else this.openContexts.delete(item.id);
        },
      },
      h("span", { class: "snw-context-mark", "aria-hidden": "true" }, "{ }"),
      h("span", { class: "snw-staged-label" }, item.label),
    );
    const chip = h(
      "div",
      { class: `snw-staged-item snw-kind-context${open ? " snw-open" : ""}`, "data-staged-id": item.id },
      h("div", { class: "snw-context-head" }, toggle, remove),
      text,
    );
    return chip;
  }

  /** @param {StagedItem} item */
  removeButton(item) {
    return h(
      "button",
      {
        class: "snw-remove",
        type: "button",
        "aria-label": `Remove ${item.label}`,
        onclick: async () => {
          await this.call("unstage", { id: item.id });
          if (this.messageBox) this.messageBox.focus(); // the removed chip took the focus with it
        },
      },
      "×",
    );
  }
}
