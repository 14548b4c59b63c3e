"""What each host runtime adds or refuses, and that it never reaches an
upstream or a report: Spin's `spin-*` request headers (its full URL, query
secrets included, and the client's address), the `cf-*` headers Cloudflare's
edge adds, Spin's outbound allowlist."""

import pytest

from client import call
from conftest import GATEWAY_TOKEN
from fake_upstream import Reply

HEADER = "x-apex-ai-proxy-provider"
# What hosts add to incoming requests (sent by the client here, so every host
# is checked; Spin adds its own on top).
HOST_HEADERS = {"spin-full-url": "http://proxy/v1/x?key=SECRET-URL", "spin-client-addr": "10.1.2.3:5555",
                "cf-connecting-ip": "10.1.2.3", "cf-ray": "8f0-LHR", "x-real-ip": "10.1.2.3",
                "x-forwarded-for": "10.1.2.3", "cdn-loop": "cloudflare"}


@pytest.mark.smoke
def test_host_metadata_never_reaches_the_upstream(url, upstream, passthrough_header, host):
    r = call(url, "GET", "/v1/models?key=SECRET-URL", {HEADER: passthrough_header, "x-mine": "kept",
                                                        "cf-aig-cache-ttl": "60", **HOST_HEADERS})
    assert r.status == 200
    names = {k.lower() for k, _ in upstream.last().headers}
    assert "x-mine" in names and "cf-aig-cache-ttl" in names
    leaked = {n for n in names if n.startswith(("spin-", "cf-")) and not n.startswith("cf-aig-")} - {"cf-worker"}
    assert not leaked, leaked
    assert not names & {"x-real-ip", "x-forwarded-for", "cdn-loop"}
    assert b"SECRET-URL" not in str(upstream.last().headers).encode()


def test_host_metadata_never_reaches_a_report(proxies, host, upstream, aepipe, passthrough_header):
    proxy = proxies.get(host, "report")
    upstream.reply(Reply.json({"data": []}))  # bodies are reported as sent: no echo of the query here
    r = call(proxy.url, "GET", "/v1/models?key=SECRET-URL", {HEADER: passthrough_header, **HOST_HEADERS})
    assert r.status == 200
    reports = b"".join(req.body for req in aepipe.wait_for(2))
    at = reports.find(b"SECRET-URL")
    assert at < 0, reports[max(0, at - 300):at + 30]
    assert b"10.1.2.3" not in reports
    assert b"spin-" not in reports and b"cf-connecting-ip" not in reports


def test_spin_denials_name_the_manifest_entry_to_add(proxies, host, upstream, aepipe):
    if host != "spin":
        pytest.skip("only Spin keeps an outbound allowlist")
    proxy = proxies.get(host, "spin_project_manifest")
    r = call(proxy.url, "POST", "/v1/chat/completions", {"authorization": f"Bearer {GATEWAY_TOKEN}"},
             {"model": "m#openai"})
    assert r.status == 502
    entry = f"http://127.0.0.1:{upstream.port}"
    assert r.json()["error"]["message"].endswith(f'add "{entry}" to allowed_outbound_hosts in spin.toml'), r.body
    assert upstream.requests == []
    # The aepipe report is denied too, and the log line says what to add.
    import time
    deadline = time.monotonic() + 10
    want = f'add "http://127.0.0.1:{aepipe.port}" to allowed_outbound_hosts'
    while want not in proxy.log_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert want in proxy.log_text(), proxy.log_text()[-2000:]
