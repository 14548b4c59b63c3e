// A reference for the Worker rows: what a plain JavaScript Worker pays in the
// bench's harness for the gateway path, done the way the TypeScript original
// does it: check the gateway token, parse the body, route
// `<model>#<provider>`, rewrite `model`, fetch the gateway with its auth
// header, return the answer streamed with CORS. No translation, no length
// checks, no timeouts, no log: less than the proxy does, so its cost is a
// lower bound for a Worker with this feature set.
let token; // read once per isolate, as the proxy's Worker caches its configuration

export default {
  async fetch(request, env) {
    token ??= env.GATEWAY_TOKEN ?? (await env.GatewayToken.get());
    if (request.headers.get('authorization') !== `Bearer ${token}`) {
      return Response.json({ error: { message: 'invalid gateway token' } }, { status: 401 });
    }
    const body = await request.json();
    const [model, provider] = String(body.model).split('#');
    body.model = `${provider}/${model}`;
    const headers = new Headers({
      'content-type': 'application/json',
      'cf-aig-authorization': `Bearer ${token}`,
    });
    const url = `${env.GATEWAY_BASE_URL}/${env.ACCOUNT_ID}/${env.GATEWAY_ID}/compat/chat/completions`;
    const upstream = await fetch(url, { method: 'POST', headers, body: JSON.stringify(body) });
    const out = new Headers(upstream.headers);
    out.set('access-control-allow-origin', '*');
    return new Response(upstream.body, { status: upstream.status, headers: out });
  },
};
