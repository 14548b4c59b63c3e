"""Fixtures: one fake upstream per test process, proxies started lazily per
(host, profile) and reused, every test parametrized over the hosts in --hosts."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from fake_upstream import FakeUpstream  # noqa: E402
from hosts import HOSTS, Running  # noqa: E402

GATEWAY_TOKEN = "test-gateway-token"


def profiles(upstream: FakeUpstream) -> dict[str, dict[str, str]]:
    """Named configurations the tests run the proxy with."""
    gateway = {
        "ACCOUNT_ID": "acc",
        "GATEWAY_ID": "gw",
        "GATEWAY_TOKEN": GATEWAY_TOKEN,
        "GATEWAY_BASE_URL": f"{upstream.url}/v1",
        "AZURE_RESOURCE": "res",
    }
    return {
        # Gateway pointed at the fake; passthrough may reach loopback.
        "main": {**gateway, "PASSTHROUGH_ALLOW_PRIVATE": "true", "MAX_BODY_BYTES": str(8 * 1024 * 1024)},
        # The safe defaults: no private upstreams.
        "strict": dict(gateway),
        "allowlist": {**gateway, "PASSTHROUGH_ALLOWED_HOSTS": "*.example.com,api.openai.com"},
        # Nothing configured at all.
        "bare": {},
        # Short upstream time limit, for 504.
        "slow": {**gateway, "PASSTHROUGH_ALLOW_PRIVATE": "true", "UPSTREAM_FIRST_BYTE_TIMEOUT_MS": "1000"},
    }


def pytest_addoption(parser):
    parser.addoption("--hosts", default=os.environ.get("APEX_HOSTS", "wasmtime,jco"),
                     help="comma list of hosts to test: " + ", ".join(HOSTS))


def pytest_configure(config):
    config.addinivalue_line("markers", "smoke: also run on hosts that only take the smoke subset (jco)")


def pytest_generate_tests(metafunc):
    if "host" not in metafunc.fixturenames:
        return
    names = [h.strip() for h in metafunc.config.getoption("hosts").split(",") if h.strip()]
    smoke = metafunc.definition.get_closest_marker("smoke") is not None
    chosen = [n for n in names if HOSTS[n].full_suite or smoke]
    metafunc.parametrize("host", chosen, scope="session")


class Proxies:
    def __init__(self, upstream: FakeUpstream):
        self.upstream = upstream
        self.running: dict[tuple[str, str], Running] = {}

    def get(self, host: str, profile: str = "main") -> Running:
        key = (host, profile)
        proxy = self.running.get(key)
        if proxy is None or not proxy.alive():
            proxy = HOSTS[host]().start(profiles(self.upstream)[profile])
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


@pytest.fixture(autouse=True)
def _fresh_upstream(upstream):
    upstream.reset()
    yield


@pytest.fixture(scope="session")
def proxies(upstream):
    pool = Proxies(upstream)
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
