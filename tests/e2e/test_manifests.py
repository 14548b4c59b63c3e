"""spin.toml points at the component this project builds (the Spin host in
tests/e2e/hosts.py runs it for real)."""

import tomllib

from hosts import ROOT


def test_spin_manifest_serves_the_built_component():
    spin = tomllib.loads((ROOT / "spin.toml").read_text())
    assert spin["spin_manifest_version"] == 2
    (trigger,) = spin["trigger"]["http"]
    assert trigger["route"] == "/..."
    component = spin["component"][trigger["component"]]
    assert component["source"] == "target/wasm32-wasip2/release/apex_ai_proxy.wasm"
    assert "--target wasm32-wasip2" in component["build"]["command"]
    assert "--release" in component["build"]["command"]
    assert all(h.startswith(("https://", "http://")) for h in component["allowed_outbound_hosts"])
