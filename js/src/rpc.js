// Browser -> kernel requests as custom messages tagged with an id, answered in kind
// (the manzt/quak and lonboard pattern). Binary payloads travel as buffers, never base64.

/** @typedef {import("./types").PanelModel} PanelModel */
/** @typedef {import("./types").KernelMessage} KernelMessage */
/** @typedef {{resolve: (value: any) => void, reject: (error: Error) => void, timer: ReturnType<typeof setTimeout>}} Pending */

let counter = 0;
const viewTag = Math.random().toString(36).slice(2, 8);

export class Rpc {
  /**
   * @param {PanelModel} model
   * @param {{timeoutMs?: number}} [options]
   */
  constructor(model, { timeoutMs = 120000 } = {}) {
    this.model = model;
    this.timeoutMs = timeoutMs;
    /** @type {Map<string, Pending>} */
    this.pending = new Map();
  }

  /**
   * Send `method` with `params` (and optional ArrayBuffers); resolves with the kernel's result.
   * @param {string} method
   * @param {object} [params]
   * @param {ArrayBuffer[]} [buffers]
   * @returns {Promise<any>}
   */
  request(method, params = {}, buffers = []) {
    const id = `${viewTag}-${++counter}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`The kernel did not answer "${method}" within ${this.timeoutMs / 1000} s (is it running?)`));
      }, this.timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.model.send({ type: "request", id, method, params }, undefined, buffers);
    });
  }

  /**
   * Route a custom message; returns true when it was a response to one of ours.
   * @param {KernelMessage | null | undefined} msg
   */
  handle(msg) {
    if (!msg || msg.type !== "response") return false;
    const entry = this.pending.get(msg.id || "");
    if (!entry) return true; // another view's request
    this.pending.delete(msg.id || "");
    clearTimeout(entry.timer);
    if (msg.ok) entry.resolve(msg.result);
    else entry.reject(new Error(msg.error || "The kernel refused the request."));
    return true;
  }

  dispose() {
    for (const { reject, timer } of this.pending.values()) {
      clearTimeout(timer);
      reject(new Error("The view was closed."));
    }
    this.pending.clear();
  }
}

/**
 * A kernel request whose failure shows as the panel's reason (and resolves to null), so every
 * part of the panel reports errors the same way.
 * @param {Rpc} rpc
 * @param {import("./dom.js").Reason} reason
 * @returns {import("./types").Call}
 */
export function caller(rpc, reason) {
  return async (method, params, buffers) => {
    try {
      reason.show("");
      return await rpc.request(method, params, buffers);
    } catch (err) {
      reason.show(err instanceof Error ? err.message : String(err));
      return null;
    }
  };
}
