"""Fixtures: one fake upstream per test process, proxies started lazily per
(host, profile) and reused, every test parametrized over the hosts in --hosts."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from fake_upstream import FakeUpstream, Silent  # noqa: E402
from hosts import HOSTS, Running, free_port  # noqa: E402

GATEWAY_TOKEN = "test-gateway-token"
AEPIPE_TOKEN = "test-aepipe-token"


def profiles(upstream: FakeUpstream, aepipe: FakeUpstream, silent: Silent) -> dict[str, dict[str, str]]:
    """Named configurations the tests run the proxy with."""
    gateway = {
        "ACCOUNT_ID": "acc",
        "GATEWAY_ID": "gw",
        "GATEWAY_TOKEN": GATEWAY_TOKEN,
        "GATEWAY_BASE_URL": f"{upstream.url}/v1",
        "AZURE_RESOURCE": "res",
        "GATEWAY_MODELS": "deepseek-v4-pro#deepseek,gpt-5.5#openai,claude-opus-4.7#anthropic",
    }
    return {
        # Gateway pointed at the fake; passthrough may reach loopback.
        "main": {**gateway, "PASSTHROUGH_ALLOW_PRIVATE": "true", "MAX_BODY_BYTES": str(8 * 1024 * 1024)},
        # The safe defaults: no private upstreams.
        "strict": dict(gateway),
        "allowlist": {**gateway, "PASSTHROUGH_ALLOWED_HOSTS": "*.example.com,api.openai.com"},
        # Nothing configured at all.
        "bare": {},
        # Short upstream time limits, for 504.
        "slow": {**gateway, "PASSTHROUGH_ALLOW_PRIVATE": "true", "UPSTREAM_CONNECT_TIMEOUT_MS": "1000",
                 "UPSTREAM_FIRST_BYTE_TIMEOUT_MS": "1000", "UPSTREAM_IDLE_TIMEOUT_MS": "1500"},
        # The gateway is an https listener whose TLS handshake never ends.
        "slow_silent_gateway": {**gateway, "GATEWAY_BASE_URL": f"https://127.0.0.1:{silent.port}/v1",
                                "UPSTREAM_CONNECT_TIMEOUT_MS": "1000", "UPSTREAM_FIRST_BYTE_TIMEOUT_MS": "1000"},
        # On Spin, the project's spin.toml unchanged (no loopback entries): the
        # fake gateway and aepipe on http://127.0.0.1 are denied by the runtime.
        "spin_project_manifest": {**gateway, "APEX_SPIN_MANIFEST": "project", "PASSTHROUGH_ALLOW_PRIVATE": "true",
                                  "AEPIPE_BASE_URL": aepipe.url, "AEPIPE_TOKEN": AEPIPE_TOKEN},
        # A gateway URL with credentials in it: refused at configuration.
        "userinfo": {**gateway, "GATEWAY_BASE_URL": f"http://admin:hunter2@127.0.0.1:{upstream.port}/v1"},
        # Reporting to the fake aepipe.
        "report": {**gateway, "PASSTHROUGH_ALLOW_PRIVATE": "true", "AEPIPE_BASE_URL": aepipe.url,
                   "AEPIPE_TOKEN": AEPIPE_TOKEN},
        # Reporting, and a default fallback chain for GPT on OpenAI.
        "fallbacks": {**gateway, "AEPIPE_BASE_URL": aepipe.url, "AEPIPE_TOKEN": AEPIPE_TOKEN,
                      "GATEWAY_FALLBACKS": "gpt-5.5#openai=deepseek-v4-pro#deepseek"},
        # Tokens as plain Worker secrets (`wrangler secret put`) instead of Secrets
        # Store; on WASI hosts the marker is just an unused variable.
        "plain_secrets": {**gateway, "APEX_WORKER_SECRETS": "plain", "AEPIPE_BASE_URL": aepipe.url,
                          "AEPIPE_TOKEN": AEPIPE_TOKEN},
        # Reporting to an https aepipe whose TLS handshake never ends.
        "report_silent": {**gateway, "AEPIPE_BASE_URL": f"https://127.0.0.1:{silent.port}",
                          "AEPIPE_TOKEN": AEPIPE_TOKEN},
        # The access log as JSON lines; and errors only.
        "json_log": {**gateway, "PASSTHROUGH_ALLOW_PRIVATE": "true", "LOG_FORMAT": "json"},
        "errors_only": {**gateway, "LOG_LEVEL": "error"},
        "debug_log": {**gateway, "PASSTHROUGH_ALLOW_PRIVATE": "true", "LOG_LEVEL": "debug"},
        # The example configuration's placeholder ids left in.
        "placeholders": {**gateway, "ACCOUNT_ID": "<your Cloudflare account id>",
                         "GATEWAY_ID": "<your AI Gateway id>"},
        # Reporting to a port where nothing listens.
        "report_refused": {**gateway, "AEPIPE_BASE_URL": f"http://127.0.0.1:{free_port()}",
                           "AEPIPE_TOKEN": AEPIPE_TOKEN},
    }


def pytest_addoption(parser):
    parser.addoption("--hosts", default=os.environ.get("APEX_HOSTS", "wasmtime,spin,jco,wasmtime36,workerd"),
                     help="comma list of hosts to test: " + ", ".join(HOSTS))


def pytest_configure(config):
    config.addinivalue_line("markers", "smoke: also run on hosts that only take the smoke subset (jco)")


def chosen_hosts(config) -> list[str]:
    """The --hosts list, without Spin when its binary is absent (said once, loudly)."""
    names = [h.strip() for h in config.getoption("hosts").split(",") if h.strip()]
    return [n for n in names if HOSTS[n].available()]


SKIPPED_HOST = {
    "spin": "no .tools/bin/spin: scripts/setup.sh unpacks it from ../shared/tools/spin-x86_64-linux.xz, which is absent",
    "wasmtime36": "no .tools/wasmtime36: run scripts/setup.sh test",
}


def skipped_hosts(config) -> list[str]:
    names = [h.strip() for h in config.getoption("hosts").split(",") if h.strip()]
    return [f"{n.upper()} HOST SKIPPED: {SKIPPED_HOST.get(n, 'not available')}"
            for n in names if not HOSTS[n].available()]


def pytest_report_header(config):
    return skipped_hosts(config) or None


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    for line in skipped_hosts(config):
        terminalreporter.write_sep("!", line)


def pytest_generate_tests(metafunc):
    if "host" not in metafunc.fixturenames:
        return
    names = chosen_hosts(metafunc.config)
    smoke = metafunc.definition.get_closest_marker("smoke") is not None
    chosen = [n for n in names if HOSTS[n].full_suite or smoke]
    metafunc.parametrize("host", chosen, scope="session")


class Proxies:
    def __init__(self, upstream: FakeUpstream, aepipe: FakeUpstream, silent: Silent):
        self.upstream, self.aepipe, self.silent = upstream, aepipe, silent
        self.running: dict[tuple[str, str], Running] = {}

    def get(self, host: str, profile: str = "main") -> Running:
        key = (host, profile)
        proxy = self.running.get(key)
        if proxy is None or not proxy.alive():
            proxy = HOSTS[host]().start(profiles(self.upstream, self.aepipe, self.silent)[profile])
            self.running[key] = proxy
        return proxy

    def close(self):
        for proxy in self.running.values():
            proxy.stop()


@pytest.fixture(scope="session")
def upstream():
    server = FakeUpstream()
    yield server
    server.close()


@pytest.fixture(scope="session")
def aepipe():
    """A fake aepipe: records reports, answers {"ok":true,"written":1}."""
    server = FakeUpstream()
    yield server
    server.close()


def aepipe_ok(req):
    from fake_upstream import Reply
    return Reply.json({"ok": True, "written": 1})


@pytest.fixture(autouse=True)
def _fresh_fakes(upstream, aepipe):
    upstream.reset()
    aepipe.reset()
    aepipe.default = aepipe_ok
    yield


@pytest.fixture(scope="session")
def silent():
    """A listener that accepts and never answers (a TLS handshake that hangs)."""
    server = Silent()
    yield server
    server.close()


@pytest.fixture(scope="session")
def proxies(upstream, aepipe, silent):
    pool = Proxies(upstream, aepipe, silent)
    yield pool
    pool.close()


@pytest.fixture
def proxy(proxies, host) -> Running:
    """The proxy on `host` with the main profile."""
    return proxies.get(host)


@pytest.fixture
def url(proxy) -> str:
    return proxy.url


@pytest.fixture
def passthrough_header(upstream) -> str:
    """`X-APEX-AI-PROXY-PROVIDER` value pointing at the fake, with a base path."""
    return f"http://127.0.0.1:{upstream.port}/base"
