// Builds the portal's static files from the npm packages (run by `npm run build`):
//   src/portal/static/portal.css          GOV.UK Frontend compiled with the portal's settings
//   src/portal/static/vendor/*.js         GOV.UK Frontend's and HTMX's browser bundles
//   src/portal/static/vendor/VERSIONS.json which packages they came from
// The outputs are committed, so the portal serves them without Node at run time.
// `--check` rebuilds in memory and fails when a committed file differs (CI: no drift).
import { readFileSync, writeFileSync, mkdirSync, existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as sass from "sass";

const here = dirname(fileURLToPath(import.meta.url));
const modules = join(here, "node_modules");
const out = join(here, "src", "portal", "static");
const check = process.argv.includes("--check");

const version = (name) => JSON.parse(readFileSync(join(modules, name, "package.json"), "utf8")).version;

const css = sass.compile(join(here, "assets", "portal.scss"), {
  loadPaths: [modules],
  style: "compressed",
  quietDeps: true,
  silenceDeprecations: ["import", "global-builtin", "color-functions"],
}).css;

const outputs = {
  "portal.css": css + "\n",
  "vendor/govuk-frontend.min.js": readFileSync(
    join(modules, "govuk-frontend", "dist", "govuk", "govuk-frontend.min.js"),
    "utf8",
  ),
  "vendor/htmx.min.js": readFileSync(join(modules, "htmx.org", "dist", "htmx.min.js"), "utf8"),
  "vendor/VERSIONS.json":
    JSON.stringify(
      { "govuk-frontend": version("govuk-frontend"), "htmx.org": version("htmx.org"), sass: version("sass") },
      null,
      2,
    ) + "\n",
};

let stale = [];
for (const [name, content] of Object.entries(outputs)) {
  const path = join(out, name);
  if (check) {
    if (!existsSync(path) || readFileSync(path, "utf8") !== content) stale.push(name);
  } else {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, content);
    console.log(`wrote ${name} (${content.length} bytes)`);
  }
}
if (stale.length) {
  console.error(`stale static files (run npm run build in services/portal): ${stale.join(", ")}`);
  process.exit(1);
}
