// What outlasts the live panel: the Export menu (the kernel renders the text, the browser saves
// it as a Blob or copies it: nothing goes over the network), and the stale notice once the
// kernel is gone (restarted or shut down), which says how to bring the conversation back.
import { dropdown, h } from "./dom.js";

/** @typedef {{text: string, filename: string, mime: string}} Exported */

export class ExportMenu {
  /**
   * @param {import("./types").Call} call
   * @param {import("./dom.js").Reason} reason
   */
  constructor(call, reason) {
    this.call = call;
    this.reason = reason;
    this.menu = h(
      "div",
      { class: "snw-export-menu", role: "menu", hidden: true },
      this.item("Markdown download", () => this.download("md")),
      this.item("HTML download", () => this.download("html")),
      this.item("Notebook download", () => this.download("ipynb")),
      this.item("Copy all", () => this.copy()),
    );
    this.button = h(
      "button",
      { class: "snw-button snw-export", type: "button", "aria-haspopup": "menu", onclick: () => this.toggle() },
      "Export",
    );
    this.el = h("span", { class: "snw-export-box" }, this.button, this.menu);
    this.toggle = dropdown(this.el, this.menu);
  }

  /**
   * @param {string} label
   * @param {() => void} action
   */
  item(label, action) {
    const run = () => {
      this.menu.hidden = true;
      action();
    };
    return h("button", { class: "snw-button snw-export-item", type: "button", role: "menuitem", onclick: run }, label);
  }

  /** @param {string} format */
  async download(format) {
    /** @type {Exported | null} */
    const got = await this.call("export", { format });
    if (!got) return;
    const url = URL.createObjectURL(new Blob([got.text], { type: `${got.mime};charset=utf-8` }));
    const link = h("a", { href: url, download: got.filename, hidden: true });
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }

  async copy() {
    /** @type {Exported | null} */
    const got = await this.call("export", { format: "text" });
    if (!got) return;
    try {
      await navigator.clipboard.writeText(got.text);
      this.button.textContent = "Copied";
      setTimeout(() => (this.button.textContent = "Export"), 1500);
    } catch (err) {
      this.reason.show("The browser did not allow copying: use Markdown download instead.");
    }
  }
}

/** The notice a panel shows once its kernel is gone. @param {string} name */
export function staleText(name) {
  const saved = name ? ` (it was saved as \u201c${name}\u201d)` : "";
  return `The kernel restarted or stopped: this panel is no longer connected. Run the cell again to bring the conversation back${saved}.`;
}

/** The notice of a panel whose conversation a newer panel shows. @param {string} name */
export function supersededText(name) {
  return `A newer panel shows this conversation${name ? ` (\u201c${name}\u201d)` : ""}: type there; this one no longer sends.`;
}

/**
 * Whether the page shows this panel from a notebook's saved widget state on a kernel that never
 * made it (the notebook reopened later): ipywidgets' manager then holds the model with
 * `comm_live` false from the start, so none of the events below ever comes, and a message typed
 * would go nowhere. anywidget hands the view a proxy, so the manager's own model is the one whose
 * conversation is this very array.
 * @param {import("./types").PanelModel} model
 * @returns {Promise<boolean>}
 */
async function restoredWithoutKernel(model) {
  /** @type {any} */
  const manager = model.widget_manager;
  const models = manager && manager._models;
  if (!models || typeof models !== "object") return false; // marimo, or another manager
  const mine = model.get("conversation");
  for (const promise of Object.values(models)) {
    const candidate = await Promise.resolve(promise).catch(() => null);
    if (candidate && typeof candidate.get === "function" && candidate.get("conversation") === mine) {
      return candidate.comm_live === false;
    }
  }
  return false;
}

/**
 * Call `onStale` once when the panel's kernel is gone. JupyterLab's widget manager sets
 * `comm_live` to false on every model when the kernel restarts (`comm_live_update`), a closed
 * comm destroys the model, and the kernel's own status says `dead` when it is shut down; a panel
 * shown from saved state with no kernel-side widget is stale from the start.
 * @param {import("./types").PanelModel} model
 * @param {() => void} onStale
 * @returns {() => void} removes the listeners
 */
export function watchKernel(model, onStale) {
  let done = false;
  const fire = () => {
    if (done) return;
    done = true;
    onStale();
  };
  const events = ["comm_live_update", "comm:close", "destroy"];
  for (const event of events) model.on(event, fire);
  /** @type {any} */
  const manager = model.widget_manager;
  const kernel = manager && manager.kernel;
  /** @param {unknown} _sender @param {string} status */
  const onStatus = (_sender, status) => {
    if (status === "restarting" || status === "autorestarting" || status === "dead") fire();
  };
  const signal = kernel && kernel.statusChanged;
  if (signal && typeof signal.connect === "function") signal.connect(onStatus);
  restoredWithoutKernel(model).then((gone) => gone && fire());
  return () => {
    for (const event of events) model.off(event, fire);
    if (signal && typeof signal.disconnect === "function") signal.disconnect(onStatus);
  };
}
