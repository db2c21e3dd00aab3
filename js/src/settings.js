// The panel's settings: the model picker in the toolbar and the box of sampling parameters and
// system prompt. A value outside the service's range is refused here, never synced, and the
// reason shows under that field until the value is fixed. The fields come in the order people
// think of them, with their ranges in words; a model list that failed to load says so.
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

/** The order of the fields; parameters not listed here follow, in the kernel's order. */
const PARAM_ORDER = ["temperature", "top_p", "max_new_tokens", "repetition_penalty"];

/**
 * The allowed range in words: "between 0 and 2", "above 0, up to 1", "a whole number from 1 to 2048".
 * @param {ParamSpec} spec
 */
export function rangeInWords(spec) {
  if (spec.integer) {
    const low = spec.min_inclusive ? spec.min : spec.min + 1;
    const high = spec.max_inclusive ? spec.max : spec.max - 1;
    return `a whole number from ${low} to ${high}`;
  }
  if (spec.min_inclusive && spec.max_inclusive) return `between ${spec.min} and ${spec.max}`;
  const low = spec.min_inclusive ? `from ${spec.min}` : `above ${spec.min}`;
  const high = spec.max_inclusive ? `up to ${spec.max}` : `below ${spec.max}`;
  return `${low}, ${high}`;
}

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
    this.modelError = h("span", { class: "snw-model-error", role: "status", hidden: true });
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
    /** @type {Record<string, HTMLElement>} */
    this.errors = {};
    const rank = (/** @type {string} */ name) => (PARAM_ORDER.includes(name) ? PARAM_ORDER.indexOf(name) : PARAM_ORDER.length);
    const ordered = Object.entries(params).sort(([a], [b]) => rank(a) - rank(b));
    for (const [name, spec] of ordered) {
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
        title: rangeInWords(spec),
        "aria-describedby": `${id}-hint ${id}-error`,
      });
      input.addEventListener("change", () => this.update(name, input));
      input.addEventListener("input", () => {
        if (input.getAttribute("aria-invalid") === "true" && this.problem(name, input.value) === null) this.mark(name, null);
      });
      this.inputs[name] = input;
      const label = h("label", { for: id }, PARAM_LABELS[name] || name);
      const hint = h("small", { id: `${id}-hint` }, rangeInWords(spec));
      this.errors[name] = h("div", { class: "snw-field-error", id: `${id}-error`, role: "alert", hidden: true });
      this.box.appendChild(h("div", { class: "snw-field", "data-field": name }, label, input, hint, this.errors[name]));
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
    const failed = this.model.get("models_error") || "";
    this.modelError.textContent = failed ? "⚠ list not loaded" : "";
    this.modelError.title = failed;
    this.modelError.hidden = !failed;
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
    const problem = this.problem(name, input.value);
    this.mark(name, problem);
    if (problem === null) this.patch({ [name]: input.value === "" ? null : Number(input.value) });
  }

  /**
   * Why `text` is not a value of `name`, or null when it is (empty means the default).
   * @param {string} name
   * @param {string} text
   * @returns {string | null}
   */
  problem(name, text) {
    if (text === "") return null;
    const spec = (this.model.get("parameters") || {})[name];
    const value = Number(text);
    if (spec && Number.isFinite(value) && inRange(spec, value)) return null;
    return `${text} is not allowed: expected ${spec ? rangeInWords(spec) : "a known parameter"}.`;
  }

  /**
   * Show (or clear, with null) a field's error next to it.
   * @param {string} name
   * @param {string | null} problem
   */
  mark(name, problem) {
    const input = this.inputs[name];
    const error = this.errors[name];
    if (problem) input.setAttribute("aria-invalid", "true");
    else input.removeAttribute("aria-invalid");
    if (error) {
      error.textContent = problem || "";
      error.hidden = !problem;
    }
  }
}
