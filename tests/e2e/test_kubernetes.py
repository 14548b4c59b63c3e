"""deploy/kubernetes/: every manifest is valid against its resource's published
schema, strictly (an unknown field is an error, as `kubectl apply
--validate=strict` makes it): the SpinApp against SpinKube's CRD vendored in
deploy/kubernetes/schema/, the core kinds against kubernetes-validate's
Kubernetes schemas; a typo fails. The settings they wire are the proxy's, and
they reach the component: the Spin flavour is started on Spin with exactly
the environment SpinKube's operator (for the SpinApp) or the Spin shim (for
the RuntimeClass variant) derives from the ConfigMap and the Secret, and
answers a gateway, a passthrough and a reporting request with them."""

from __future__ import annotations

import copy
import functools
import tomllib
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

from client import call
from conftest import AEPIPE_TOKEN, GATEWAY_TOKEN
from hosts import ROOT, SpinHost
from test_manifests import SECRETS, setting_names

DEPLOY = ROOT / "deploy/kubernetes"
CRD = DEPLOY / "schema/spinapps.core.spinkube.dev.yaml"
# The newest Kubernetes whose schemas kubernetes-validate (tests/requirements.txt) carries.
KUBERNETES = "1.37.0"
VERSION = tomllib.loads((ROOT / "Cargo.toml").read_text())["package"]["version"]
SETTINGS, SECRET = "apex-ai-proxy-settings", "apex-ai-proxy-secrets"


def manifests() -> dict[str, list[dict]]:
    """Every YAML document under deploy/kubernetes/ (the vendored schema apart), by file."""
    files = sorted(p for p in DEPLOY.rglob("*.yaml") if "schema" not in p.parts)
    return {str(p.relative_to(DEPLOY)): [d for d in yaml.safe_load_all(p.read_text()) if d] for p in files}


def one(kind: str, file: str) -> dict:
    (doc,) = [d for d in manifests()[file] if d["kind"] == kind]
    return doc


def closed(schema):
    """The schema with unknown fields refused wherever it lists the known ones."""
    if isinstance(schema, dict):
        schema = {k: closed(v) for k, v in schema.items()}
        if "properties" in schema and "additionalProperties" not in schema \
                and not schema.get("x-kubernetes-preserve-unknown-fields"):
            schema["additionalProperties"] = False
    elif isinstance(schema, list):
        schema = [closed(v) for v in schema]
    return schema


@functools.cache
def spinapp_schema() -> dict:
    """The CRD's schema, closed; parsed once (2,500 lines of YAML)."""
    crd = yaml.safe_load(CRD.read_text())
    assert crd["spec"]["names"]["kind"] == "SpinApp"
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1alpha1"]
    return closed(version["schema"]["openAPIV3Schema"])


def problems(doc: dict) -> list[str]:
    """What is wrong with one manifest: schema errors, and for a SpinApp the
    rules the spin-operator's admission webhook adds."""
    if doc.get("kind") == "SpinApp":
        assert doc.get("apiVersion") == "core.spinkube.dev/v1alpha1", doc.get("apiVersion")
        found = [f"{'.'.join(map(str, e.absolute_path))}: {e.message}"
                 for e in jsonschema.Draft7Validator(spinapp_schema()).iter_errors(doc)]
        spec = doc.get("spec", {})
        if spec.get("enableAutoscaling") and "replicas" in spec:
            found.append("spec.replicas: cannot be set when autoscaling is enabled (spin-operator webhook)")
        if not spec.get("enableAutoscaling") and spec.get("replicas", 0) < 1:
            found.append("spec.replicas: must be > 0 (spin-operator webhook)")
        if not doc.get("metadata", {}).get("name"):
            found.append("metadata.name: missing")
        return found
    try:
        kubernetes_validate.validate(doc, KUBERNETES, strict=True)
    except kubernetes_validate.ValidationError as e:
        return [f"{'.'.join(map(str, e.path))}: {e.message}"]
    return []


def test_every_manifest_is_valid_against_its_published_schema():
    kinds = {}
    for file, docs in manifests().items():
        for doc in docs:
            assert problems(doc) == [], (file, doc["kind"])
            kinds.setdefault(file, []).append(doc["kind"])
    assert kinds == {
        "runtimeclass/apex-ai-proxy.yaml": ["RuntimeClass", "Deployment", "Service", "HorizontalPodAutoscaler"],
        "secret.example.yaml": ["Secret"],
        "settings.yaml": ["ConfigMap"],
        "spinkube/spinapp.yaml": ["SpinApp", "HorizontalPodAutoscaler"],
    }


def typo(doc: dict, path: list, new_key: str | None = None, value=None) -> dict:
    """A copy of `doc` with the key at `path` renamed to `new_key`, or its value replaced."""
    doc = copy.deepcopy(doc)
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    if new_key is None:
        parent[path[-1]] = value
    else:
        parent[new_key] = parent.pop(path[-1])
    return doc


SPINAPP, RUNTIMECLASS = "spinkube/spinapp.yaml", "runtimeclass/apex-ai-proxy.yaml"
CONTAINER = ["spec", "template", "spec", "containers", 0]


@pytest.mark.parametrize("kind,file,path,new_key,value", [
    ("SpinApp", SPINAPP, ["spec", "enableAutoscaling"], "enableAutoScaling", None),
    ("SpinApp", SPINAPP, ["spec", "checks", "readiness"], "readyness", None),
    ("SpinApp", SPINAPP, ["spec", "variables", 0, "valueFrom"], "valuesFrom", None),
    ("SpinApp", SPINAPP, ["spec", "resources", "requests", "memory"], None, "512 MiB"),
    ("SpinApp", SPINAPP, ["spec", "replicas"], None, 2),
    ("SpinApp", SPINAPP, ["spec", "executor"], None, 1),
    ("HorizontalPodAutoscaler", SPINAPP, ["spec", "minReplicas"], "minReplica", None),
    ("Deployment", RUNTIMECLASS, [*CONTAINER, "readinessProbe"], "readinesProbe", None),
    ("Deployment", RUNTIMECLASS, [*CONTAINER, "envFrom", 0, "configMapRef"], "configmapRef", None),
    # (Kubernetes' published schema has no pattern for a quantity: "1 GB" passes it.)
    ("Deployment", RUNTIMECLASS, [*CONTAINER, "image"], "imgae", None),
    ("RuntimeClass", RUNTIMECLASS, ["handler"], "handlr", None),
    ("Service", RUNTIMECLASS, ["spec", "ports", 0, "port"], None, "eighty"),
])
def test_a_typo_fails_validation(kind, file, path, new_key, value):
    assert problems(typo(one(kind, file), path, new_key, value)) != []


def test_the_manifests_wire_the_proxys_settings():
    """Keys of the ConfigMap and the Secret are setting names; the SpinApp
    binds every setting, each to the Spin variable spin.toml declares, from
    the ConfigMap or (the two secrets) the Secret."""
    names = setting_names()
    assert set(one("ConfigMap", "settings.yaml")["data"]) <= set(names) - SECRETS
    assert set(one("Secret", "secret.example.yaml")["stringData"]) == SECRETS
    declared = tomllib.loads((ROOT / "spin.toml").read_text())["variables"]
    variables = one("SpinApp", SPINAPP)["spec"]["variables"]
    assert sorted(v["name"] for v in variables) == sorted(declared) == sorted(n.lower() for n in names)
    for v in variables:
        ref, source = ("secretKeyRef", SECRET) if v["name"].upper() in SECRETS else ("configMapKeyRef", SETTINGS)
        assert v["valueFrom"] == {ref: {"name": source, "key": v["name"].upper(), "optional": True}}, v
    container = one("Deployment", RUNTIMECLASS)["spec"]["template"]["spec"]["containers"][0]
    assert container["envFrom"] == [{"configMapRef": {"name": SETTINGS}},
                                    {"secretRef": {"name": SECRET, "optional": True}}]


def test_both_variants_run_the_published_release_alike():
    """One image (the Spin application scripts/publish.sh pushes, this
    version), one sizing, probes on /healthz, autoscalers on the Deployment
    that serves (the operator names it after the SpinApp)."""
    app = one("SpinApp", SPINAPP)
    deployment = one("Deployment", RUNTIMECLASS)
    pod = deployment["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    assert app["spec"]["image"] == container["image"]
    assert app["spec"]["image"].endswith(f"/apex-ai-proxy:{VERSION}")
    assert app["spec"]["resources"] == container["resources"]
    assert app["spec"]["executor"] == "containerd-shim-spin"
    assert pod["spec"]["runtimeClassName"] == one("RuntimeClass", RUNTIMECLASS)["metadata"]["name"]
    checks = app["spec"]["checks"]
    assert checks["readiness"]["httpGet"]["path"] == checks["liveness"]["httpGet"]["path"] == "/healthz"
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["ports"] == [{"name": "http", "containerPort": 80}]
    assert one("Service", RUNTIMECLASS)["spec"]["selector"] == pod["metadata"]["labels"]
    for file, target in ((SPINAPP, app), (RUNTIMECLASS, deployment)):
        hpa = one("HorizontalPodAutoscaler", file)["spec"]
        assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                         "name": target["metadata"]["name"]}
        assert hpa["minReplicas"] >= 2
    assert app["spec"]["enableAutoscaling"] is True and "replicas" not in app["spec"]


def cluster_data(profile: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """The shipped ConfigMap and Secret, filled in with the test's values."""
    settings = {**one("ConfigMap", "settings.yaml")["data"],
                **{k: v for k, v in profile.items() if k not in SECRETS}}
    secret = {**one("Secret", "secret.example.yaml")["stringData"], **{k: profile[k] for k in SECRETS}}
    return settings, secret


def operator_env(settings: dict[str, str], secret: dict[str, str]) -> dict[str, str]:
    """What SpinKube's operator sets on the pod for the SpinApp's variables
    (SPIN_VARIABLE_<NAME>, each from its value or key reference; an optional
    reference to a missing key sets nothing)."""
    env = {}
    for v in one("SpinApp", SPINAPP)["spec"]["variables"]:
        if "value" in v:
            env[f"SPIN_VARIABLE_{v['name'].upper()}"] = v["value"]
            continue
        ((kind, ref),) = v["valueFrom"].items()
        data = {"configMapKeyRef": {SETTINGS: settings}, "secretKeyRef": {SECRET: secret}}[kind][ref["name"]]
        if ref["key"] in data:
            env[f"SPIN_VARIABLE_{v['name'].upper()}"] = data[ref["key"]]
        else:
            assert ref.get("optional"), ref
    return env


def shim_env(settings: dict[str, str], secret: dict[str, str]) -> dict[str, str]:
    """What the pod of the RuntimeClass variant gets: the ConfigMap's and the
    Secret's keys as environment variables (envFrom), and what the Spin shim
    adds for each one named like a declared variable in upper case."""
    env = {**settings, **secret}
    declared = tomllib.loads((ROOT / "spin.toml").read_text())["variables"]
    return {**env, **{f"SPIN_VARIABLE_{k}": v for k, v in env.items() if k.lower() in declared}}


@pytest.mark.parametrize("derive", [operator_env, shim_env], ids=["spinkube", "runtimeclass"])
def test_settings_from_the_configmap_and_secret_reach_the_component(derive, upstream, aepipe,
                                                                   passthrough_header):
    if not SpinHost.available():
        pytest.skip("Spin is not available")
    profile = {"ACCOUNT_ID": "acc", "GATEWAY_ID": "gw", "GATEWAY_TOKEN": GATEWAY_TOKEN,
               "GATEWAY_BASE_URL": f"{upstream.url}/v1", "PASSTHROUGH_ALLOW_PRIVATE": "true",
               "AEPIPE_BASE_URL": aepipe.url, "AEPIPE_TOKEN": AEPIPE_TOKEN}
    host = SpinHost()
    host.variables = derive(*cluster_data(profile))
    proxy = host.start({})
    try:
        health = call(proxy.url, "GET", "/healthz")
        assert health.status == 200
        assert health.json()["modes"] == {"gateway": True, "passthrough": True, "reporting": True}
        auth = {"authorization": f"Bearer {GATEWAY_TOKEN}"}
        r = call(proxy.url, "POST", "/v1/chat/completions", auth, {"model": "gpt-5.5#openai", "messages": []})
        assert r.status == 200 and r.header("x-apex-ai-proxy-mode") == "gateway", r.body
        assert upstream.last().path.startswith("/v1/acc/gw/") and upstream.last().json()["model"] == "openai/gpt-5.5"
        headers = {"x-apex-ai-proxy-provider": passthrough_header, "authorization": "Bearer client-key"}
        r = call(proxy.url, "POST", "/v1/chat/completions", headers, {"model": "gpt-5.4", "messages": []})
        assert r.status == 200 and r.header("x-apex-ai-proxy-mode") == "passthrough", r.body
        reports = aepipe.wait_for(2)
        assert all(rep.header("authorization") == f"Bearer {AEPIPE_TOKEN}" for rep in reports)
        # LOG_FORMAT from the ConfigMap: the access log is JSON.
        assert '"mode":"gateway"' in proxy.log.read_text().replace(" ", ""), proxy.log.read_text()[-2000:]
    finally:
        proxy.stop()
