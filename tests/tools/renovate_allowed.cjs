// Evaluate a Renovate preset's packageRules the way Renovate does, for a list of package versions.
// Used by tests/test_renovate.py.
//
// usage: node renovate_allowed.cjs <preset.json> <queries.json> [<dir containing node_modules/renovate>]
//   queries.json: [[datasource, packageName, version], ...]
// prints one JSON object: {"engine": "...", "allowed": [true|false, ...]}
//
// With the renovate package, this is Renovate's own code: applyPackageRules (which rules match a
// dependency and how later rules override earlier ones) and getRegexPredicate, the first branch
// of allowedVersions in Renovate's lookup filter; Renovate picks RE2 when its optional re2 module
// loads (set RENOVATE_X_IGNORE_RE2=1 to force JavaScript's RegExp). Without the package, a small
// stand-in with JavaScript's RegExp: exact names (case-insensitive) and /regex/ or /regex/i
// names, the last matching rule's allowedVersions, and only /regex/ or !/regex/ values.
// Exit 0 with the answers; 3 when the renovate package cannot be loaded from the given dir;
// 5 when an allowedVersions is not a regex (Renovate would read it through versioning instead).
"use strict";

const { createRequire } = require("node:module");
const { readFileSync } = require("node:fs");
const path = require("node:path");

function renovateEngine(prefix) {
  const load = createRequire(path.join(path.resolve(prefix), "noop.js"));
  let dist;
  try {
    dist = path.dirname(load.resolve("renovate/dist/renovate.js"));
  } catch (error) {
    process.stderr.write(`cannot load the renovate package from ${prefix}: ${error.message}\n`);
    process.exit(3);
  }
  const { version } = load("renovate/package.json");
  const { applyPackageRules } = require(path.join(dist, "util/package-rules/index.js"));
  const { getRegexPredicate } = require(path.join(dist, "util/string-match.js"));
  const { regexEngineStatus } = require(path.join(dist, "util/regex.js"));
  const engine = `renovate ${version} (${regexEngineStatus.type === "available" ? "re2" : "RegExp"})`;
  async function allowedVersionsFor(rules, datasource, packageName) {
    const merged = await applyPackageRules({ packageRules: rules, datasource, packageName, depName: packageName });
    return merged.allowedVersions;
  }
  return { engine, allowedVersionsFor, getRegexPredicate };
}

function standInEngine() {
  const parse = (value) => {
    const match = /^(!?)\/(.*)\/(i?)$/s.exec(value);
    return match ? { negated: match[1] === "!", regex: new RegExp(match[2], match[3]) } : null;
  };
  const nameMatches = (name, pattern) => {
    const parsed = parse(pattern);
    if (parsed) return parsed.negated !== parsed.regex.test(name);
    return name.toLowerCase() === pattern.toLowerCase();
  };
  async function allowedVersionsFor(rules, datasource, packageName) {
    let allowed;
    for (const rule of rules) {
      if (rule.matchDatasources && !rule.matchDatasources.includes(datasource)) continue;
      if (rule.matchPackageNames && !rule.matchPackageNames.some((p) => nameMatches(packageName, p))) continue;
      if (rule.allowedVersions !== undefined) allowed = rule.allowedVersions;
    }
    return allowed;
  }
  function getRegexPredicate(value) {
    const parsed = parse(value);
    return parsed ? (version) => parsed.negated !== parsed.regex.test(version) : null;
  }
  return { engine: "stand-in (RegExp)", allowedVersionsFor, getRegexPredicate };
}

async function main() {
  const [presetFile, queriesFile, prefix] = process.argv.slice(2);
  const preset = JSON.parse(readFileSync(presetFile, "utf8"));
  const queries = JSON.parse(readFileSync(queriesFile, "utf8"));
  const { engine, allowedVersionsFor, getRegexPredicate } = prefix ? renovateEngine(prefix) : standInEngine();
  const predicates = new Map();
  const allowed = [];
  for (const [datasource, packageName, version] of queries) {
    const key = `${datasource}\u0000${packageName}`;
    if (!predicates.has(key)) {
      const value = await allowedVersionsFor(preset.packageRules || [], datasource, packageName);
      if (value === undefined) {
        predicates.set(key, () => true);
      } else {
        const predicate = getRegexPredicate(value);
        if (!predicate) {
          process.stderr.write(`allowedVersions of ${datasource} ${packageName} is not a regex: ${JSON.stringify(value)}\n`);
          process.exit(5);
        }
        predicates.set(key, predicate);
      }
    }
    allowed.push(predicates.get(key)(version));
  }
  process.stdout.write(JSON.stringify({ engine, allowed }) + "\n");
}

main().catch((error) => {
  process.stderr.write(`renovate_allowed failed: ${error.stack || error}\n`);
  process.exit(4);
});
