"""spin.toml points at the Spin flavour this project builds (the Spin host in
tests/e2e/hosts.py runs it for real) and declares every setting as a Spin
variable of the same name in lower case, unset by default."""

import re
import tomllib

from hosts import ROOT


def setting_names() -> list[str]:
    """SETTING_NAMES of src/config/mod.rs: every setting the proxy reads."""
    source = (ROOT / "src/config/mod.rs").read_text()
    block = re.search(r"pub const SETTING_NAMES: \[&str; (\d+)\] = \[(.*?)\];", source, re.S)
    assert block, "SETTING_NAMES in src/config/mod.rs"
    names = re.findall(r'"([A-Z0-9_]+)"', block.group(2))
    assert len(names) == int(block.group(1)) and len(set(names)) == len(names)
    return names


SECRETS = {"GATEWAY_TOKEN", "AEPIPE_TOKEN"}


def test_spin_manifest_serves_the_built_component():
    spin = tomllib.loads((ROOT / "spin.toml").read_text())
    assert spin["spin_manifest_version"] == 2
    (trigger,) = spin["trigger"]["http"]
    assert trigger["route"] == "/..."
    component = spin["component"][trigger["component"]]
    assert component["source"] == "target/spin/wasm32-wasip2/release/apex_ai_proxy.wasm"
    command = component["build"]["command"]
    assert all(f in command for f in ("--target wasm32-wasip2", "--release", "--features spin", "--target-dir target/spin"))
    assert all(h.startswith(("https://", "http://")) for h in component["allowed_outbound_hosts"])


def test_spin_manifest_declares_every_setting_as_a_variable():
    spin = tomllib.loads((ROOT / "spin.toml").read_text())
    names = [n.lower() for n in setting_names()]
    assert sorted(spin["variables"]) == sorted(names)
    for name in names:
        secret = name.upper() in SECRETS
        assert spin["variables"][name] == ({"default": "", "secret": True} if secret else {"default": ""}), name
    assert spin["component"]["apex-ai-proxy"]["variables"] == {n: f"{{{{ {n} }}}}" for n in names}
