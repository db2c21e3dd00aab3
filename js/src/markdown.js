// Model text is untrusted: Markdown is rendered with raw HTML off (markdown-it `html: false`
// escapes every tag) and markdown-it's validateLink refuses javascript:, vbscript:, file: and
// non-image data: URLs. Model text never makes the page fetch anything: a remote image
// (`![x](https://...)`, protocol-relative, relative) becomes a link showing its alt text and URL,
// clicked by the user or not at all; only `data:` PNG/JPEG/GIF/WebP images stay inline. These are
// the rules of the kernel's renderer (sensenova_widget/render.py) for the magic and transcripts.
// Code blocks are highlighted with a handful of highlight.js languages only, to keep the bundle
// small. Math goes through Temml (see math.js); single line breaks are kept, as a model's list of
// lines is meant to stay a list of lines.
import MarkdownIt from "markdown-it";
import hljs from "highlight.js/lib/core";
import python from "highlight.js/lib/languages/python";
import javascript from "highlight.js/lib/languages/javascript";
import typescript from "highlight.js/lib/languages/typescript";
import json from "highlight.js/lib/languages/json";
import bash from "highlight.js/lib/languages/bash";
import sql from "highlight.js/lib/languages/sql";
import xml from "highlight.js/lib/languages/xml";
import css from "highlight.js/lib/languages/css";
import yaml from "highlight.js/lib/languages/yaml";
import { mathPlugin } from "./math.js";

for (const [name, lang] of Object.entries({ python, javascript, typescript, json, bash, sql, xml, css, yaml })) {
  hljs.registerLanguage(name, lang);
}
hljs.registerAliases(["py"], { languageName: "python" });
hljs.registerAliases(["js"], { languageName: "javascript" });
hljs.registerAliases(["ts"], { languageName: "typescript" });
hljs.registerAliases(["sh", "shell", "console"], { languageName: "bash" });
hljs.registerAliases(["html"], { languageName: "xml" });

const LINK_REL = "noopener noreferrer nofollow";

const md = new MarkdownIt({
  html: false,
  linkify: true,
  breaks: true,
  highlight(code, lang) {
    if (lang && hljs.getLanguage(lang)) {
      try {
        return hljs.highlight(code, { language: lang, ignoreIllegals: true }).value;
      } catch (_) {
        /* fall through to plain escaping */
      }
    }
    return ""; // markdown-it escapes the code itself
  },
});
md.use(mathPlugin);

// A fence's language becomes markdown-it's `language-...` class (and picks the highlighter) only
// when it is one word of letters, digits and `+-#.` that highlight.js knows; anything else is
// dropped, so an info string cannot add classes of the page's own (render.LANGUAGE_NAME's rule).
const LANGUAGE_NAME = /^[A-Za-z0-9+#.-]{1,32}$/;
md.core.ruler.push("safe_fence_info", (state) => {
  for (const token of state.tokens) {
    if (token.type !== "fence") continue;
    const name = md.utils.unescapeAll(token.info).trim().split(/\s+/)[0] || "";
    token.info = LANGUAGE_NAME.test(name) && hljs.getLanguage(name) ? name : "";
  }
});

// Links open in a new tab and cannot reach back into the notebook page; a link whose URL is not
// http(s) or mailto (a relative one would point into the notebook server) keeps its text only.
const defaultLinkOpen =
  md.renderer.rules.link_open || ((tokens, idx, options, env, self) => self.renderToken(tokens, idx, options));
md.renderer.rules.link_open = (tokens, idx, options, env, self) => {
  const href = safeHref(String(tokens[idx].attrGet("href") || ""));
  tokens[idx].attrs = (tokens[idx].attrs || []).filter(([name]) => name !== "href");
  if (href !== null) tokens[idx].attrSet("href", href);
  tokens[idx].attrSet("target", "_blank");
  tokens[idx].attrSet("rel", LINK_REL);
  return defaultLinkOpen(tokens, idx, options, env, self);
};

const DATA_IMAGE = /^data:image\/(?:png|jpeg|jpg|gif|webp);base64,[A-Za-z0-9+/]+={0,2}$/i;
const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):/;
// eslint-disable-next-line no-control-regex
const UNSAFE_URL_CHARS = /[\x00-\x20\x7f\\]/;
const escapeHtml = md.utils.escapeHtml;

/**
 * The URL as an href when it is http(s) or mailto (protocol-relative becomes https), else null:
 * render.safe_href's rule.
 * @param {string} url
 * @returns {string | null}
 */
export function safeHref(url) {
  url = url.trim();
  if (!url || UNSAFE_URL_CHARS.test(url)) return null;
  if (url.startsWith("//")) url = "https:" + url;
  const scheme = SCHEME.exec(url);
  if (!scheme) return null; // relative: in JupyterLab it would point into the notebook server
  const name = scheme[1].toLowerCase();
  if (name === "http" || name === "https") {
    return url.slice(name.length + 1).startsWith("//") && url.length > name.length + 3 ? url : null;
  }
  return name === "mailto" ? url : null;
}

/**
 * @param {import("markdown-it").Token[]} tokens
 * @param {number} idx
 * @returns {boolean} whether tokens[idx] sits inside a link (no anchor inside an anchor)
 */
function insideLink(tokens, idx) {
  let depth = 0;
  for (let i = idx - 1; i >= 0; i--) {
    if (tokens[i].type === "link_close") depth -= 1;
    if (tokens[i].type === "link_open") depth += 1;
  }
  return depth > 0;
}

// Images: inline only as data: PNG/JPEG/GIF/WebP; anything else a link the user may click.
md.renderer.rules.image = (tokens, idx, options, env, self) => {
  const token = tokens[idx];
  const src = String(token.attrGet("src") || "").trim();
  const title = String(token.attrGet("title") || "");
  const alt = self.renderInlineAsText(token.children || [], options, env).trim();
  const titleAttr = title ? ` title="${escapeHtml(title)}"` : "";
  if (DATA_IMAGE.test(src)) {
    return `<img src="${escapeHtml(src)}" alt="${escapeHtml(alt)}"${titleAttr} class="snw-img">`;
  }
  const label = escapeHtml(alt ? `image: ${alt}` : "image");
  const href = safeHref(src);
  let shown = escapeHtml(src.length <= 200 ? src : src.slice(0, 199) + "\u2026");
  if (href === null || insideLink(tokens, idx)) {
    if (href === null && SCHEME.test(src)) shown = "not shown"; // data: (not one of the four) or script:
    return `<span class="snw-image-link">${label} <span class="snw-url">(${shown})</span></span>`;
  }
  return (`<a href="${escapeHtml(href)}" rel="${LINK_REL}" target="_blank" class="snw-image-link"${titleAttr}>` +
          `${label} <span class="snw-url">(${shown})</span></a>`);
};

/**
 * Safe HTML for a Markdown string (every raw tag escaped, unsafe links dropped, no remote image).
 * @param {string} text
 * @returns {string}
 */
export function renderMarkdown(text) {
  return md.render(text || "");
}
