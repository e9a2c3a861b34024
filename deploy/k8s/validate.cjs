// deploy/k8s/validate.cjs — validates the manifests of deploy/k8s offline:
//  1. every object against the Kubernetes OpenAPI schema (npm kubernetes-models: types,
//     required fields, enums, formats such as quantities; it does NOT reject unknown field
//     names, so a misspelt optional field passes this step),
//  2. the properties the Wisp deployment depends on (probes on the admin port, grace period
//     above shutdown_timeout, non-root read-only pod, the app ConfigMap at /app, scrape
//     annotations, the Service reaching the admin port), which pins those field names too.
// Usage: node validate.cjs NODE_MODULES_DIR FILE.yaml...   (verify.sh installs the modules)
"use strict";
const fs = require("fs");
const path = require("path");

const [modDir, ...files] = process.argv.slice(2);
if (!modDir || files.length === 0) {
  console.error("usage: node validate.cjs NODE_MODULES_DIR FILE.yaml...");
  process.exit(2);
}
const need = (name) => require(require.resolve(name, { paths: [modDir] }));
const YAML = need("yaml");

let failures = 0;
const fail = (msg) => { failures++; console.log("FAIL " + msg); };
const ok = (msg) => console.log("ok   " + msg);

// ---- 1. schema ----
const objects = [];
for (const file of files) {
  const docs = YAML.parseAllDocuments(fs.readFileSync(file, "utf8"), { prettyErrors: true });
  docs.forEach((doc, i) => {
    const where = `${path.basename(file)}#${i}`;
    if (doc.errors.length) return fail(`${where}: YAML: ${doc.errors.map((e) => e.message).join("; ")}`);
    const obj = doc.toJS();
    if (obj === null) return;
    if (obj.apiVersion === "kustomize.config.k8s.io/v1beta1") {
      console.log(`note ${where}: Kustomization, not a cluster object: not schema-checked (kubectl kustomize renders it)`);
      return;
    }
    if (!obj.apiVersion || !obj.kind) return fail(`${where}: apiVersion and kind are required`);
    const [group, version] = obj.apiVersion.includes("/") ? obj.apiVersion.split("/") : [null, obj.apiVersion];
    const modPath = `kubernetes-models/${group ? group + "/" : ""}${version}/${obj.kind}`;
    let Model;
    try {
      const m = need(modPath);
      Model = m[obj.kind] || m.default;
    } catch (e) {
      return fail(`${where}: no schema for ${obj.apiVersion} ${obj.kind}`);
    }
    try {
      new Model(obj).validate();
      ok(`${where}: ${obj.kind} ${obj.metadata && obj.metadata.name} matches the ${obj.apiVersion} schema`);
      objects.push({ where, obj });
    } catch (e) {
      fail(`${where}: ${obj.kind}: ${e.message}`);
    }
  });
}

// ---- 2. what the Wisp deployment relies on ----
const find = (kind) => objects.filter((o) => o.obj.kind === kind);
const check = (cond, msg) => (cond ? ok(msg) : fail(msg));
const seconds = (d) => {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(String(d).trim());
  if (!m) return NaN;
  return Number(m[1]) * { ms: 0.001, s: 1, m: 60, h: 3600 }[m[2]];
};

for (const { where, obj: dep } of find("Deployment")) {
  const pod = dep.spec.template;
  const spec = pod.spec;
  const c = spec.containers.find((x) => x.name === "wisp") || spec.containers[0];
  const args = [...(c.command || []), ...(c.args || [])];
  const ai = args.indexOf("--admin");
  const adminAddr = ai >= 0 ? args[ai + 1] : (args.find((a) => a.startsWith("--admin=")) || "").slice(8);
  const adminPort = Number((adminAddr || "").split(":").pop());
  check(adminAddr && adminAddr.startsWith("0.0.0.0:") && adminPort > 0,
        `${where}: wisp serves the admin endpoint on all pod addresses (--admin ${adminAddr})`);
  const portOf = (p) => (typeof p === "number" ? p : ((c.ports || []).find((x) => x.name === p) || {}).containerPort);
  for (const [probe, pathWanted] of [["livenessProbe", "/healthz"], ["readinessProbe", "/readyz"]]) {
    const g = c[probe] && c[probe].httpGet;
    check(g && g.path === pathWanted && portOf(g.port) === adminPort,
          `${where}: ${probe} GETs ${pathWanted} on the admin port ${adminPort}`);
  }
  const ann = pod.metadata.annotations || {};
  check(ann["prometheus.io/scrape"] === "true" && Number(ann["prometheus.io/port"]) === adminPort &&
        ann["prometheus.io/path"] === "/metrics",
        `${where}: Prometheus scrape annotations point at :${adminPort}/metrics`);
  const r = c.resources || {};
  check(r.requests && r.requests.cpu && r.requests.memory && r.limits && r.limits.memory && r.limits.cpu,
        `${where}: cpu and memory requests and limits are set`);
  const psc = spec.securityContext || {}, csc = c.securityContext || {};
  check((psc.runAsNonRoot || csc.runAsNonRoot) === true && Number(psc.runAsUser || csc.runAsUser) > 0,
        `${where}: runs as a non-root numeric user`);
  check(csc.readOnlyRootFilesystem === true && csc.allowPrivilegeEscalation === false &&
        ((csc.capabilities || {}).drop || []).includes("ALL"),
        `${where}: read-only root fs, no privilege escalation, all capabilities dropped`);
  check(!!(psc.seccompProfile || csc.seccompProfile), `${where}: a seccomp profile is set`);

  const mount = (c.volumeMounts || []).find((m) => m.mountPath === "/app");
  const vol = mount && (spec.volumes || []).find((v) => v.name === mount.name);
  const cmName = vol && vol.configMap && vol.configMap.name;
  const cm = find("ConfigMap").find((o) => o.obj.metadata.name === cmName);
  check(!!cm && args.includes("/app"), `${where}: the ConfigMap ${cmName} is mounted at /app and run from there`);

  // shutdown_timeout: the largest one set in the app's manifests; wisp's default is 10s
  const set = [];
  if (cm) {
    for (const [key, text] of Object.entries(cm.obj.data || {})) {
      if (!/\.ya?ml$/.test(key)) continue;
      for (const d of YAML.parseAllDocuments(text)) {
        const v = d.toJS();
        if (v && v.shutdown_timeout !== undefined) set.push(seconds(v.shutdown_timeout));
      }
    }
  }
  const shutdown = set.length ? Math.max(...set) : 10;
  const grace = spec.terminationGracePeriodSeconds === undefined ? 30 : spec.terminationGracePeriodSeconds;
  check(grace > shutdown, `${where}: terminationGracePeriodSeconds ${grace} > shutdown_timeout ${shutdown}s`);

  for (const { where: sw, obj: svc } of find("Service")) {
    const sel = svc.spec.selector || {};
    const labels = pod.metadata.labels || {};
    const matches = Object.keys(sel).length > 0 && Object.entries(sel).every(([k, v]) => labels[k] === v);
    const port = (svc.spec.ports || []).find((p) => portOf(p.targetPort === undefined ? p.port : p.targetPort) === adminPort);
    check(matches && !!port, `${sw}: Service ${svc.metadata.name} selects the pods and reaches the admin port ${adminPort}`);
  }
}
if (find("Deployment").length === 0) fail("no Deployment passed the schema check, so its properties were not checked");

console.log(failures ? `k8s: ${failures} problem(s)` : "k8s: all checks passed");
process.exit(failures ? 1 : 0);
