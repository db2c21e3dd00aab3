// The panel's settings: the model picker in the toolbar and the box of sampling parameters and
// system prompt. A value outside the service's range is refused here, never synced.
import { h, nextId } from "./dom.js";

/** @typedef {import("./types").PanelModel} PanelModel */
/** @typedef {import("./types").ParamSpec} ParamSpec */
/** @typedef {import("./types").PanelSettings} PanelSettings */

/** @type {Record<string, string>} */
const PARAM_LABELS = {
  temperature: "Temperature",
  top_p: "Top p",
  max_new_tokens: "Max new tokens",
  repetition_penalty: "Repetition penalty",
};

/**
 * Whether `value` is allowed by `spec` (open or closed ends, integers only where asked).
 * @param {ParamSpec} spec
 * @param {number} value
 */
export function inRange(spec, value) {
  const above = spec.min_inclusive ? value >= spec.min : value > spec.min;
  const below = spec.max_inclusive ? value <= spec.max : value < spec.max;
  return above && below && (!spec.integer || Number.isInteger(value));
}

export class Settings {
  /**
   * @param {PanelModel} model
   * @param {import("./dom.js").Reason} reason
   */
  constructor(model, reason) {
    this.model = model;
    this.reason = reason;
    /** @type {Record<string, HTMLInputElement>} */
    this.inputs = {};
    this.modelSelect = h("select", { class: "snw-model", id: nextId("model") });
    this.modelLabel = h("label", { class: "snw-inline-label", for: this.modelSelect.id }, "Model");
    this.toggle = h("button", { class: "snw-button", type: "button", "aria-expanded": "false" }, "Settings");
    this.box = h("div", { class: "snw-settings", hidden: true });
    this.system = h("textarea", {
      class: "snw-system",
      id: nextId("system"),
      rows: "2",
      placeholder: "Optional instructions for every reply",
    });
    this.system.addEventListener("change", () => this.patch({ system: this.system.value || null }));
    this.thinking = h("input", { type: "checkbox", class: "snw-thinking", id: nextId("thinking") });
    this.thinking.addEventListener("change", () => this.patch({ thinking: this.thinking.checked }));
    this.thinkingField = h(
      "div",
      { class: "snw-field snw-field-thinking", title: "Reasoning models think before they answer" },
      h("label", { for: this.thinking.id }, "Thinking"),
      this.thinking,
      h("small", {}, "show the model's reasoning above its answer"),
    );
    this.modelSelect.addEventListener("change", () => this.patch({ model: this.modelSelect.value }));
    this.toggle.addEventListener("click", () => {
      this.box.hidden = !this.box.hidden;
      this.toggle.setAttribute("aria-expanded", String(!this.box.hidden));
    });
  }

  /** Rebuild the parameter fields from the service's specs (the `parameters` trait). */
  build() {
    const params = this.model.get("parameters") || {};
    this.box.replaceChildren();
    this.inputs = {};
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
      input.addEventListener("change", () => this.update(name, input));
      this.inputs[name] = input;
      const label = h("label", { for: id }, PARAM_LABELS[name] || name);
      this.box.appendChild(h("div", { class: "snw-field" }, label, input, h("small", {}, spec.allowed)));
    }
    this.box.appendChild(this.thinkingField);
    const systemLabel = h("label", { for: this.system.id }, "System prompt");
    this.box.appendChild(h("div", { class: "snw-field snw-field-wide" }, systemLabel, this.system));
  }

  /** Show the synced settings and model list, leaving alone the field being typed in. */
  sync() {
    const settings = this.model.get("settings") || {};
    for (const [name, input] of Object.entries(this.inputs)) {
      if (document.activeElement !== input) input.value = String(settings[name] ?? "");
    }
    if (document.activeElement !== this.system) this.system.value = settings.system || "";
    this.thinking.checked = settings.thinking === true;
    this.thinkingField.hidden = !this.model.get("thinks"); // only for models that reason
    const models = this.model.get("models") || [];
    const current = settings.model || "";
    const names = models.includes(current) || !current ? models : [current, ...models];
    this.modelSelect.replaceChildren(...names.map((name) => h("option", { value: name }, name)));
    this.modelSelect.value = current;
  }

  /** @param {PanelSettings} patch */
  patch(patch) {
    this.model.set("settings", { ...(this.model.get("settings") || {}), ...patch });
    this.model.save_changes();
  }

  /**
   * @param {string} name
   * @param {HTMLInputElement} input
   */
  update(name, input) {
    const spec = (this.model.get("parameters") || {})[name];
    if (input.value === "") {
      input.removeAttribute("aria-invalid");
      this.patch({ [name]: null });
      return;
    }
    const value = Number(input.value);
    if (!spec || !Number.isFinite(value) || !inRange(spec, value)) {
      input.setAttribute("aria-invalid", "true");
      const allowed = spec ? spec.allowed : "a known parameter";
      this.reason.show(`${PARAM_LABELS[name] || name}: ${input.value} is not allowed, expected ${allowed}.`);
      return;
    }
    input.removeAttribute("aria-invalid");
    this.reason.show("");
    this.patch({ [name]: value });
  }
}
