// The Worker's entry: a request's steps, in the order the core gives them.
// Each decision is the core's, asked of `Flow` (cloudflare/src/flow.rs, the
// wasm build) in synchronous calls: what crosses is a step number, a string
// or bytes, never a promise; the I/O is io.js's. scripts/build-worker.sh
// bundles this file, io.js and the wasm-bindgen glue that worker-build writes
// into cloudflare/build/worker.js.
import { Flow } from '../build/index.js';
import { headerText, post, readBody, respond, sleep, Upstream } from './io.js';

export default {
  fetch(request, env, ctx) {
    return handle(request, env, ctx);
  },
};

// The steps, as flow.rs numbers them.
const ANSWER = 0;
const READ_BODY = 1;
const UPLOAD_STREAM = 1;
const UPLOAD_READ = 2;
const READ_ALL = 1;
const WHOLE = 1;
const PASS = 2;

/** How long one aepipe call may take. */
const REPORT_TIMEOUT_MS = 5000;

/** Serves one request: the core decides, this does what it says. */
async function handle(request, env, ctx) {
  const now = Date.now();
  if (!Flow.configured(now)) await Flow.configure(env, now);
  const flow = Flow.start(request.method, request.url, headerText(request.headers), now);
  let step = flow.plan();
  if (step === READ_BODY) {
    try {
      const bytes = await readBody(request, flow.limit());
      step = bytes === null ? flow.tooLarge() : flow.body(bytes);
    } catch (why) {
      step = flow.bodyFailed(String(why));
    }
  }
  if (step === ANSWER) return answer(flow, ctx);
  return exchange(flow, request, ctx);
}

/** The core's complete answer; the request is over. */
function answer(flow, ctx) {
  const body = flow.takeBody();
  const response = respond(flow.status(), flow.headers(), body.length === 0 ? null : body);
  settle(flow, ctx);
  return response;
}

/**
 * Logs the request and, when it is the one to, sends the isolate's reports:
 * the promise of that, or null.
 */
function finish(flow) {
  const wait = flow.settle();
  flow.free();
  return wait >= 0 ? sleep(wait).then(() => sendReports(Flow.takeBatch())) : null;
}

/** `finish` while the request is in hand. */
function settle(flow, ctx) {
  const sending = finish(flow);
  if (sending !== null) ctx.waitUntil(sending);
}

async function sendReports(calls) {
  await Promise.all(
    calls.map(async ([url, headers, body]) => {
      const problem = await post(url, headers, body, REPORT_TIMEOUT_MS);
      if (problem !== null) console.error(`apex-ai-proxy: aepipe report to ${url} ${problem}`);
    }),
  );
}

/** Sends the request upstream and relays its answer. */
async function exchange(flow, request, ctx) {
  const upstream = new Upstream(request.signal);
  const [method, url, headers] = [flow.method(), flow.url(), flow.headers()];
  const [limit, idle] = [flow.firstByteMs(), flow.idleMs()];
  let status;
  try {
    const upload = flow.upload();
    if (upload === UPLOAD_STREAM) {
      const declared = flow.declared() ?? -1;
      try {
        status = await upstream.sendStreaming(method, url, headers, request, flow.limit(), declared, limit, idle);
      } finally {
        flow.uploadCounted(upstream.requestBytes);
      }
    } else {
      let body;
      if (upload === UPLOAD_READ) {
        try {
          body = await readBody(request, flow.limit());
        } catch (why) {
          flow.bodyFailed(String(why));
          return answer(flow, ctx);
        }
        if (body === null) status = -1;
        else flow.uploaded(body);
      } else {
        body = flow.takeUpload();
      }
      if (status === undefined) status = await upstream.send(method, url, headers, body, limit, idle);
    }
  } catch (why) {
    upstream.stop(); // a fetch past its deadline is stopped, not left running
    flow.fetchFailed(String(why), upstream.clientGone());
    return answer(flow, ctx);
  }
  if (status <= 0) {
    upstream.stop();
    if (status === 0) flow.late();
    else if (status === -1) flow.tooLarge();
    else flow.bodyFailed(upstream.clientBodyFailed ?? '');
    return answer(flow, ctx);
  }
  if (flow.head(status, upstream.headers()) === READ_ALL) {
    try {
      flow.whole(await upstream.readAll(flow.limit(), idle));
    } catch (e) {
      const [silent, text] = failurePair(e);
      flow.wholeFailed(silent, text, upstream.clientGone());
    }
    return answer(flow, ctx);
  }
  return stream(flow, upstream, idle, ctx);
}

/** A failure as `Upstream` gives it: [silent, words]. */
function failurePair(e) {
  return Array.isArray(e) ? e : [false, String(e?.message ?? e)];
}

/** The streamed answer: its head once the first bytes are in, then its body. */
function stream(flow, upstream, idle, ctx) {
  let firstLength;
  try {
    firstLength = upstream.firstBytes();
  } catch (e) {
    upstream.stop();
    const [silent, text] = failurePair(e);
    flow.firstFailed(silent, text, upstream.clientGone());
    return answer(flow, ctx);
  }
  const how = flow.first(firstLength, upstream.isWhole());
  if (how === ANSWER) {
    upstream.stop();
    return answer(flow, ctx);
  }
  const [status, headers, length] = [flow.status(), flow.headers(), flow.length() ?? -1];
  if (how === WHOLE) {
    // The whole body has arrived, at its declared length: it goes out as
    // bytes, and the request is done.
    const body = upstream.takeFirst() ?? null;
    if (body !== null && flow.capturing()) flow.capture(body);
    settle(flow, ctx);
    return respond(status, headers, body);
  }
  if (how === PASS) {
    // Nothing to change, nothing to capture: the bytes stay here. The log
    // line waits for the body's end (or the client's hang-up).
    const body = upstream.pass(length, idle);
    ctx.waitUntil(
      upstream.done.then(([sent, ended, a, b]) => {
        if (ended === 3) flow.passed(sent, ended, a, b);
        else flow.passed(sent, ended, false, a ?? '');
        return finish(flow);
      }),
    );
    return respond(status, headers, body);
  }
  // The first bytes go through the relay before the head goes out: a body
  // already longer than its content-length is a 502, not a head and a cut.
  const first = upstream.takeFirst();
  const out = first === undefined ? undefined : flow.chunk(first);
  if (first !== undefined && out === undefined) {
    upstream.stop();
    flow.tooLong();
    return answer(flow, ctx);
  }
  return respond(status, headers, relay(flow, upstream, out, length, idle, ctx));
}

/**
 * The body through the core's relay (`first`: the relayed first bytes): each
 * upstream chunk is changed (or counted and captured) by `flow.chunk`.
 * Fixed-length when `length` >= 0, so a body cut short shows as short;
 * otherwise a body that must end unfinished is errored.
 */
function relay(flow, upstream, first, length, idle, ctx) {
  let over = false;
  // The log line and the reports wait for the body's end (or the client's
  // hang-up), past the response: held open from the start, as a request
  // that has ended can no longer extend itself.
  let ended;
  ctx.waitUntil(new Promise((resolve) => (ended = resolve)));
  const end = (last) => {
    over = true;
    ended(finish(flow));
    return last;
  };
  const next = async () => {
    if (first !== undefined) {
      const out = first;
      first = undefined;
      return out;
    }
    let chunk;
    try {
      chunk = await upstream.read(idle);
    } catch (e) {
      upstream.stop();
      const [silent, text] = upstream.failure(e);
      return end(flow.cut(silent, text, upstream.clientGone()));
    }
    if (chunk === undefined) return end(flow.end());
    const out = flow.chunk(chunk);
    if (out !== undefined) return out;
    upstream.stop();
    return end(flow.longer());
  };
  const source = {
    // A pull that enqueues nothing is not called again: it reads on until
    // the relay gives bytes or the body ends.
    pull: async (controller) => {
      for (;;) {
        const out = await next();
        if (out === undefined) {
          controller.error(new Error('upstream body broke off'));
          return;
        }
        if (out.length > 0) controller.enqueue(out);
        if (over) controller.close();
        if (out.length > 0 || over) return;
      }
    },
    cancel: () => {
      if (over) return;
      upstream.stop(); // the client is gone: so is the upstream fetch
      flow.gone();
      end();
    },
  };
  const body = new ReadableStream(source, { highWaterMark: 0 });
  if (length < 0) return body;
  const fixed = new FixedLengthStream(length);
  body.pipeTo(fixed.writable).catch(() => {});
  return fixed.readable;
}
