#!/usr/bin/env node
// Report the production bundle's size, raw and gzipped (level 9), from the built files.
//   node scripts/bundle-size.mjs [dir]      default: ../src/tasksched/web (what the server ships)
// Exits 1 when the total gzipped size passes the budget (500 KB). The API docs' Swagger UI (api-docs/)
// is not part of the UI and not counted.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const BUDGET = 500 * 1024;
const here = fileURLToPath(new URL(".", import.meta.url));
const dir = resolve(process.argv[2] ?? join(here, "../../src/tasksched/web"));

function walk(path) {
  return statSync(path).isDirectory() ? readdirSync(path).flatMap((name) => walk(join(path, name))) : [path];
}

// api-docs/ holds Swagger UI for the API's own docs page (/api/docs): never loaded by the web UI.
const files = walk(dir).filter(
  (file) => /\.(js|css|html)$/.test(file) && !relative(dir, file).startsWith("api-docs/"),
);
const html = readFileSync(join(dir, "index.html"), "utf8");
let total = 0;
let initial = 0;
const rows = files.map((file) => {
  const data = readFileSync(file);
  const gz = gzipSync(data, { level: 9 }).length;
  const name = relative(dir, file);
  // Loaded by the first page: index.html, what it references, and the chunks the entry imports.
  const entry = html.includes(name.replace(/^assets\//, "")) || name === "index.html";
  total += gz;
  return { name, raw: data.length, gz, entry };
});
// Static imports of the entry chunk count as initial too.
const entryJs = rows.find((row) => row.entry && row.name.endsWith(".js") && row.name.startsWith("assets/index-"));
const entrySource = entryJs ? readFileSync(join(dir, entryJs.name), "utf8") : "";
for (const row of rows) {
  const base = row.name.replace(/^assets\//, "");
  if (row.entry || (entrySource && new RegExp(`^import[^;]*"\\./${base.replace(/[.]/g, "\\.")}"`, "m").test(entrySource))) {
    row.entry = true;
    initial += row.gz;
  }
}
rows.sort((a, b) => b.gz - a.gz);
const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
for (const row of rows) console.log(`${row.entry ? "*" : " "} ${row.name.padEnd(44)} ${kb(row.raw).padStart(10)} ${kb(row.gz).padStart(10)} gz`);
console.log(`total ${kb(total)} gzipped (budget ${kb(BUDGET)}); loaded by the first page (*): ${kb(initial)} gzipped`);
if (total > BUDGET) {
  console.error("over budget");
  process.exit(1);
}
