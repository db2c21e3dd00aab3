// ChatPanel's view (an anywidget ES module). Synced traits carry the conversation (text,
// thumbnails, notices), the staged attachments, the settings and the busy flag; everything
// else (requests, streamed deltas) travels as custom messages. No credential ever reaches here.
// Each part of the panel is its own module owning its state; this one lays them out and routes
// the model's events to them.
import "./widget.css";
import { Attachments } from "./attachments.js";
import { Composer } from "./composer.js";
import { ContextMenu, Mentions } from "./context.js";
import { ConversationList } from "./conversations.js";
import { DevHooks } from "./dev.js";
import { h, Reason } from "./dom.js";
import { ExportMenu, staleText, supersededText, watchKernel } from "./lasting.js";
import { Lightbox } from "./lightbox.js";
import { ConversationLog } from "./log.js";
import { Rpc, caller } from "./rpc.js";
import { Settings } from "./settings.js";

export { stagedProblem } from "./attachments.js";

/**
 * Keys typed in the panel stay in the panel: JupyterLab 4 and Notebook 7 (Lumino) would otherwise
 * run the cell on Shift+Enter or Ctrl+Enter, and take a, b, d d, m, y as command-mode shortcuts.
 * JupyterLab handles keydown as it bubbles to the document (stopPropagation keeps it here);
 * Notebook 7 handles it on the way down (capture), before the panel sees it; Lumino matches no
 * shortcut whose search from the event's target up to the selector's element meets an element
 * marked `data-lm-suppress-shortcuts`, and the command-mode selectors match the focused element
 * itself, so the focused control is marked, from a window capture listener (which runs before any
 * document listener). Shortcuts with Ctrl, Alt or Meta other than Enter (Ctrl+S saves) still
 * reach the notebook. Escape, when nothing inside the panel used it, stops a streaming reply.
 * @param {HTMLElement} root
 * @param {() => void} onEscape
 * @returns {() => void} removes the window listener
 */
function keepKeysInside(root, onEscape) {
  /** @param {KeyboardEvent} event */
  const ours = (event) => !(event.ctrlKey || event.altKey || event.metaKey) || event.key === "Enter";
  /** @param {KeyboardEvent} event */
  const mark = (event) => {
    const target = event.target;
    if (!(target instanceof Element) || !root.contains(target)) return;
    if (ours(event)) target.setAttribute("data-lm-suppress-shortcuts", "true");
    else target.removeAttribute("data-lm-suppress-shortcuts");
  };
  window.addEventListener("keydown", mark, true);
  root.addEventListener("keydown", (event) => {
    if (ours(event)) event.stopPropagation();
    if (event.key === "Escape" && !event.defaultPrevented) onEscape();
  });
  return () => window.removeEventListener("keydown", mark, true);
}

/**
 * Where the view is shown, once it is in the page (render runs before it is): "lab" (JupyterLab),
 * "notebook" (Notebook 7, whose page marks its body `data-notebook`), "marimo" (its output area,
 * or its anywidget element hosting a shadow root), else "other".
 * @param {HTMLElement} el
 * @param {(host: string) => void} found
 */
function whereShown(el, found) {
  let tries = 0;
  const look = () => {
    if (!el.isConnected && ++tries < 50) return void requestAnimationFrame(look);
    const top = el.getRootNode();
    const shadowHost = top instanceof ShadowRoot ? top.host.tagName.toLowerCase() : "";
    if (shadowHost.startsWith("marimo") || el.closest(".output-area")) found("marimo");
    else if (document.body.dataset.notebook !== undefined) found("notebook");
    else if (document.querySelector(".jp-LabShell")) found("lab");
    else found("other");
  };
  look();
}

/**
 * Docked in JupyterLab's side area (jupyterlab-sidecar), the panel is as tall as the area below
 * its top, kept so as the area is resized; elsewhere nothing changes.
 * @param {HTMLElement} el
 * @param {HTMLElement} root
 * @returns {() => void} stops following the side area
 */
function fillSideArea(el, root) {
  const side = el.closest(".jupyterlab-sidecar");
  if (!side || typeof ResizeObserver !== "function") return () => {};
  const fit = () => {
    const top = root.getBoundingClientRect().top - side.getBoundingClientRect().top + side.scrollTop;
    root.style.height = `${Math.max(240, side.clientHeight - top - 12)}px`;
  };
  const observer = new ResizeObserver(fit);
  observer.observe(side);
  fit();
  return () => observer.disconnect();
}

/**
 * Clear asks first: the first press turns it into "Clear all?" for a few seconds, the second clears.
 * @param {() => void} clear
 */
function clearButton(clear) {
  const button = h("button", { class: "snw-button snw-clear", type: "button" }, "Clear");
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  const reset = () => {
    clearTimeout(timer);
    button.textContent = "Clear";
    button.classList.remove("snw-confirm");
    button.removeAttribute("aria-label");
  };
  button.addEventListener("click", () => {
    if (button.classList.contains("snw-confirm")) {
      reset();
      clear();
      return;
    }
    button.textContent = "Clear all?";
    button.classList.add("snw-confirm");
    button.setAttribute("aria-label", "Press again to clear the conversation");
    timer = setTimeout(reset, 4000);
  });
  button.addEventListener("blur", reset);
  return button;
}

/**
 * @param {{model: import("./types").PanelModel, el: HTMLElement}} view
 * @returns {() => void} the cleanup anywidget calls when the view goes away
 */
function render({ model, el }) {
  const rpc = new Rpc(model);
  const reason = new Reason();
  const call = caller(rpc, reason);
  const settings = new Settings(model, reason);
  const attachments = new Attachments(model, call, reason);
  const composer = new Composer(model, call, reason, () => attachments.problem());
  attachments.onChange = () => composer.renderBusy();
  const lightbox = new Lightbox(call);
  const contextMenu = new ContextMenu(call, composer.textarea);
  attachments.buttons.appendChild(contextMenu.el);
  const mentions = new Mentions(call, composer.textarea, contextMenu);
  composer.intercept = (event) => mentions.key(event);
  const log = new ConversationLog(model, {
    onEdit: (turn) => composer.startEdit(turn),
    onRegenerate: (turn) => call("regenerate", { turn }),
    onRetry: (turn) => call("regenerate", { turn }),
    onChoose: (turn, answer) => call("choose", { turn, answer }),
  });
  const dev = SNW_DEV ? new DevHooks(el, model, log) : null;

  const root = h("div", { class: "snw-panel", role: "region", "aria-label": "SenseNova chat" });
  let releaseSide = () => {};
  whereShown(el, (host) => {
    root.classList.add(`snw-host-${host}`); // marimo's output area: see widget.css
    rpc.request("view_host", { host }).catch(() => {}); // dock() asks the kernel where the view is
    releaseSide = fillSideArea(el, root);
  });
  const exportMenu = new ExportMenu(call, reason);
  const chats = new ConversationList(call);
  const nameLabel = h("span", { class: "snw-name", title: "Saved as (ChatPanel(name=...) brings it back)" });
  const renderName = () => {
    const name = model.get("conversation_name") || "";
    nameLabel.textContent = name;
    nameLabel.hidden = !name;
  };
  const staleNotice = h("div", { class: "snw-stale", role: "status", hidden: true });
  const toolbar = h(
    "div",
    { class: "snw-toolbar" },
    h("span", { class: "snw-title" }, "SenseNova"),
    nameLabel,
    chats.toggle,
    settings.modelLabel,
    settings.modelSelect,
    settings.modelError,
    h("span", { class: "snw-spacer" }),
    settings.toggle,
    exportMenu.el,
    clearButton(() => call("clear", {})),
  );
  const composerBox = h(
    "div",
    { class: "snw-composer" },
    attachments.row,
    reason.el,
    composer.editBanner,
    mentions.list,
    composer.row,
    attachments.buttons,
    attachments.urlBox,
    attachments.picker.box,
    contextMenu.nameBox,
  );
  root.append(toolbar, chats.box, settings.box, log.box, staleNotice, composerBox, lightbox.el);
  el.appendChild(root);
  attachments.listen(root, composer.textarea);
  lightbox.listen(root);
  const releaseKeys = keepKeysInside(root, () => {
    if (model.get("busy")) call("stop", {});
  });

  const renderBusy = () => {
    composer.renderBusy();
    root.classList.toggle("snw-busy", !!model.get("busy"));
    log.queueRender();
  };
  /** @param {import("./types").KernelMessage} msg */
  const onCustom = (msg) => {
    if (SNW_DEV && dev) dev.custom(msg);
    if (rpc.handle(msg)) return;
    if (msg && msg.type === "delta" && msg.reasoning) log.appendReasoning(msg.turn || "", msg.offset, msg.reasoning);
    else if (msg && msg.type === "delta") log.appendDelta(msg.turn || "", msg.offset, msg.text || "");
  };
  /** @type {Record<string, (name: string) => void>} */
  const onChange = {
    conversation: () => log.queueRender(),
    busy: renderBusy,
    staged: () => attachments.render(),
    settings: () => settings.sync(),
    models: () => settings.sync(),
    conversation_name: renderName,
    models_error: () => settings.sync(),
    thinks: () => settings.sync(),
    parameters: () => {
      settings.build();
      settings.sync();
    },
  };
  /** @type {[string, (msg?: any) => void][]} */
  const handlers = [["msg:custom", onCustom]];
  for (const [name, fn] of Object.entries(onChange)) {
    handlers.push([`change:${name}`, SNW_DEV && dev ? () => (dev.change(name), fn(name)) : () => fn(name)]);
  }
  for (const [event, fn] of handlers) model.on(event, fn);

  settings.build();
  settings.sync();
  attachments.render();
  renderBusy();
  renderName();
  /** The kernel is gone, or a newer panel shows this conversation: say so, take no more input. @param {string} why */
  const goStale = (why) => {
    staleNotice.textContent = why;
    staleNotice.hidden = false;
    root.classList.add("snw-stale-panel");
    for (const control of composerBox.querySelectorAll("textarea, button, input, select")) {
      /** @type {HTMLInputElement} */ (control).disabled = true;
    }
    reason.show("");
  };
  const unwatch = watchKernel(model, () => goStale(staleText(model.get("conversation_name") || "")));
  const onSuperseded = () => {
    if (model.get("superseded")) goStale(supersededText(model.get("conversation_name") || ""));
  };
  model.on("change:superseded", onSuperseded);
  onSuperseded();

  return () => {
    unwatch();
    releaseSide();
    model.off("change:superseded", onSuperseded);
    releaseKeys();
    for (const [event, fn] of handlers) model.off(event, fn);
    rpc.dispose();
    log.dispose();
  };
}

export default { render };
