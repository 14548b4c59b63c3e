// The Worker's entry (docs/hosts/cloudflare.md): it performs the steps of
// the core's exchange (`Flow`, cloudflare/src/lib.rs) and tells it what
// happened, in synchronous calls: what crosses into wasm is a step, a string
// or bytes, never a promise. Every decision is the core's; this file only
// reads, fetches, streams and waits, each wait bounded by one watchdog.
// scripts/build-worker.sh bundles it with the wasm-bindgen glue into
// cloudflare/build/worker.js.
import { Flow } from '../build/index.js';

export default {
  async fetch(request, env, ctx) {
    const now = Date.now();
    if (!Flow.configured(now)) await Flow.configure(env, now);
    const flow = Flow.start(request.method, request.url, headerText(request.headers), now);
    return new Run(flow, request, ctx).run(flow.step());
  },
};

/** The step kinds, as the core numbers them. */
const Step = Flow.steps();
/** How an answer goes on (`Flow.reply`). */
const [MORE, COMPLETE] = [0, 1];
/** Request bodies up to this are read whole before they go up: streaming them costs more CPU. */
const STREAM_ABOVE = 65536;
/** How long one aepipe call may take. */
const REPORT_TIMEOUT_MS = 5000;

/** Headers as one string, `name\nvalue\n…`, without those in `leaveOut`. */
function headerText(headers, leaveOut = null) {
  let text = '';
  // forEach, not for…of: half the cost in workerd (no entry arrays).
  headers.forEach((value, name) => {
    if (leaveOut === null || !leaveOut.includes(name)) text += name + '\n' + value + '\n';
  });
  return text;
}

function fromText(text) {
  const headers = new Headers();
  const parts = text.split('\n');
  for (let i = 0; i + 1 < parts.length; i += 2) headers.append(parts[i], parts[i + 1]);
  return headers;
}

/** The runtime's words for a failure. */
const words = (error) => String(error?.message ?? error);

/** The chunks as one array. */
function join(chunks) {
  if (chunks.length === 1) return chunks[0];
  const all = new Uint8Array(chunks.reduce((n, chunk) => n + chunk.length, 0));
  chunks.reduce((at, chunk) => (all.set(chunk, at), at + chunk.length), 0);
  return all;
}

/** One request: its I/O, step by step. */
class Run {
  constructor(flow, request, ctx) {
    [this.flow, this.request, this.ctx] = [flow, request, ctx];
    // The fetch ends when the client hangs up (`enable_request_signal`) or the watchdog barks.
    this.stopper = new AbortController();
    request.signal?.addEventListener('abort', () => this.stopper.abort(), { once: true });
    [this.response, this.reader, this.idle, this.deadline, this.timer] = [null, null, 0, 0, undefined];
    [this.barked, this.refused] = [false, undefined];
  }

  /** Performs steps until the answer has its head: the Worker's response. */
  async run(step) {
    for (;;) {
      if (step === Step.ReadBody) step = await this.readBody();
      else if (step === Step.Send) step = await this.send();
      else if (step === Step.Read) step = await this.read();
      else if (step === Step.Answer) return this.answer();
      else step = this.flow.end(Date.now()); // Upload outside a send: a host bug the flow answers 502
    }
  }

  /** Something must happen within `ms`, or the fetch is stopped: one timer, moved by later calls. */
  watch(ms) {
    this.deadline = Date.now() + ms;
    if (this.timer === undefined) this.timer = setTimeout(() => this.bark(), ms);
  }

  bark() {
    this.timer = undefined;
    const left = this.deadline - Date.now();
    if (this.deadline === 0) return; // nothing is awaited now
    if (left > 0) this.timer = setTimeout(() => this.bark(), left);
    else {
      this.barked = true;
      this.stopper.abort();
    }
  }

  /** A failed wait as the flow's event: an upload it refused, the watchdog's, the client's, the runtime's. */
  failed(error) {
    this.deadline = 0;
    const now = Date.now();
    if (this.refused !== undefined) return this.refused;
    if (this.barked) return this.flow.timeout(now);
    if (this.request.signal?.aborted) return this.flow.gone(now);
    return this.flow.failed(words(error), now);
  }

  /** The client's body, into the flow until it says what comes next. */
  async readBody() {
    const [flow, body] = [this.flow, this.request.body];
    try {
      // workerd holds a body with a content-length to exactly that length (the flow checked it).
      if (body !== null && this.request.headers.has('content-length')) {
        const step = flow.bodyChunk(new Uint8Array(await this.request.arrayBuffer()), Date.now());
        return step === Step.ReadBody ? flow.bodyEnd(Date.now()) : step;
      }
      for (const reader = body?.getReader(); ; ) {
        const { done, value } = reader === undefined ? { done: true } : await reader.read();
        const step = done ? flow.bodyEnd(Date.now()) : flow.bodyChunk(value, Date.now());
        if (done || step !== Step.ReadBody) return step;
      }
    } catch (e) {
      return flow.bodyFailed(words(e), Date.now());
    }
  }

  /**
   * The client's body for the upstream, each chunk let through by the flow: read whole
   * when small or of unknown length (workerd ends a failed chunked upload normally, and
   * the upstream would take a cut body for complete), else streamed at its length.
   */
  async upload() {
    const [flow, body] = [this.flow, this.request.body];
    if (body === null) return null;
    const declared = Number(this.request.headers.get('content-length') ?? NaN);
    const reader = body.getReader();
    // The next chunk the flow lets through (null: the end); throws, the flow's answer kept, otherwise.
    const next = async () => {
      const read = await reader.read().catch((e) => {
        this.refused = flow.bodyFailed(words(e), Date.now());
        throw e;
      });
      const step = read.done ? Step.Upload : flow.bodyChunk(read.value, Date.now());
      if (step === Step.Upload) return read.done ? null : read.value;
      this.refused = step;
      reader.cancel().catch(() => {});
      throw new Error('refused');
    };
    if (!(declared > STREAM_ABOVE)) {
      const chunks = [];
      for (let chunk = await next(); chunk !== null; chunk = await next()) chunks.push(chunk);
      return join(chunks);
    }
    const source = new ReadableStream({
      pull: (c) => next().then((chunk) => (chunk === null ? c.close() : c.enqueue(chunk)), (e) => c.error(e)),
    });
    return fixed(source, declared);
  }

  /** Sends the upstream request (redirects relayed, not followed) and hands the flow its head. */
  async send() {
    const flow = this.flow;
    // A fallback after a refused attempt: that answer is not read; after a silent one, a fresh signal.
    this.response?.body?.cancel().catch(() => {});
    if (this.barked) [this.barked, this.stopper] = [false, new AbortController()];
    const [method, url, headers, limit, streams] = flow.request();
    const init = { method, headers: fromText(headers), redirect: 'manual', signal: this.stopper.signal };
    try {
      const body = streams ? await this.upload() : flow.takeBody();
      if (body !== null && body.length !== 0) init.body = body;
      this.watch(limit);
      this.response = await fetch(url, init);
    } catch (e) {
      return this.failed(e);
    }
    this.deadline = 0;
    // workerd undoes a content-encoding of exactly gzip or br, and keeps the encoded length.
    const coding = this.response.headers.get('content-encoding');
    const decoded = coding === 'gzip' || coding === 'br';
    const leaveOut = decoded ? ['content-encoding', 'content-length'] : null;
    return flow.head(this.response.status, headerText(this.response.headers, leaveOut), decoded, Date.now());
  }

  /** The next of the upstream body (all of it, when the flow wants it whole). */
  async read() {
    const flow = this.flow;
    const [idle, whole] = flow.reading();
    if (idle > 0) this.idle = idle;
    try {
      this.watch(this.idle);
      if (whole && this.reader === null) {
        const bytes = new Uint8Array(await this.response.arrayBuffer());
        this.deadline = 0;
        return flow.last(bytes, Date.now());
      }
      if (this.reader === null && this.response.body !== null) this.reader = this.response.body.getReader();
      const { done, value } = this.reader === null ? { done: true } : await this.reader.read();
      this.deadline = 0;
      return done ? flow.end(Date.now()) : flow.chunk(value, Date.now());
    } catch (e) {
      return this.failed(e);
    }
  }

  /** The request is over for the client: the log line now, the reports later. */
  settle() {
    this.deadline = 0;
    clearTimeout(this.timer);
    const wait = this.flow.finish(Date.now());
    return wait < 0 ? null : sleep(wait).then(() => sendReports(Flow.takeBatch()));
  }

  /** The Worker's response: whole, or streamed on as the flow says. */
  answer() {
    const flow = this.flow;
    const [[status, headers, length, ending], first] = [flow.reply(), flow.takeBody()];
    if (ending !== MORE) {
      const reporting = this.settle();
      if (reporting !== null) this.ctx.waitUntil(reporting);
      // No head: the client went away before one (nobody reads this).
      return new Response(first.length === 0 ? null : first, { status: status || 499, headers: fromText(headers) });
    }
    // The log line and reports wait for the body's end, past the response: held open
    // from the start, as a request that has ended can no longer extend itself.
    let ended;
    this.ctx.waitUntil(new Promise((resolve) => (ended = resolve)));
    let [pending, over] = [first, false];
    const end = () => {
      over = true;
      ended(this.settle());
    };
    const source = {
      // A pull that enqueues nothing is not called again: it reads on until bytes or the end.
      pull: async (controller) => {
        while (!over) {
          let [bytes, how] = [pending, MORE];
          if (pending === null) {
            if ((await this.read()) !== Step.Answer) continue;
            [bytes, how] = [flow.takeBody(), flow.reply()[3]];
          }
          pending = null;
          if (bytes.length > 0) controller.enqueue(bytes);
          if (how !== MORE) {
            end();
            if (how === COMPLETE) controller.close();
            else controller.error(new Error('the upstream body broke off'));
          }
          if (bytes.length > 0 || over) return;
        }
      },
      cancel: () => {
        if (over) return;
        this.stopper.abort(); // the client is gone: so is the upstream fetch
        flow.gone(Date.now());
        end();
      },
    };
    const body = new ReadableStream(source, { highWaterMark: 0 });
    return new Response(length < 0 ? body : fixed(body, length), { status, headers: fromText(headers) });
  }
}

/** `body` as a fixed-length body: one cut short shows as short. */
function fixed(body, length) {
  const stream = new FixedLengthStream(length);
  body.pipeTo(stream.writable).catch(() => {});
  return stream.readable;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Posts the reports, each bounded; one not taken is one line on the log. */
async function sendReports(calls) {
  await Promise.all(
    calls.map(async ([url, headers, body]) => {
      let [status, problem, timer] = [0, '', undefined];
      const late = new Promise((_, no) => (timer = setTimeout(() => no(new Error('timed out')), REPORT_TIMEOUT_MS)));
      try {
        const response = await Promise.race([fetch(url, { method: 'POST', headers: fromText(headers), body }), late]);
        status = response.status;
        // Reading a small answer to its end costs a fraction of cancelling it.
        const small = Number(response.headers.get('content-length') ?? NaN) <= 65536;
        await Promise.race([small ? response.arrayBuffer() : response.body?.cancel(), late]);
      } catch (e) {
        problem = words(e);
      }
      clearTimeout(timer);
      const line = Flow.delivery(url, status, problem);
      if (line !== '') console.error(line);
    }),
  );
}
