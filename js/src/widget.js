// ChatPanel's view (an anywidget ES module). Synced traits carry the conversation (text,
// thumbnails, notices), the staged attachments, the settings and the busy flag; everything
// else (requests, streamed deltas) travels as custom messages. No credential ever reaches here.
import "./widget.css";
import { h, thumbnail } from "./dom.js";
import { Rpc } from "./rpc.js";
import { TurnList, lastSentUserIndex, renderAllTurns } from "./turns.js";

const PARAM_LABELS = {
  temperature: "Temperature",
  top_p: "Top p",
  max_new_tokens: "Max new tokens",
  repetition_penalty: "Repetition penalty",
};

let uid = 0;
const nextId = (prefix) => `snw-${prefix}-${++uid}`;

/** The reason the staged items cannot be sent, or null (6 images, 1 video, never both). */
export function stagedProblem(staged, limits) {
  const images = staged.filter((s) => s.kind === "image").length;
  const videos = staged.filter((s) => s.kind === "video").length;
  const maxImages = limits.max_images ?? 6;
  const maxVideos = limits.max_videos ?? 1;
  if (images && videos) return `Images and a video cannot go in one message: remove the video or the ${images} image(s).`;
  if (images > maxImages) return `At most ${maxImages} images per message: remove ${images - maxImages}.`;
  if (videos > maxVideos) return `At most ${maxVideos} video per message: remove ${videos - maxVideos}.`;
  return null;
}

function render({ model, el }) {
  const rpc = new Rpc(model);
  // Counted here, in the browser, as messages arrive: what the benchmark and the tests read.
  const stats = { customMessages: 0, changes: 0, events: [], renders: [], streamed: {}, final: {} };
  const note = (kind, name) => {
    if (stats.events.length < 20000) stats.events.push({ t: performance.now(), kind, name });
  };
  let editing = false;

  // ---------- layout ----------
  const root = h("div", { class: "snw-panel", role: "region", "aria-label": "SenseNova chat" });
  const modelSelect = h("select", { class: "snw-model", id: nextId("model") });
  const settingsToggle = h("button", { class: "snw-button", type: "button", "aria-expanded": "false" }, "Settings");
  const clearButton = h("button", { class: "snw-button snw-clear", type: "button" }, "Clear");
  const toolbar = h(
    "div",
    { class: "snw-toolbar" },
    h("span", { class: "snw-title" }, "SenseNova"),
    h("label", { class: "snw-inline-label", for: modelSelect.id }, "Model"),
    modelSelect,
    h("span", { class: "snw-spacer" }),
    settingsToggle,
    clearButton,
  );

  const settingsBox = h("div", { class: "snw-settings", hidden: true });
  const paramInputs = {};
  const systemInput = h("textarea", { class: "snw-system", id: nextId("system"), rows: "2", placeholder: "Optional instructions for every reply" });

  const log = h("div", { class: "snw-log", role: "log", "aria-live": "polite", "aria-label": "Conversation" });
  const empty = h("div", { class: "snw-empty" }, "Ask about an image: attach one with the buttons below, drop or paste it here.");

  const stagedRow = h("div", { class: "snw-staged", "aria-label": "Attachments for the next message" });
  const reason = h("div", { class: "snw-reason", role: "alert" });
  const editBanner = h("div", { class: "snw-edit-banner", hidden: true });
  const textarea = h("textarea", {
    class: "snw-input",
    rows: "2",
    "aria-label": "Message",
    placeholder: "Message SenseNova (Enter sends, Shift+Enter for a new line)",
  });
  const imageInput = h("input", { type: "file", accept: "image/*", multiple: true, class: "snw-file", "aria-label": "Image files" });
  const videoInput = h("input", { type: "file", accept: "video/*", class: "snw-file", "aria-label": "Video file" });
  const attachImage = h("button", { class: "snw-button snw-attach-image", type: "button" }, "Image…");
  const attachVideo = h("button", { class: "snw-button snw-attach-video", type: "button" }, "Video…");
  const videoUrlButton = h("button", { class: "snw-button snw-attach-url", type: "button" }, "Video URL");
  const pickerButton = h("button", { class: "snw-button snw-picker-button", type: "button", "aria-expanded": "false" }, "From notebook");
  const sendButton = h("button", { class: "snw-button snw-send snw-primary", type: "button" }, "Send");

  const urlInput = h("input", { type: "url", class: "snw-url-input", placeholder: "https://example.com/clip.mp4", "aria-label": "Video URL" });
  const urlBox = h(
    "div",
    { class: "snw-url-box", hidden: true },
    urlInput,
    h("button", { class: "snw-button snw-url-add", type: "button", onclick: () => submitVideoUrl() }, "Attach"),
  );
  const picker = h("div", { class: "snw-picker", hidden: true, role: "dialog", "aria-label": "Notebook variables" });

  const composer = h(
    "div",
    { class: "snw-composer" },
    stagedRow,
    reason,
    editBanner,
    h("div", { class: "snw-input-row" }, textarea, sendButton),
    h("div", { class: "snw-attach-row" }, attachImage, attachVideo, videoUrlButton, pickerButton, imageInput, videoInput),
    urlBox,
    picker,
  );
  root.append(toolbar, settingsBox, log, composer);
  el.appendChild(root);

  el.snwStats = stats;
  // The naive way (rebuild every turn), timed into a scratch log, for the benchmark's baseline.
  el.snwRenderNaiveMs = () => {
    const scratch = h("div", { class: "snw-log" });
    log.after(scratch);
    const started = performance.now();
    renderAllTurns(scratch, model.get("conversation") || [], actions, false);
    void scratch.offsetHeight;
    const ms = performance.now() - started;
    scratch.remove();
    return ms;
  };

  // ---------- helpers ----------
  const showReason = (text) => {
    reason.textContent = text || "";
    reason.hidden = !text;
  };
  const call = async (method, params, buffers) => {
    try {
      showReason("");
      return await rpc.request(method, params, buffers);
    } catch (err) {
      showReason(err.message);
      return null;
    }
  };

  // ---------- settings ----------
  function buildSettings() {
    const params = model.get("parameters") || {};
    settingsBox.replaceChildren();
    for (const [name, spec] of Object.entries(params)) {
      const id = nextId(name);
      const input = h("input", {
        type: "number",
        id,
        class: "snw-param",
        "data-param": name,
        min: spec.min,
        max: spec.max,
        step: spec.integer ? "1" : "0.01",
        placeholder: String(spec.default),
        title: spec.allowed,
      });
      input.addEventListener("change", () => updateSetting(name, input));
      paramInputs[name] = input;
      settingsBox.appendChild(
        h("div", { class: "snw-field" }, h("label", { for: id }, PARAM_LABELS[name] || name), input, h("small", {}, spec.allowed)),
      );
    }
    settingsBox.appendChild(h("div", { class: "snw-field snw-field-wide" }, h("label", { for: systemInput.id }, "System prompt"), systemInput));
  }

  function inRange(spec, value) {
    const above = spec.min_inclusive ? value >= spec.min : value > spec.min;
    const below = spec.max_inclusive ? value <= spec.max : value < spec.max;
    return above && below && (!spec.integer || Number.isInteger(value));
  }

  function setSettings(patch) {
    model.set("settings", { ...(model.get("settings") || {}), ...patch });
    model.save_changes();
  }

  function updateSetting(name, input) {
    const spec = (model.get("parameters") || {})[name];
    if (input.value === "") {
      input.removeAttribute("aria-invalid");
      return setSettings({ [name]: null });
    }
    const value = Number(input.value);
    if (!Number.isFinite(value) || !inRange(spec, value)) {
      input.setAttribute("aria-invalid", "true");
      showReason(`${PARAM_LABELS[name] || name}: ${input.value} is not allowed, expected ${spec.allowed}.`);
      return;
    }
    input.removeAttribute("aria-invalid");
    showReason("");
    setSettings({ [name]: value });
  }

  function syncSettings() {
    const settings = model.get("settings") || {};
    for (const [name, input] of Object.entries(paramInputs)) {
      if (document.activeElement !== input) input.value = settings[name] ?? "";
    }
    if (document.activeElement !== systemInput) systemInput.value = settings.system || "";
    const models = model.get("models") || [];
    const current = settings.model || "";
    const names = models.includes(current) || !current ? models : [current, ...models];
    modelSelect.replaceChildren(...names.map((name) => h("option", { value: name }, name)));
    modelSelect.value = current;
  }

  systemInput.addEventListener("change", () => setSettings({ system: systemInput.value || null }));
  modelSelect.addEventListener("change", () => setSettings({ model: modelSelect.value }));
  settingsToggle.addEventListener("click", () => {
    settingsBox.hidden = !settingsBox.hidden;
    settingsToggle.setAttribute("aria-expanded", String(!settingsBox.hidden));
  });

  // ---------- conversation ----------
  const actions = {
    onEdit: () => startEdit(),
    onRegenerate: () => call("regenerate", {}),
    onRetry: () => call("regenerate", {}),
  };
  const turnList = new TurnList(log, actions);

  function renderConversation() {
    const started = performance.now();
    const turns = model.get("conversation") || [];
    const busy = !!model.get("busy");
    for (const turn of turns) {
      const entry = turn.status !== "streaming" && turnList.nodes.get(turn.id);
      const body = entry && entry.node.querySelector(".snw-streaming");
      if (body) {
        stats.streamed[turn.id] = body.textContent; // what the deltas built...
        stats.final[turn.id] = turn.text; // ...and the final text the kernel set once
      }
    }
    turnList.update(turns, busy);
    empty.hidden = turns.length > 0;
    if (!turns.length) log.appendChild(empty);
    void log.offsetHeight; // include layout in the measured time
    stats.renders.push({ turns: turns.length, ms: performance.now() - started });
    if (stats.renders.length > 1000) stats.renders.shift();
    log.scrollTop = log.scrollHeight;
  }

  // A turn starting or ending changes `conversation` and `busy` in one state message (hold_sync),
  // and the log depends on both: render it once, after that message's change events.
  let renderQueued = false;
  function queueRenderConversation() {
    if (renderQueued) return;
    renderQueued = true;
    queueMicrotask(() => {
      renderQueued = false;
      renderConversation();
    });
  }

  function renderBusy() {
    const busy = !!model.get("busy");
    sendButton.textContent = busy ? "Stop" : "Send";
    sendButton.classList.toggle("snw-stop", busy);
    sendButton.setAttribute("aria-label", busy ? "Stop the reply" : "Send the message");
    root.classList.toggle("snw-busy", busy);
    queueRenderConversation();
  }

  // ---------- staged attachments ----------
  function renderStaged() {
    const staged = model.get("staged") || [];
    stagedRow.replaceChildren(
      ...staged.map((item) =>
        h(
          "div",
          { class: `snw-staged-item snw-kind-${item.kind}`, title: item.label },
          thumbnail(item.thumb, item.label, item.kind),
          h("span", { class: "snw-staged-label" }, item.label),
          h(
            "button",
            { class: "snw-remove", type: "button", "aria-label": `Remove ${item.label}`, onclick: () => call("unstage", { id: item.id }) },
            "×",
          ),
        ),
      ),
    );
    stagedRow.hidden = staged.length === 0;
    showReason(stagedProblem(staged, model.get("limits") || {}));
  }

  async function attachFiles(files) {
    for (const file of files) {
      const kind = file.type.startsWith("video/") ? "video" : file.type.startsWith("image/") ? "image" : null;
      if (!kind) {
        showReason(`${file.name || "That file"} is neither an image nor a video.`);
        continue;
      }
      const buffer = await file.arrayBuffer();
      await call("attach_file", { name: file.name || `pasted.${file.type.split("/")[1]}`, mime: file.type, kind }, [buffer]);
    }
  }

  imageInput.addEventListener("change", async () => {
    await attachFiles([...imageInput.files]);
    imageInput.value = "";
  });
  videoInput.addEventListener("change", async () => {
    await attachFiles([...videoInput.files]);
    videoInput.value = "";
  });
  attachImage.addEventListener("click", () => imageInput.click());
  attachVideo.addEventListener("click", () => videoInput.click());
  videoUrlButton.addEventListener("click", () => {
    urlBox.hidden = !urlBox.hidden;
    if (!urlBox.hidden) urlInput.focus();
  });
  urlInput.addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      submitVideoUrl();
    }
  });
  async function submitVideoUrl() {
    const url = urlInput.value.trim();
    if (!/^https?:\/\//i.test(url)) {
      showReason("A video URL must start with http:// or https://.");
      return;
    }
    if (await call("attach_video_url", { url })) {
      urlInput.value = "";
      urlBox.hidden = true;
    }
  }

  root.addEventListener("dragover", (event) => {
    if (event.dataTransfer && [...event.dataTransfer.types].includes("Files")) {
      event.preventDefault();
      root.classList.add("snw-dragging");
    }
  });
  root.addEventListener("dragleave", () => root.classList.remove("snw-dragging"));
  root.addEventListener("drop", (event) => {
    root.classList.remove("snw-dragging");
    if (event.dataTransfer && event.dataTransfer.files.length) {
      event.preventDefault();
      event.stopPropagation(); // JupyterLab must not open the dropped file itself
      attachFiles([...event.dataTransfer.files]);
    }
  });
  textarea.addEventListener("paste", (event) => {
    const files = [...(event.clipboardData?.items || [])]
      .filter((item) => item.kind === "file" && item.type.startsWith("image/"))
      .map((item) => item.getAsFile())
      .filter(Boolean);
    if (files.length) {
      event.preventDefault();
      attachFiles(files);
    }
  });

  // ---------- notebook picker ----------
  async function openPicker() {
    picker.hidden = false;
    pickerButton.setAttribute("aria-expanded", "true");
    picker.replaceChildren(h("div", { class: "snw-picker-status" }, "Looking for images in the notebook…"));
    const result = await call("list_variables", {});
    if (!result) {
      picker.hidden = true;
      return;
    }
    const items = result.items || [];
    const close = h("button", { class: "snw-button snw-picker-close", type: "button", onclick: closePicker }, "Close");
    if (!items.length) {
      picker.replaceChildren(h("div", { class: "snw-picker-status" }, "No image-like variables in the notebook yet (PIL images, arrays, figures, frame stacks)."), close);
      return;
    }
    picker.replaceChildren(
      h(
        "ul",
        { class: "snw-picker-list" },
        items.map((item) => {
          const button = h(
            "button",
            {
              class: "snw-picker-item",
              type: "button",
              "data-name": item.name,
              onclick: async () => {
                if (await call("attach_variable", { name: item.name })) closePicker();
              },
            },
            thumbnail(item.thumb, "", item.kind),
            h("span", { class: "snw-picker-name" }, item.name),
            h("small", {}, item.description || item.kind),
          );
          return h("li", {}, button);
        }),
      ),
      close,
    );
    const first = picker.querySelector(".snw-picker-item");
    if (first) first.focus();
  }
  function closePicker() {
    picker.hidden = true;
    pickerButton.setAttribute("aria-expanded", "false");
    pickerButton.focus();
  }
  pickerButton.addEventListener("click", () => (picker.hidden ? openPicker() : closePicker()));
  picker.addEventListener("keydown", (event) => {
    if (event.key === "Escape") closePicker();
  });

  // ---------- sending ----------
  function startEdit() {
    const turns = model.get("conversation") || [];
    const last = turns[lastSentUserIndex(turns)];
    if (!last) return;
    editing = true;
    textarea.value = last.text || "";
    editBanner.replaceChildren(
      h("span", {}, "Editing your last message: Send replaces it and its reply."),
      h("button", { class: "snw-button", type: "button", onclick: cancelEdit }, "Cancel"),
    );
    editBanner.hidden = false;
    textarea.focus();
  }
  function cancelEdit() {
    editing = false;
    editBanner.hidden = true;
    textarea.value = "";
  }

  async function sendOrStop() {
    if (model.get("busy")) {
      await call("stop", {});
      return;
    }
    const text = textarea.value;
    const staged = model.get("staged") || [];
    if (editing) {
      if (!text.trim()) return showReason("The edited message is empty.");
      textarea.value = "";
      editing = false;
      editBanner.hidden = true;
      await call("edit", { text });
      return;
    }
    const problem = stagedProblem(staged, model.get("limits") || {});
    if (problem) return showReason(problem);
    if (!text.trim() && !staged.length) return showReason("Type a message or attach an image first.");
    textarea.value = "";
    const ok = await call("send", { text });
    if (!ok && !textarea.value) textarea.value = text; // keep what was typed when the kernel refused
  }

  sendButton.addEventListener("click", sendOrStop);
  textarea.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      if (!model.get("busy")) sendOrStop();
    } else if (event.key === "Escape" && editing) {
      cancelEdit();
    }
  });
  clearButton.addEventListener("click", () => call("clear", {}));

  // ---------- model events ----------
  const onCustom = (msg) => {
    stats.customMessages += 1;
    note("custom", msg && msg.type);
    if (rpc.handle(msg)) return;
    if (msg && msg.type === "delta") {
      turnList.appendDelta(msg.turn, msg.offset, msg.text);
      log.scrollTop = log.scrollHeight;
    }
  };
  // One state message from the kernel can change several traits (hold_sync): their change
  // events fire in one task, so a burst counts as one message.
  let inBurst = false;
  const counted = (name, fn) => () => {
    if (!inBurst) {
      inBurst = true;
      stats.changes += 1;
      note("change", name);
      queueMicrotask(() => (inBurst = false));
    }
    fn();
  };
  const handlers = {
    "msg:custom": onCustom,
    "change:conversation": counted("conversation", queueRenderConversation),
    "change:busy": counted("busy", renderBusy),
    "change:staged": counted("staged", renderStaged),
    "change:settings": counted("settings", syncSettings),
    "change:models": counted("models", syncSettings),
    "change:parameters": counted("parameters", () => {
      buildSettings();
      syncSettings();
    }),
  };
  for (const [event, fn] of Object.entries(handlers)) model.on(event, fn);

  buildSettings();
  syncSettings();
  renderStaged();
  renderBusy();

  return () => {
    for (const [event, fn] of Object.entries(handlers)) model.off(event, fn);
    rpc.dispose();
  };
}

export default { render };
