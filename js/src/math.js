// `$...$` and `$$...$$` in replies, typeset by Temml into MathML: the browser draws it with its
// own fonts, so nothing is fetched. Temml escapes the TeX it is given and, without `trust`,
// refuses \href, \url and the HTML-injecting macros; a formula it cannot parse shows as its
// escaped source. Currency ("$5 and $10") stays text: an inline formula may not start or end
// with a space, nor close right before a digit. Lengths (\rule, \hspace, \raisebox...) are capped
// by `maxSize` and macro expansion by `maxExpand`; what is still drawn outside (a negative kern or
// raise) is clipped by the formula's own box (`.snw-math`, `.snw-math-block` in widget.css).
import temml from "temml";

/** @type {{throwOnError: boolean, trust: boolean, maxSize: [number, number], maxExpand: number}} */
const OPTIONS = { throwOnError: true, trust: false, maxSize: [20, 240], maxExpand: 500 };

/** @typedef {import("markdown-it").MarkdownIt} MarkdownIt */
/** @typedef {any} StateInline */
/** @typedef {any} StateBlock */

/**
 * MathML for `tex` (a formula Temml cannot read comes back as its escaped source, marked).
 * @param {string} tex
 * @param {boolean} display
 * @returns {string}
 */
export function typeset(tex, display) {
  try {
    return temml.renderToString(tex, { ...OPTIONS, displayMode: display });
  } catch (_) {
    const escaped = tex.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
    return `<code class="snw-math-error" title="Not valid TeX">${escaped}</code>`;
  }
}

/**
 * The inline rule: `$x$` and `$$x$$` inside a paragraph.
 * @param {StateInline} state
 * @param {boolean} silent
 */
function inlineMath(state, silent) {
  const src = state.src;
  const start = state.pos;
  if (src[start] !== "$" || (start > 0 && src[start - 1] === "\\")) return false;
  const display = src[start + 1] === "$";
  const open = display ? 2 : 1;
  let end = start + open;
  for (;;) {
    end = src.indexOf(display ? "$$" : "$", end);
    if (end < 0) return false;
    if (src[end - 1] !== "\\") break;
    end += 1;
  }
  const tex = src.slice(start + open, end);
  if (!tex.trim()) return false;
  if (!display && (/^\s/.test(tex) || /\s$/.test(tex) || /\d/.test(src[end + 1] || ""))) return false;
  if (!silent) {
    const token = state.push(display ? "math_display_inline" : "math_inline", "math", 0);
    token.content = tex;
  }
  state.pos = end + open;
  return true;
}

/**
 * The block rule: a paragraph of its own between `$$` lines (or `$$ x $$` on one line).
 * @param {StateBlock} state
 * @param {number} startLine
 * @param {number} endLine
 * @param {boolean} silent
 */
function blockMath(state, startLine, endLine, silent) {
  const lineText = (/** @type {number} */ line) =>
    state.src.slice(state.bMarks[line] + state.tShift[line], state.eMarks[line]);
  const first = lineText(startLine);
  if (!first.startsWith("$$") || state.sCount[startLine] - state.blkIndent >= 4) return false;
  let body = first.slice(2);
  let line = startLine;
  let closed = body.trimEnd().endsWith("$$");
  if (closed) body = body.trimEnd().slice(0, -2);
  const lines = [body];
  while (!closed && ++line < endLine) {
    const text = lineText(line);
    if (text.trimEnd().endsWith("$$")) {
      lines.push(text.trimEnd().slice(0, -2));
      closed = true;
    } else {
      lines.push(text);
    }
  }
  if (!closed || !lines.join("").trim()) return false;
  if (silent) return true;
  const token = state.push("math_block", "math", 0);
  token.block = true;
  token.content = lines.join("\n");
  token.map = [startLine, line + 1];
  state.line = line + 1;
  return true;
}

/**
 * The markdown-it plugin: md.use(mathPlugin).
 * @param {MarkdownIt} md
 */
export function mathPlugin(md) {
  md.inline.ruler.after("escape", "math_inline", inlineMath);
  md.block.ruler.before("fence", "math_block", blockMath, { alt: ["paragraph", "reference", "blockquote", "list"] });
  md.renderer.rules.math_inline = (tokens, idx) => `<span class="snw-math">${typeset(tokens[idx].content, false)}</span>`;
  md.renderer.rules.math_display_inline = (tokens, idx) =>
    `<span class="snw-math">${typeset(tokens[idx].content, true)}</span>`;
  md.renderer.rules.math_block = (tokens, idx) => `<div class="snw-math-block">${typeset(tokens[idx].content, true)}</div>\n`;
}
