// The floor of a Worker's cost in the bench's harness: forward the request to
// the gateway URL and return the answer, nothing else (no auth, no routing, no
// log). The proxy's Worker rows are read against this row.
export default {
  fetch(request, env) {
    const url = `${env.GATEWAY_BASE_URL}/${env.ACCOUNT_ID}/${env.GATEWAY_ID}/compat/chat/completions`;
    return fetch(url, { method: request.method, headers: request.headers, body: request.body });
  },
};
