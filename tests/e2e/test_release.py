"""The release artefact (scripts/release.sh, built by scripts/test.sh into
APEX_RELEASE): its components carry the version, and the released
component (on wasmtime) and Spin manifest with the Spin flavour (on Spin)
serve as they are; then
published (scripts/publish.sh) to a real OCI registry on loopback and run
from it (`spin up --from`, `wkg oci pull` + `wasmtime serve`), the same
bytes. A gateway and a passthrough request are answered through each."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import time
import tomllib
import urllib.request
from pathlib import Path

import pytest

from client import call
from conftest import GATEWAY_TOKEN, profiles
from hosts import ROOT, TOOLS, SpinHost, WasmtimeHost, free_port

RELEASE = Path(os.environ.get("APEX_RELEASE", "/nonexistent"))
VERSION = tomllib.loads((ROOT / "Cargo.toml").read_text())["package"]["version"]

pytestmark = pytest.mark.skipif(not (RELEASE / "SHA256SUMS").exists(),
                                reason="no release built: scripts/test.sh builds one (APEX_RELEASE)")


class ReleasedWasmtime(WasmtimeHost):
    def command(self, port, env, workdir):
        cmd, proc_env = super().command(port, env, workdir)
        return cmd[:-1] + [str(RELEASE / "apex-ai-proxy.wasm")], proc_env


class ReleasedSpin(SpinHost):
    def manifest(self, workdir: Path, loopback: bool) -> Path:
        """The release's spin.toml, its component by absolute path, loopback allowed for the fakes."""
        text = (RELEASE / "spin.toml").read_text()
        text = text.replace('source = "apex-ai-proxy-spin.wasm"', f'source = "{RELEASE / "apex-ai-proxy-spin.wasm"}"')
        text = re.sub(r'(?m)^allowed_outbound_hosts = \[(.*)\]$',
                      r'allowed_outbound_hosts = [\1, "http://127.0.0.1:*"]', text)
        path = workdir / "spin.toml"
        path.write_text(text)
        return path


FILES = ["apex-ai-proxy-spin.wasm", "apex-ai-proxy.wasm", "spin.toml", "worker/index_bg.wasm", "worker/worker.js"]


def test_the_release_is_what_its_sums_say_and_carries_the_version():
    sums = subprocess.run(["sha256sum", "--check", "--quiet", "SHA256SUMS"], cwd=RELEASE, capture_output=True, text=True)
    assert sums.returncode == 0, sums.stdout + sums.stderr
    listed = sorted(line.split()[1] for line in (RELEASE / "SHA256SUMS").read_text().splitlines())
    assert listed == [f"./{name}" for name in FILES]
    for name in ("apex-ai-proxy.wasm", "apex-ai-proxy-spin.wasm"):
        shown = subprocess.run([str(TOOLS / "venv/bin/python"), str(ROOT / "scripts/wasm_metadata.py"), "show",
                                str(RELEASE / name)], capture_output=True, text=True, check=True).stdout
        assert f"version={VERSION}\n" in shown and re.search(r"(?m)^revision=[0-9a-f]{40}$", shown), shown


@pytest.mark.parametrize("released", [ReleasedWasmtime, ReleasedSpin], ids=["wasmtime", "spin"])
def test_the_released_component_serves(released, upstream, aepipe, silent, passthrough_header):
    if not released.available():
        pytest.skip(f"{released.name} is not available")
    proxy = released().start(profiles(upstream, aepipe, silent)["main"])
    try:
        answered_through(proxy, upstream, passthrough_header)
    finally:
        proxy.stop()


def test_the_released_spin_app_takes_its_settings_as_spin_variables(upstream, aepipe, silent, passthrough_header):
    """What SpinKube and Akamai Functions do: no --env, every setting a Spin
    variable (SPIN_VARIABLE_<NAME> in the runtime's environment)."""
    if not ReleasedSpin.available():
        pytest.skip("Spin is not available")
    host = ReleasedSpin()
    host.variables = {f"SPIN_VARIABLE_{k}": v for k, v in profiles(upstream, aepipe, silent)["main"].items()}
    proxy = host.start({})
    try:
        answered_through(proxy, upstream, passthrough_header)
    finally:
        proxy.stop()


def answered_through(proxy, upstream, passthrough_header):
    """The version on /healthz, then a gateway and a passthrough request answered."""
    health = call(proxy.url, "GET", "/healthz")
    assert health.json()["version"] == VERSION and health.header("x-apex-ai-proxy-version") == VERSION
    auth = {"authorization": f"Bearer {GATEWAY_TOKEN}"}
    r = call(proxy.url, "POST", "/v1/chat/completions", auth, {"model": "gpt-5.5#openai", "messages": []})
    assert r.status == 200 and r.header("x-apex-ai-proxy-mode") == "gateway", r.body
    assert upstream.last().json()["model"] == "openai/gpt-5.5"
    headers = {"x-apex-ai-proxy-provider": passthrough_header, "authorization": "Bearer client-key"}
    r = call(proxy.url, "POST", "/v1/chat/completions", headers, {"model": "gpt-5.4", "messages": []})
    assert r.status == 200 and r.header("x-apex-ai-proxy-mode") == "passthrough", r.body
    assert upstream.last().path == "/base/v1/chat/completions"
    assert upstream.last().header("authorization") == "Bearer client-key"

REGISTRY = shutil.which("docker-registry")


@pytest.fixture
def registry(tmp_path):
    """Debian's docker-registry on a free loopback port, storing in tmp_path;
    plain HTTP (`spin -k`, `wkg --insecure`). Its host:port."""
    if not REGISTRY:
        pytest.skip("no docker-registry: scripts/setup.sh test installs it from apt")
    port = free_port()
    config = tmp_path / "registry.yml"
    config.write_text(f"version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n"
                      f"    rootdirectory: {tmp_path / 'data'}\nhttp:\n  addr: 127.0.0.1:{port}\n")
    proc = subprocess.Popen([REGISTRY, "serve", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 20
        while not answers(f"http://127.0.0.1:{port}/v2/"):
            assert time.monotonic() < deadline and proc.poll() is None, "the registry did not start"
            time.sleep(0.1)
        yield f"localhost:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


class PulledSpin(ReleasedSpin):
    """`spin up --from <registry reference>`."""

    reference = ""

    def command(self, port, env, workdir):
        cmd, proc_env = super().command(port, env, workdir)
        at = cmd.index("--from")
        return cmd[:at + 1] + [self.reference, "-k", "--cache-dir", str(workdir / "cache")] + cmd[at + 2:], proc_env


@pytest.fixture
def published(registry, tmp_path):
    """scripts/publish.sh run on a copy of the release whose spin.toml also
    allows loopback (for the fakes; the component is the release's, byte for
    byte): the Spin application's and the plain component's references."""
    copy = tmp_path / "release"
    shutil.copytree(RELEASE, copy)
    manifest = copy / "spin.toml"
    manifest.write_text(re.sub(r'(?m)^allowed_outbound_hosts = \[(.*)\]$',
                               r'allowed_outbound_hosts = [\1, "http://127.0.0.1:*"]', manifest.read_text()))
    subprocess.run(["sh", "-c", "sha256sum \"$@\" > SHA256SUMS", "-", *(f"./{name}" for name in FILES)],
                   cwd=copy, check=True)
    out = subprocess.run([str(ROOT / "scripts/publish.sh"), "--insecure", f"{registry}/test"],
                         env={**os.environ, "APEX_RELEASE": str(copy)}, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    spin_ref, component_ref = out.stdout.split()
    assert (spin_ref, component_ref) == (f"{registry}/test/apex-ai-proxy:{VERSION}",
                                         f"{registry}/test/apex-ai-proxy-component:{VERSION}")
    return spin_ref, component_ref


def release_sum(name: str) -> str:
    return "sha256:" + hashlib.sha256((RELEASE / name).read_bytes()).hexdigest()


def test_spin_up_from_the_registry(published, upstream, aepipe, silent, passthrough_header):
    """`spin up --from` the pushed Spin application: the component Spin pulls
    is the release's Spin flavour, byte for byte, and it serves."""
    if not SpinHost.available():
        pytest.skip("Spin is not available")
    host = PulledSpin()
    host.reference = published[0]
    proxy = host.start(profiles(upstream, aepipe, silent)["main"])
    try:
        cached = [p.name for p in (proxy.log.parent / "cache").rglob("sha256:*") if p.parent.name == "wasm"]
        assert cached == [release_sum("apex-ai-proxy-spin.wasm")], cached
        answered_through(proxy, upstream, passthrough_header)
    finally:
        proxy.stop()


def test_wasmtime_serve_after_wkg_oci_pull(published, registry, upstream, aepipe, silent, passthrough_header,
                                          tmp_path):
    """`wkg oci pull` the plain component, then `wasmtime serve` it: the
    release's bytes, serving."""
    pulled = tmp_path / "pulled.wasm"
    out = subprocess.run([str(TOOLS / "cargo/bin/wkg"), "oci", "pull", "--insecure", registry, published[1],
                          "-o", str(pulled)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "sha256:" + hashlib.sha256(pulled.read_bytes()).hexdigest() == release_sum("apex-ai-proxy.wasm")

    class PulledWasmtime(WasmtimeHost):
        def command(self, port, env, workdir):
            cmd, proc_env = super().command(port, env, workdir)
            return cmd[:-1] + [str(pulled)], proc_env

    proxy = PulledWasmtime().start(profiles(upstream, aepipe, silent)["main"])
    try:
        answered_through(proxy, upstream, passthrough_header)
    finally:
        proxy.stop()
