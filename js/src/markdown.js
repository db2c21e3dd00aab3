// Model text is untrusted: Markdown is rendered with raw HTML off (markdown-it `html: false`
// escapes every tag) and markdown-it's validateLink refuses javascript:, vbscript:, file: and
// non-image data: URLs. Code blocks are highlighted with a handful of highlight.js languages
// only, to keep the bundle small. Math goes through Temml (see math.js); single line breaks are
// kept, as a model's list of lines is meant to stay a list of lines.
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

// Links open in a new tab and cannot reach back into the notebook page.
const defaultLinkOpen =
  md.renderer.rules.link_open || ((tokens, idx, options, env, self) => self.renderToken(tokens, idx, options));
md.renderer.rules.link_open = (tokens, idx, options, env, self) => {
  tokens[idx].attrSet("target", "_blank");
  tokens[idx].attrSet("rel", "noopener noreferrer nofollow");
  return defaultLinkOpen(tokens, idx, options, env, self);
};

/**
 * Safe HTML for a Markdown string (every raw tag escaped, unsafe links dropped).
 * @param {string} text
 * @returns {string}
 */
export function renderMarkdown(text) {
  return md.render(text || "");
}
