// Concurrent slow streams through a running proxy (scripts/bench-streams.sh
// starts it with the shipped serve command): N streams opened within a
// second, each answered by a fake upstream with CHUNKS SSE chunks INTERVAL ms
// apart; every stream is checked for order, completeness and a proper end.
// Prints completed / errors / peak open / RSS and CPU per stream of the proxy
// process / added chunk latency (proxy receive-to-client, p50 and p99).
//
// Usage: node streams.mjs MODE STREAMS CHUNKS INTERVAL_MS PROXY_URL PROXY_PID_FILE UPSTREAM_PORT_FILE
//   MODE: passthrough (OpenAI chat SSE passed through) or messages
//   (Anthropic /v1/messages translated to an OpenAI provider and back).
// The fake upstream listens first and writes its port to UPSTREAM_PORT_FILE
// (the proxy is configured with it), then waits for PROXY_URL to answer.
import http from 'node:http';
import fs from 'node:fs';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

if (!isMainThread) {
  const { CHUNKS, INTERVAL } = workerData;
  const now = () => performance.timeOrigin + performance.now();
  const head = 'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"';
  const tail = '"},"finish_reason":null}]}\n\n';
  const last = `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }], usage: { prompt_tokens: 5, completion_tokens: CHUNKS } })}\n\ndata: [DONE]\n\n`;
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      let i = 0;
      const chunk = () => {
        res.write(`${head}t=${now().toFixed(3)};i=${i};${tail}`);
        if (++i < CHUNKS) setTimeout(chunk, INTERVAL);
        else res.end(last);
      };
      chunk();
    });
  });
  server.listen(0, '127.0.0.1', () => parentPort.postMessage(server.address().port));
} else {

const [mode, streams, chunks, interval, proxyUrl, pidFile, portFile] = process.argv.slice(2);
const N = Number(streams);
const CHUNKS = Number(chunks);
const INTERVAL = Number(interval);
const now = () => performance.timeOrigin + performance.now();

// The fake upstream, on its own thread (the load client has the main one):
// OpenAI chat completion chunks, each carrying its send time.
const upstreamPort = await new Promise((resolve, reject) => {
  const thread = new Worker(new URL(import.meta.url), { workerData: { CHUNKS, INTERVAL } });
  thread.once('message', (port) => {
    thread.unref();
    resolve(port);
  });
  thread.once('error', reject);
});
fs.writeFileSync(portFile, String(upstreamPort));
const upstream = { address: () => ({ port: upstreamPort }) };

const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
const request = mode === 'messages'
  ? { path: '/v1/messages', headers: { 'x-api-key': 'bench-token', 'anthropic-version': '2023-06-01' },
      body: { model: 'gpt-5.5#openai', max_tokens: 64, stream: true, messages: [{ role: 'user', content: 'hi' }] } }
  : { path: '/v1/chat/completions', headers: { authorization: 'Bearer sk-bench', 'x-apex-ai-proxy-provider': `http://127.0.0.1:${upstream.address().port}` },
      body: { model: 'm', stream: true, messages: [{ role: 'user', content: 'hi' }] } };
const body = JSON.stringify(request.body);

// Wait for the proxy.
for (let tries = 0; ; tries++) {
  const up = await fetch(new URL('/healthz', proxyUrl)).then((r) => r.ok, () => false);
  if (up) break;
  if (tries > 600) throw new Error('the proxy did not start');
  await new Promise((r) => setTimeout(r, 100));
}
// The process to measure (its file may be written just after the proxy answers).
let proxyPid = '';
for (let tries = 0; !proxyPid; tries++) {
  proxyPid = fs.existsSync(pidFile) ? fs.readFileSync(pidFile, 'utf8').trim() : '';
  if (!proxyPid && tries > 100) throw new Error(`no process id in ${pidFile}`);
  if (!proxyPid) await new Promise((r) => setTimeout(r, 100));
}

function cpuAndRss() {
  const stat = fs.readFileSync(`/proc/${proxyPid}/stat`, 'utf8').split(') ')[1].split(' ');
  const ticks = Number(stat[11]) + Number(stat[12]); // utime + stime
  const rss = Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${proxyPid}/status`, 'utf8'))[1]) * 1024;
  return { cpuMs: (ticks * 1000) / 100, rss };
}

let open = 0;
let peak = 0;
let peakRss = 0;
const latencies = [];
const errors = new Map();
const fail = (why) => errors.set(why, (errors.get(why) ?? 0) + 1);

function one() {
  return new Promise((resolve) => {
    const req = http.request(new URL(request.path, proxyUrl), {
      method: 'POST', agent, headers: { 'content-type': 'application/json', ...request.headers },
    }, (res) => {
      if (res.statusCode !== 200) {
        fail(`status ${res.statusCode}`);
        res.resume();
        res.on('end', resolve);
        res.on('error', resolve);
        return;
      }
      open++;
      peak = Math.max(peak, open);
      let text = '';
      let seen = 0;
      res.setEncoding('utf8');
      res.on('data', (data) => {
        const at = now();
        text += data;
        for (const m of data.matchAll(/t=([\d.]+);i=(\d+);/g)) {
          latencies.push(at - Number(m[1]));
          if (Number(m[2]) !== seen) fail('chunks out of order');
          seen++;
        }
      });
      const done = (why) => {
        open--;
        if (why) fail(why);
        resolve();
      };
      res.on('end', () => {
        if (seen !== CHUNKS) return done(`ended after ${seen} of ${CHUNKS} chunks`);
        const ended = mode === 'messages' ? text.includes('event: message_stop') : text.includes('data: [DONE]');
        done(ended ? null : 'no proper end');
      });
      res.on('error', (e) => done(`broke off: ${e.code ?? e.message}`));
    });
    req.on('error', (e) => {
      fail(`request failed: ${e.code ?? e.message}`);
      resolve();
    });
    req.end(body);
  });
}

const before = cpuAndRss();
const sampler = setInterval(() => { peakRss = Math.max(peakRss, cpuAndRss().rss); }, 100);
const started = now();
const all = [];
for (let i = 0; i < N; i++) {
  all.push(one());
  // Opened within a second: a few at a time, spread over it.
  if (i % 50 === 49) await new Promise((r) => setTimeout(r, 1000 / (N / 50)));
}
await Promise.all(all);
clearInterval(sampler);
const after = cpuAndRss();
const wall = (now() - started) / 1000;
latencies.sort((a, b) => a - b);
const pct = (p) => (latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] : NaN);
const failed = [...errors.values()].reduce((a, b) => a + b, 0);
const completed = N - [...errors.entries()].filter(([k]) => k !== 'chunks out of order').reduce((a, [, v]) => a + v, 0);
console.log(
  `${mode.padEnd(12)} streams ${N}: completed ${completed}, errors ${failed}, peak open ${peak}, ` +
    `RSS ${(before.rss / 2 ** 20).toFixed(0)} -> peak ${(peakRss / 2 ** 20).toFixed(0)} MiB ` +
    `(${((peakRss - before.rss) / N / 1024).toFixed(1)} KiB per stream), ` +
    `CPU ${((after.cpuMs - before.cpuMs) / N).toFixed(2)} ms per stream, ` +
    `chunk latency (upstream write to client read) p50 ${pct(50).toFixed(2)} ms p99 ${pct(99).toFixed(2)} ms, wall ${wall.toFixed(1)} s`,
);
for (const [why, count] of errors) console.log(`  ${count} x ${why}`);
// A stream that failed is a defect, not a figure: past capacity streams wait.
process.exit(failed > 0 ? 1 : 0);
}
