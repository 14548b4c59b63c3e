// Runs the built Worker (cloudflare/build) in workerd through Miniflare, local
// mode, no network but loopback. Usage: node workerd_host.mjs PORT
// Environment: APEX_MINIFLARE (path of miniflare's dist/src/index.js),
// APEX_WORKER_BUILD (the worker-build output folder), APEX_WORKER_CONFIG (JSON of
// the settings). GATEWAY_TOKEN / AEPIPE_TOKEN become Secrets Store secrets
// GatewayToken / AepipeToken, as in production, unless APEX_WORKER_SECRETS=plain
// makes them plain Worker secrets (the `wrangler secret put` fallback);
// APEX_WORKER_STDIO=drain drops the Worker's output (see below).
import { pathToFileURL } from "node:url";

const { Miniflare } = await import(pathToFileURL(process.env.APEX_MINIFLARE).href);
const port = Number(process.argv[2]);
const build = process.env.APEX_WORKER_BUILD;
const { GATEWAY_TOKEN, AEPIPE_TOKEN, APEX_WORKER_SECRETS, ...vars } = JSON.parse(process.env.APEX_WORKER_CONFIG || "{}");
const plain = APEX_WORKER_SECRETS === "plain";
const STORE = "apex-local-store";
const secrets = { GatewayToken: GATEWAY_TOKEN, AepipeToken: AEPIPE_TOKEN };

const mf = new Miniflare({
  modules: true,
  scriptPath: `${build}/worker.js`,
  modulesRoot: build,
  modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"] }],
  compatibilityDate: "2025-09-01",
  compatibilityFlags: ["enable_request_signal"],
  bindings: plain ? { ...vars, ...(GATEWAY_TOKEN && { GATEWAY_TOKEN }), ...(AEPIPE_TOKEN && { AEPIPE_TOKEN }) } : vars,
  secretsStoreSecrets: plain ? {} : {
    GatewayToken: { store_id: STORE, secret_name: "GatewayToken" },
    AepipeToken: { store_id: STORE, secret_name: "AepipeToken" },
  },
  host: "127.0.0.1",
  port,
  cf: false,
  // APEX_WORKER_STDIO=drain (the bench): workerd's output is read and dropped
  // here, not re-printed line by line through Node as Miniflare does by
  // default. That re-printing is the harness's cost, not the Worker's: on
  // Cloudflare the log lines go to Workers Logs.
  ...(process.env.APEX_WORKER_STDIO === "drain" && {
    handleRuntimeStdio: (stdout, stderr) => { stdout.resume(); stderr.resume(); },
  }),
});
await mf.ready;
if (!plain) {
  for (const [binding, value] of Object.entries(secrets)) {
    if (value) await (await mf.getSecretsStoreSecretAPI(binding))().create(value);
  }
}
console.log(`workerd ready on ${port}`);
const stop = async () => { await mf.dispose(); process.exit(0); };
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
