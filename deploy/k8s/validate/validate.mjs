// Validates Kubernetes manifests offline: every document against the
// Kubernetes API's OpenAPI schema (types, required fields, enum values and
// formats, through the models of the npm package kubernetes-models), then
// the reelmatch Jobs for what the schema cannot say: the embed Job is an
// Indexed Job whose shard count (env SHARDS) equals its completions and whose
// command reads JOB_COMPLETION_INDEX; the merge Job runs `embed --merge`.
// Unknown field names are not caught (the API schema allows them, as
// kubeconform's non-strict mode does).
//
//   node validate.mjs FILE.yaml...      exit 0 when all are valid, 1 if not
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";

const models = {
  "batch/v1/Job": () => import("kubernetes-models/batch/v1/Job"),
  "v1/PersistentVolumeClaim": () => import("kubernetes-models/v1/PersistentVolumeClaim"),
  "v1/ConfigMap": () => import("kubernetes-models/v1/ConfigMap"),
};

function reelmatchChecks(obj) {
  const errs = [];
  const spec = obj.spec ?? {};
  const containers = spec.template?.spec?.containers ?? [];
  const text = JSON.stringify(containers.map((c) => [c.command, c.args]));
  if (obj.metadata?.name === "reelmatch-embed") {
    if (spec.completionMode !== "Indexed") errs.push("spec.completionMode must be Indexed");
    const env = Object.fromEntries((containers[0]?.env ?? []).map((e) => [e.name, e.value]));
    if (String(spec.completions) !== env.SHARDS) {
      errs.push(`env SHARDS (${env.SHARDS}) must equal spec.completions (${spec.completions})`);
    }
    if (spec.parallelism > spec.completions) errs.push("spec.parallelism exceeds spec.completions");
    if (!text.includes("JOB_COMPLETION_INDEX") || !text.includes("--shard")) {
      errs.push("the container must run embed --shard $JOB_COMPLETION_INDEX/$SHARDS");
    }
  }
  if (obj.metadata?.name === "reelmatch-merge" && !text.includes("--merge")) {
    errs.push("the container must run embed --merge");
  }
  return errs;
}

let failed = 0;
for (const file of process.argv.slice(2)) {
  const docs = parseAllDocuments(readFileSync(file, "utf8"));
  for (const [i, doc] of docs.entries()) {
    const where = `${file}: document ${i + 1}`;
    if (doc.errors.length > 0) {
      console.error(`${where}: YAML: ${doc.errors[0].message}`);
      failed++;
      continue;
    }
    const obj = doc.toJS();
    if (obj === null) continue;
    const load = models[`${obj.apiVersion}/${obj.kind}`];
    if (!load) {
      console.error(`${where}: no schema here for ${obj.apiVersion} ${obj.kind}`);
      failed++;
      continue;
    }
    const mod = await load();
    const Model = mod.default ?? mod[obj.kind];
    const errs = [];
    try {
      new Model(obj).validate();
    } catch (e) {
      errs.push(...String(e.message).split("\n").filter((l) => l.trim() !== ""));
    }
    errs.push(...reelmatchChecks(obj));
    for (const e of errs) console.error(`${where} (${obj.kind} ${obj.metadata?.name}): ${e}`);
    if (errs.length > 0) failed++;
    else console.log(`${where}: ${obj.kind} ${obj.metadata?.name} valid`);
  }
}
process.exit(failed > 0 ? 1 : 0);
