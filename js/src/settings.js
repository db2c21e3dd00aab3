// The panel's settings: the model picker in the toolbar and the box of the request's parameters.
// The fields are built from the kernel's `parameters` trait (protocol.PARAMETERS: label, input
// kind, range, step), in its order: number fields, then toggles and text boxes, so a parameter
// added there shows here without a line of this file. A value outside the service's range is
// refused here, never synced, and the reason shows under that field until the value is fixed; a
// model list that failed to load says so. A range that depends on the model (max new tokens up to
// the model's own output limit) comes in the trait too: the kernel sends it again when the model
// changes, and the form is rebuilt.
import { h, nextId } from "./dom.js";

/** @typedef {import("./types").PanelModel} PanelModel */
/** @typedef {import("./types").ParamSpec} ParamSpec */
/** @typedef {import("./types").PanelSettings} PanelSettings */

/**
 * The allowed range in words: "between 0 and 2", "above 0, up to 1", "a whole number from 1 to 2048".
 * @param {ParamSpec} spec
 */
export function rangeInWords(spec) {
  const min = spec.min ?? 0;
  if (spec.integer) {
    const low = spec.min_inclusive ? min : min + 1;
    if (spec.max == null) return `a whole number from ${low}`;
    const high = spec.max_inclusive ? spec.max : spec.max - 1;
    return `a whole number from ${low} to ${high}`;
  }
  if (spec.max == null) return spec.min_inclusive ? `from ${min}` : `above ${min}`;
  if (spec.min_inclusive && spec.max_inclusive) return `between ${min} and ${spec.max}`;
  const low = spec.min_inclusive ? `from ${min}` : `above ${min}`;
  const high = spec.max_inclusive ? `up to ${spec.max}` : `below ${spec.max}`;
  return `${low}, ${high}`;
}

/**
 * Whether `value` is allowed by `spec` (open or closed ends, integers only where asked).
 * @param {ParamSpec} spec
 * @param {number} value
 */
export function inRange(spec, value) {
  const min = spec.min ?? -Infinity;
  const max = spec.max ?? Infinity;
  const above = spec.min_inclusive ? value >= min : value > min;
  const below = spec.max_inclusive ? value <= max : value < max;
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
    /** @type {Record<string, HTMLTextAreaElement>} the text boxes (the system prompt) */
    this.texts = {};
    /** @type {Record<string, {input: HTMLInputElement, field: HTMLElement, shownIf: string | null}>} */
    this.toggles = {};
    this.modelSelect.addEventListener("change", () => this.patch({ model: this.modelSelect.value }));
    this.toggle.addEventListener("click", () => {
      this.box.hidden = !this.box.hidden;
      this.toggle.setAttribute("aria-expanded", String(!this.box.hidden));
    });
  }

  /** Rebuild the fields from the kernel's descriptions (the `parameters` trait), in its order:
   * the number fields, then the toggles, then the text boxes (full width, last). */
  build() {
    const params = this.model.get("parameters") || {};
    this.box.replaceChildren();
    this.inputs = {};
    this.texts = {};
    this.toggles = {};
    /** @type {Record<string, HTMLElement>} */
    this.errors = {};
    /** @type {HTMLElement[][]} */
    const sections = [[], [], []];
    for (const [name, spec] of Object.entries(params)) {
      if (spec.kind === "number") sections[0].push(this.numberField(name, spec));
      else if (spec.kind === "toggle") sections[1].push(this.toggleField(name, spec));
      else if (spec.kind === "textarea") sections[2].push(this.textField(name, spec));
      else if (spec.kind === "picker") this.modelLabel.textContent = spec.label || "Model";
    }
    this.box.append(...sections.flat());
  }

  /**
   * A number field: its range in words under it, and its error next to it.
   * @param {string} name
   * @param {ParamSpec} spec
   */
  numberField(name, spec) {
    const id = nextId(name);
    const input = h("input", {
      type: "number",
      id,
      class: "snw-param",
      "data-param": name,
      min: spec.min ?? "",
      max: spec.max ?? "",
      step: spec.step || (spec.integer ? "1" : "0.01"),
      placeholder: spec.default == null ? "default" : String(spec.default),
      title: rangeInWords(spec),
      "aria-describedby": `${id}-hint ${id}-error`,
    });
    input.addEventListener("change", () => this.update(name, input));
    input.addEventListener("input", () => {
      if (input.getAttribute("aria-invalid") === "true" && this.problem(name, input.value) === null) this.mark(name, null);
    });
    this.inputs[name] = input;
    const label = h("label", { for: id }, spec.label || name);
    const hint = h("small", { id: `${id}-hint` }, rangeInWords(spec));
    this.errors[name] = h("div", { class: "snw-field-error", id: `${id}-error`, role: "alert", hidden: true });
    return h("div", { class: "snw-field", "data-field": name }, label, input, hint, this.errors[name]);
  }

  /**
   * A checkbox (thinking), shown only while the trait it names (`shown_if`) is true.
   * @param {string} name
   * @param {ParamSpec} spec
   */
  toggleField(name, spec) {
    const input = h("input", { type: "checkbox", class: `snw-${name}`, id: nextId(name) });
    input.addEventListener("change", () => this.patch({ [name]: input.checked }));
    const field = h(
      "div",
      { class: `snw-field snw-field-${name}`, title: spec.title || "" },
      h("label", { for: input.id }, spec.label || name),
      input,
      h("small", {}, spec.hint || ""),
    );
    this.toggles[name] = { input, field, shownIf: spec.shown_if || null };
    return field;
  }

  /**
   * A full-width text box (the system prompt); empty means unset.
   * @param {string} name
   * @param {ParamSpec} spec
   */
  textField(name, spec) {
    const box = h("textarea", { class: `snw-${name}`, id: nextId(name), rows: "2", placeholder: spec.hint || "" });
    box.addEventListener("change", () => this.patch({ [name]: box.value || null }));
    this.texts[name] = box;
    return h("div", { class: "snw-field snw-field-wide" }, h("label", { for: box.id }, spec.label || name), box);
  }

  /** Show the synced settings and model list, leaving alone the field being typed in. */
  sync() {
    const settings = this.model.get("settings") || {};
    for (const [name, input] of Object.entries(this.inputs)) {
      if (document.activeElement === input) continue;
      input.value = String(settings[name] ?? "");
      // a value kept from another model may exceed this one's limit (max new tokens): said here,
      // and the kernel refuses it on send
      this.mark(name, this.problem(name, input.value));
    }
    for (const [name, box] of Object.entries(this.texts)) {
      if (document.activeElement !== box) box.value = String(settings[name] || "");
    }
    for (const [name, { input, field, shownIf }] of Object.entries(this.toggles)) {
      input.checked = settings[name] === true;
      // e.g. thinking: only for models that reason
      field.hidden = shownIf !== null && !this.model.get(/** @type {any} */ (shownIf));
    }
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
