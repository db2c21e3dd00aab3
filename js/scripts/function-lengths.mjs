// Fails when a function in src/ is longer than the limit (default 150 lines), so no view grows
// back into one closure; prints the longest functions either way. npm run check-functions
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { parse } from "acorn";

const LIMIT = Number(process.argv[2] || 150);
const SRC = new URL("../src/", import.meta.url).pathname;
const KINDS = new Set(["FunctionDeclaration", "FunctionExpression", "ArrowFunctionExpression"]);

/**
 * Every function node under `node`, found by walking each child object.
 * @param {any} node
 * @param {{node: any, name: string}[]} out
 * @param {string} name the name it is bound to (a method's key, a variable)
 * @returns {{node: any, name: string}[]}
 */
function functions(node, out = [], name = "") {
  if (!node || typeof node.type !== "string") return out;
  if (KINDS.has(node.type)) out.push({ node, name: node.id ? node.id.name : name || "(anonymous)" });
  const named = node.key || node.id;
  const childName = named && named.name ? named.name : "";
  for (const value of Object.values(node)) {
    if (Array.isArray(value)) for (const child of value) functions(child, out);
    else if (value && typeof value === "object" && typeof value.type === "string") functions(value, out, childName);
  }
  return out;
}

/** @type {{file: string, line: number, lines: number, name: string}[]} */
const found = [];
for (const file of readdirSync(SRC).filter((name) => name.endsWith(".js"))) {
  const tree = parse(readFileSync(join(SRC, file), "utf8"), { ecmaVersion: "latest", sourceType: "module", locations: true });
  for (const { node, name } of functions(tree)) {
    const lines = node.loc.end.line - node.loc.start.line + 1;
    found.push({ file, line: node.loc.start.line, lines, name });
  }
}
found.sort((a, b) => b.lines - a.lines);
for (const f of found.slice(0, 5)) console.log(`${f.lines} lines  ${f.file}:${f.line} ${f.name}`);
const over = found.filter((f) => f.lines > LIMIT);
if (over.length) {
  console.error(`${over.length} function(s) over ${LIMIT} lines`);
  process.exit(1);
}
