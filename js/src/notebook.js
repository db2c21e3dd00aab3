// Reaching the notebook from a reply: Insert puts a code block in a new cell below the panel's.
//
// A widget has no handle on JupyterLab's or Notebook 7's application (a labextension would; an
// anywidget is not one, and `window.jupyterapp` exists only when the server exposes it), and the
// kernel's `set_next_input` works only in the reply to a cell that runs, never from a comm. So the
// panel does what a person does with the keyboard, in both (they share Lumino's key bindings):
// focus the panel's cell (command mode), B inserts a cell below and selects it, Enter edits it,
// the code arrives as a paste (CodeMirror inserts pasted text as it is, no auto-indent), Escape
// leaves edit mode. Lumino reads `keyCode`, which Chromium and Firefox take from the event's init.
// Anywhere else (marimo, VS Code, a classic page), or if the new cell does not show the code, the
// code is copied and the button says to paste it.
import { copyText, h } from "./dom.js";

/** @type {Record<string, [string, number]>} */
const KEYS = { b: ["KeyB", 66], Enter: ["Enter", 13], Escape: ["Escape", 27] };

/**
 * @param {Element} target
 * @param {"b" | "Enter" | "Escape"} key
 */
function press(target, key) {
  const [code, keyCode] = KEYS[key];
  const init = { key, code, keyCode, which: keyCode, bubbles: true, cancelable: true };
  target.dispatchEvent(new KeyboardEvent("keydown", init));
}

const frame = () => new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));

/**
 * Wait (a few frames at most) until `test()` gives something.
 * @template T
 * @param {() => T | null | undefined | false} test
 * @returns {Promise<T | null>}
 */
async function soon(test) {
  for (let i = 0; i < 20; i++) {
    const got = test();
    if (got) return got;
    await frame();
  }
  return null;
}

/**
 * Insert `code` as a new code cell below the cell that holds `from`; true when the new cell
 * shows it (JupyterLab 4, Notebook 7), false where there is no such notebook.
 * @param {Element} from
 * @param {string} code
 */
export async function insertCellBelow(from, code) {
  const cell = from.closest(".jp-Notebook .jp-Cell");
  const notebook = cell && cell.closest(".jp-Notebook");
  if (!(cell instanceof HTMLElement) || !notebook) return false;
  cell.focus(); // command mode, this cell active: its focus is what the B binding's selector needs
  if (!(await soon(() => cell.classList.contains("jp-mod-active") && document.activeElement === cell))) return false;
  press(cell, "b");
  const added = await soon(() => {
    const active = notebook.querySelector(".jp-Cell.jp-mod-active");
    return active && active !== cell && cell.compareDocumentPosition(active) & Node.DOCUMENT_POSITION_FOLLOWING
      ? active
      : null;
  });
  if (!(added instanceof HTMLElement)) return false;
  press(added, "Enter");
  const editor = await soon(() => {
    const focused = document.activeElement;
    return focused && focused !== added && added.contains(focused) && focused.closest(".cm-editor") ? focused : null;
  });
  if (!editor) return false;
  const pasted = new DataTransfer();
  pasted.setData("text/plain", code);
  editor.dispatchEvent(new ClipboardEvent("paste", { clipboardData: pasted, bubbles: true, cancelable: true }));
  press(editor, "Escape");
  const firstLine = code.split("\n").find((line) => line.trim()) || "";
  return !!(await soon(() => (added.querySelector(".cm-content")?.textContent || "").includes(firstLine.trim())));
}

/**
 * The Insert button beside a code block's Copy.
 * @param {() => string} getText
 */
export function insertButton(getText) {
  const label = "Insert as a new cell below the panel";
  const button = h("button", { class: "snw-button snw-insert", type: "button", "aria-label": label, title: label }, "Insert");
  button.addEventListener("click", async () => {
    const code = getText().replace(/\n$/, "");
    if (await insertCellBelow(button, code)) {
      button.textContent = "Inserted";
    } else {
      const copied = await copyText(code);
      button.textContent = copied ? "Copied: paste it in a cell" : "Copy failed";
      button.title = "This page has no notebook the panel can add a cell to: the code was copied instead.";
    }
    setTimeout(() => {
      button.textContent = "Insert";
      button.title = label;
    }, 2500);
  });
  return button;
}
