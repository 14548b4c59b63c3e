// The Worker's I/O, on the JavaScript side of the wasm boundary (entry.js
// drives it, asking the core at each step). Headers cross the boundary as one
// string, the upstream fetch and its deadline run here, and a body the proxy
// passes unchanged is pumped here and never enters wasm. The rules are the core's
// (src/relay.rs): the head waits for the body's first bytes, a declared length
// is verified before the last byte goes out, a body never ends falsely
// complete, and every wait is bounded.

/**
 * Headers as one string, `name\nvalue\n…` (neither may hold a newline),
 * without the names in `leaveOut`.
 */
export function headerText(headers, leaveOut = null) {
  let text = '';
  // forEach, not for…of: half the cost in workerd (no entry arrays).
  headers.forEach((value, name) => {
    if (leaveOut === null || !leaveOut.includes(name)) text += name + '\n' + value + '\n';
  });
  return text;
}

/** Headers from their text (`headerText`). */
function fromText(text) {
  const headers = new Headers();
  const parts = text.split('\n');
  for (let i = 0; i + 1 < parts.length; i += 2) headers.append(parts[i], parts[i + 1]);
  return headers;
}

/** A response for the client: `body` is bytes, a stream, or null. */
export function respond(status, headers, body) {
  return new Response(body, { status, headers: fromText(headers) });
}

/** The runtime's words for a failure. */
function words(error) {
  return String(error?.message ?? error);
}

/** A report call that gave up. */
class Silent extends Error {}

/** Resolves to `promise`'s value, or rejects with `Silent` after `ms`. */
function within(promise, ms, what) {
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Silent(`${what} for more than ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/**
 * The client's body, read whole: bytes, or null once it passes `limit`
 * bytes. A body that breaks off rejects, never reads as a shorter one.
 */
export async function readBody(request, limit) {
  if (request.body === null) return new Uint8Array(0);
  const declared = Number(request.headers.get('content-length') ?? NaN);
  if (declared > limit) return null;
  if (declared <= limit) {
    // workerd holds a body with a content-length to exactly that length.
    try {
      return new Uint8Array(await request.arrayBuffer());
    } catch (e) {
      throw words(e);
    }
  }
  const reader = request.body.getReader();
  let gathered;
  try {
    gathered = await gather(async () => (await reader.read()).value, limit);
  } catch (e) {
    throw words(e);
  }
  const [bytes, ended] = gathered;
  if (ended) return bytes;
  reader.cancel().catch(() => {});
  return null;
}

/**
 * The chunks `next` gives, joined, until it gives undefined or just past
 * `cap` bytes: [bytes, whether the body ended].
 */
async function gather(next, cap) {
  const chunks = [];
  let total = 0;
  for (let chunk = await next(); chunk !== undefined; chunk = await next()) {
    chunks.push(chunk);
    total += chunk.length;
    if (total > cap) return [join(chunks, total), false];
  }
  return [join(chunks, total), true];
}

function join(chunks, total) {
  if (chunks.length === 1) return chunks[0];
  const all = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    all.set(chunk, at);
    at += chunk.length;
  }
  return all;
}

/** Resolves after `ms`. */
export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Posts a report; resolves to null when the receiver took it, else the problem in words. */
export async function post(url, headers, body, ms) {
  try {
    const call = fetch(url, { method: 'POST', headers: fromText(headers), body }).then(async (response) => {
      // A small answer of known length is read whole, the cheapest way to end it.
      const length = Number(response.headers.get('content-length') ?? NaN);
      if (length <= REPORT_ANSWER_CAP) await response.arrayBuffer();
      else await drain(response.body, REPORT_ANSWER_CAP);
      return response;
    });
    const response = await within(call, ms, 'waited');
    return response.ok ? null : `answered ${response.status}`;
  } catch (e) {
    return e instanceof Silent ? 'timed out' : `failed: ${words(e)}`;
  }
}

/** How much of a report's answer is read (it is only drained). */
const REPORT_ANSWER_CAP = 65536;

/**
 * Reads a body to its end and drops it, up to `cap` bytes, then cancels it.
 * Reading a small body to its end costs a fraction of cancelling it (workerd
 * CPU profile: 0.06 against 0.2 ms per report).
 */
async function drain(body, cap) {
  if (body === null) return;
  const reader = body.getReader();
  for (let total = 0; ; ) {
    const { done, value } = await reader.read();
    if (done) return;
    total += value.length;
    if (total > cap) {
      await reader.cancel();
      return;
    }
  }
}

/**
 * Whether workerd has decoded `response`'s body: its fetch undoes a
 * content-encoding of exactly `gzip` or `br` (not `GZIP`, `x-gzip`,
 * `deflate`, `zstd` or a list: those bodies arrive as sent), so the body is
 * not the bytes the content-length counts. The decoder's own checks (gzip's
 * length and CRC, br's framing) then tell a cut body from a complete one, and
 * the client gets the decoded body, which workerd compresses again for a
 * client that accepts it. (Probed in workerd; see the e2e test
 * test_a_compressed_answer_arrives_whole.)
 */
function isDecoded(response) {
  const coding = response.headers.get('content-encoding');
  return coding === 'gzip' || coding === 'br';
}

/** Answers of at most this many declared bytes are read in one call. */
const WHOLE_AT_ONCE = 65536;

/** A decoded answer is read whole up to this many bytes (a small gzip can decode to much more). */
const DECODED_AT_ONCE = 1024 * 1024;

/**
 * Whether `response` is read whole at once: a body of declared length up to
 * WHOLE_AT_ONCE that is not an event stream (whose first events must not
 * wait for its last).
 */
function readsWhole(response, method, declared) {
  return (
    response.body !== null &&
    method !== 'HEAD' &&
    declared > 0 &&
    declared <= WHOLE_AT_ONCE &&
    !(response.headers.get('content-type') ?? '').includes('event-stream')
  );
}

/**
 * One upstream exchange. `client` is the incoming request's signal (workerd's
 * `enable_request_signal`): the fetch ends when the client hangs up or the
 * proxy stops it, and the signal tells whose fault a broken exchange was.
 *
 * Every wait is bounded by one watchdog per exchange, not a timer per read:
 * `expect` moves its deadline, and when the deadline passes the watchdog
 * stops the fetch, which fails whatever read is pending.
 */
export class Upstream {
  constructor(client) {
    this.client = client ?? null;
    this.stopper = new AbortController();
    if (this.client !== null) {
      if (this.client.aborted) this.stopper.abort();
      else this.client.addEventListener('abort', () => this.stopper.abort(), { once: true });
    }
    this.response = null;
    this.reader = null;
    this.first = undefined;
    this.firstFailure = null;
    this.ended = false;
    this.requestBytes = 0;
    this.tooLarge = false;
    this.clientBodyFailed = null;
    this.deadline = 0;
    this.timer = undefined;
    this.barked = null;
    this.decoded = false;
  }

  /** Stops the fetch and its body (again is harmless). */
  stop() {
    this.stopper.abort();
    this.settle();
  }

  /** Whether the client hung up. */
  clientGone() {
    return this.client !== null && this.client.aborted;
  }

  /** Something must happen within `ms`, or the exchange is stopped as `what`. */
  expect(ms, what) {
    this.deadline = Date.now() + ms;
    this.what = `${what} for more than ${ms} ms`;
    if (this.timer === undefined) this.timer = setTimeout(() => this.bark(), ms);
  }

  bark() {
    this.timer = undefined;
    if (this.deadline === 0) return;
    const left = this.deadline - Date.now();
    if (left > 0) {
      this.timer = setTimeout(() => this.bark(), left);
    } else {
      this.barked = this.what;
      this.stopper.abort();
    }
  }

  /** Nothing more to wait for. */
  settle() {
    this.deadline = 0;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /**
   * A failure as Rust reads it: [true, the core's words] when the watchdog
   * stopped the exchange, [false, the runtime's words] for anything else.
   */
  failure(error) {
    return this.barked !== null ? [true, this.barked] : [false, words(error)];
  }

  /**
   * Sends the request (redirects are relayed, not followed) and waits for the
   * head within `ms`, then for the body's first bytes within `idle` (so an
   * upstream that fails before them gets a 502, not a head and a cut body).
   * Resolves to the status, or 0 when no head came in time; rejects with the
   * runtime's words.
   */
  async send(method, url, headers, body, ms, idle) {
    const init = { method, headers: fromText(headers), redirect: 'manual', signal: this.stopper.signal };
    if (body !== null && body.length !== 0) init.body = body;
    this.expect(ms, 'waited');
    try {
      this.response = await fetch(url, init);
    } catch (e) {
      this.settle();
      if (this.barked !== null) return 0;
      throw words(e);
    }
    this.decoded = isDecoded(this.response);
    const declared = Number(this.response.headers.get('content-length') ?? NaN);
    const whole = readsWhole(this.response, method, declared);
    try {
      if (whole && this.decoded) {
        await this.readDecoded(idle);
      } else if (whole) {
        // A small answer of declared length (the usual case) is read in one
        // call, bounded as one wait: cheaper than a reader and its reads.
        this.expect(idle, 'silent');
        this.first = new Uint8Array(await this.response.arrayBuffer());
        this.ended = true;
        if (this.first.length !== declared) {
          throw `the upstream body ended after ${this.first.length} of its ${declared} declared bytes`;
        }
      } else {
        this.first = await this.read(idle);
        // All the declared bytes at once: by HTTP framing the body ends there
        // (workerd never reads a body past its content-length).
        this.ended = !this.decoded && this.first !== undefined && this.first.length === declared;
      }
      // A whole body goes out as bytes, with no stream to pump.
      if (this.ended) this.settle();
    } catch (e) {
      this.settle();
      this.firstFailure = this.failure(e);
    }
    return this.response.status;
  }

  /**
   * A small answer workerd decoded, read whole up to DECODED_AT_ONCE bytes:
   * then it goes out with its decoded length, complete as the decoder found
   * it (a cut one fails here, a 502). A bigger one keeps what was read as its
   * first bytes and streams the rest.
   */
  async readDecoded(idle) {
    const [bytes, ended] = await gather(() => this.read(idle), DECODED_AT_ONCE);
    this.ended = ended;
    this.first = bytes.length === 0 ? undefined : bytes;
  }

  /** Whether the body has ended with the first bytes (which are then all of it). */
  isWhole() {
    return this.ended;
  }

  /**
   * `send` with the client's body streamed on as it arrives, counted and cut
   * past `limit` bytes (`declared`: its content-length, or -1; a body of known
   * length goes out with it). Resolves as `send` does, or to -1 when the body
   * was larger than `limit`, or -2 when reading it failed (`clientBodyFailed`
   * then holds the runtime's words).
   */
  async sendStreaming(method, url, headers, request, limit, declared, ms, idle) {
    let body = null;
    if (request.body !== null) {
      if (declared > limit) return -1;
      const reader = request.body.getReader();
      body = new ReadableStream({
        pull: async (controller) => {
          let read;
          try {
            read = await reader.read();
          } catch (e) {
            this.clientBodyFailed = words(e);
            controller.error(e);
            return;
          }
          if (read.done) {
            controller.close();
            return;
          }
          this.requestBytes += read.value.length;
          if (this.requestBytes > limit) {
            this.tooLarge = true;
            reader.cancel().catch(() => {});
            controller.error(new Error('the request body is larger than the limit'));
            return;
          }
          controller.enqueue(read.value);
        },
        cancel: (reason) => reader.cancel(reason),
      });
      if (declared >= 0) {
        const fixed = new FixedLengthStream(declared);
        body.pipeTo(fixed.writable).catch(() => {});
        body = fixed.readable;
      }
    }
    try {
      const status = await this.send(method, url, headers, body, ms, idle);
      return this.tooLarge ? -1 : this.clientBodyFailed !== null ? -2 : status;
    } catch (e) {
      if (this.tooLarge) return -1;
      if (this.clientBodyFailed !== null) return -2;
      throw e;
    }
  }

  /** The response headers (after `send`). */
  headers() {
    // A decoded body is neither encoded nor of the length the upstream declared.
    return headerText(this.response.headers, this.decoded ? ['content-encoding', 'content-length'] : null);
  }

  /** The next body chunk (undefined at the end); the exchange stops after `ms` of silence. */
  async read(ms) {
    if (this.ended) return undefined;
    if (this.reader === null) {
      if (this.response.body === null) {
        this.settle();
        return undefined;
      }
      this.reader = this.response.body.getReader();
    }
    this.expect(ms, 'silent');
    const { done, value } = await this.reader.read();
    // Paused until the next read: a client slow to take the bytes is not an
    // upstream gone silent.
    this.deadline = 0;
    if (done) this.settle();
    return done ? undefined : value;
  }

  /**
   * The first bytes `send` read, once: their length (-1 for an empty body),
   * or throws `failure`'s pair when the body broke off before them.
   */
  firstBytes() {
    if (this.firstFailure !== null) throw this.firstFailure;
    return this.first === undefined ? -1 : this.first.length;
  }

  /** The first bytes, once (for Rust's relay). */
  takeFirst() {
    const first = this.first;
    this.first = undefined;
    return first;
  }

  /** `read` for Rust (the first bytes first): rejects with `failure`'s pair. */
  async next(ms) {
    if (this.first !== undefined) return this.takeFirst();
    try {
      return await this.read(ms);
    } catch (e) {
      throw this.failure(e);
    }
  }

  /**
   * Reads the body whole, up to just past `cap` bytes (the core judges the
   * rest), each read bounded by `ms`.
   */
  async readAll(cap, ms) {
    this.firstBytes();
    try {
      return (await gather(() => this.next(ms), cap))[0];
    } finally {
      this.settle();
    }
  }

  /**
   * The body for the client, passed unchanged after `firstBytes`: as a
   * fixed-length body when `declared` >= 0, so a short one shows as short.
   * `done` then resolves to [bytes sent, who broke it off: 0 nobody, 1 the
   * upstream, 2 the client, 3 the upstream's body (then `failure`'s pair)].
   */
  pass(declared, ms) {
    const { readable, writable } = declared >= 0 ? new FixedLengthStream(declared) : new TransformStream();
    this.done = this.pump(writable.getWriter(), declared, ms);
    return readable;
  }

  async pump(writer, declared, ms) {
    let sent = 0;
    let seen = 0;
    let held = null;
    let chunk = this.takeFirst();
    let clientSide = false;
    try {
      while (chunk !== undefined) {
        seen += chunk.length;
        if (declared >= 0) {
          if (seen > declared) throw 'the upstream sent more than its content-length';
          if (seen === declared && chunk.length > 0) {
            // The last byte waits for the upstream's end to confirm the length.
            held = chunk.subarray(chunk.length - 1);
            chunk = chunk.subarray(0, chunk.length - 1);
          }
        }
        clientSide = true;
        if (chunk.length > 0) await writer.write(chunk);
        clientSide = false;
        sent += chunk.length;
        try {
          chunk = await this.read(ms);
        } catch (e) {
          throw { broke: this.failure(e) };
        }
      }
      if (declared >= 0 && seen !== declared) {
        throw `the upstream body ended after ${seen} of its ${declared} declared bytes`;
      }
      clientSide = true;
      if (held !== null) {
        await writer.write(held);
        sent += 1;
      }
      await writer.close();
      return [sent, 0];
    } catch (e) {
      this.stop();
      writer.abort(e).catch(() => {});
      if (clientSide || this.clientGone()) return [sent, 2];
      if (e?.broke !== undefined) return [sent, 3, ...e.broke];
      return [sent, 1, words(e)];
    }
  }
}
