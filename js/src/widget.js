// ChatPanel's view (an anywidget ES module). Synced traits carry the conversation (text,
// thumbnails, notices), the staged attachments, the settings and the busy flag; everything
// else (requests, streamed deltas) travels as custom messages. No credential ever reaches here.
// Each part of the panel is its own module owning its state; this one lays them out and routes
// the model's events to them.
import "./widget.css";
import { Attachments } from "./attachments.js";
import { Composer } from "./composer.js";
import { DevHooks } from "./dev.js";
import { h, Reason } from "./dom.js";
import { ConversationLog } from "./log.js";
import { Rpc, caller } from "./rpc.js";
import { Settings } from "./settings.js";

export { stagedProblem } from "./attachments.js";

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
  const log = new ConversationLog(model, {
    onEdit: () => composer.startEdit(),
    onRegenerate: () => call("regenerate", {}),
    onRetry: () => call("regenerate", {}),
  });
  const dev = SNW_DEV ? new DevHooks(el, model, log) : null;

  const root = h("div", { class: "snw-panel", role: "region", "aria-label": "SenseNova chat" });
  const clearButton = h("button", { class: "snw-button snw-clear", type: "button", onclick: () => call("clear", {}) }, "Clear");
  const toolbar = h(
    "div",
    { class: "snw-toolbar" },
    h("span", { class: "snw-title" }, "SenseNova"),
    settings.modelLabel,
    settings.modelSelect,
    h("span", { class: "snw-spacer" }),
    settings.toggle,
    clearButton,
  );
  const composerBox = h(
    "div",
    { class: "snw-composer" },
    attachments.row,
    reason.el,
    composer.editBanner,
    composer.row,
    attachments.buttons,
    attachments.urlBox,
    attachments.picker.box,
  );
  root.append(toolbar, settings.box, log.el, composerBox);
  el.appendChild(root);
  attachments.listen(root, composer.textarea);

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

  return () => {
    for (const [event, fn] of handlers) model.off(event, fn);
    rpc.dispose();
    log.dispose();
  };
}

export default { render };
