"""The Kubernetes deployment (deploy/k8s), checked without a cluster.

The base and the example overlay are rendered by a small Kustomize renderer below, limited to the
features the manifests use (resources, namespace, images, replicas, strategic-merge patches
matched by kind and name, metadata-only labels, a configMapGenerator without name hashes); it
refuses anything else rather than rendering it wrongly. Where `kubectl` (or `kustomize`) is
installed the renderer's output is compared with the real thing. Every rendered object is
validated against the Kubernetes 1.31 OpenAPI schemas (kubernetes_validate, strict: unknown
fields are errors), and the project's invariants are asserted on the rendered objects: probes,
resources, non-root read-only containers, Services and budgets that select pods that exist,
autoscalers on existing Deployments, secrets only ever referenced, the settings each service
loads in production, the gateway's routes, and the init containers' schema wait (run against the
real PostgreSQL).
"""

from __future__ import annotations

import copy
import importlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
BASE = K8S / "base"
OVERLAY = K8S / "overlays" / "example-county"
README = K8S / "README.md"
NGINX_CONF = ROOT / "deploy" / "gateway" / "nginx.conf"
TOPICS_FILE = ROOT / "deploy" / "kafka" / "topics.yaml"
KUBERNETES_VERSION = "1.31"


@dataclass(frozen=True)
class Svc:
    name: str
    prefix: str
    package: str


SERVICES = (
    Svc("referral-api", "REFERRAL_", "referral_api"),
    Svc("cme-tracker", "CME_", "cme_tracker"),
    Svc("exclusions", "EXCLUSIONS_", "exclusions"),
    Svc("enforcement", "ENFORCEMENT_", "enforcement"),
    Svc("reporting", "REPORTING_", "reporting"),
)
# The portal: one Deployment (no database, no worker, no migration) behind its own Ingress host.
PORTAL = "portal"
PORTAL_INGRESS = "inclusion-portal"
# The Secrets the pods reference (created outside git; deploy/k8s/README.md says how).
REQUIRED_SECRETS = (
    {"inclusion-auth": {"jwt-secret", "cursor-secret"}}
    | {f"{svc.name}-database": {"url"} for svc in SERVICES}
    | {"portal-session": {"secret"}, "portal-oidc": {"client-secret"}}
)
SECRET_NAME = re.compile(r"SECRET|PASSWORD|PASSWD|TOKEN|API_KEY|PRIVATE_KEY|CREDENTIAL|DATABASE_URL", re.I)
CREDENTIALS_IN_URL = re.compile(r"://[^/@\s]+:[^/@\s]+@")
WORKLOADS = ("Deployment", "Job")
CLUSTER_SCOPED = frozenset(
    {"Namespace", "ClusterRole", "ClusterRoleBinding", "PriorityClass", "StorageClass"}
)


# ---------------------------------------------------------------------------------------------
# A Kustomize renderer for the subset deploy/k8s uses
# ---------------------------------------------------------------------------------------------
class UnsupportedKustomization(Exception):
    """The kustomization uses a feature this renderer does not implement."""


KUSTOMIZATION_KEYS = frozenset(
    {
        "apiVersion",
        "kind",
        "resources",
        "namespace",
        "images",
        "replicas",
        "patches",
        "labels",
        "configMapGenerator",
    }
)
# Lists that a strategic merge patch merges by a key (the pod spec fields the overlays patch).
MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
}
# Lists a strategic merge would merge by a key this renderer does not implement.
UNSUPPORTED_MERGE_LISTS = frozenset({"ports", "imagePullSecrets", "hostAliases", "topologySpreadConstraints"})


def load_documents(path: Path) -> list[dict[str, Any]]:
    documents = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]
    for document in documents:
        if (
            not isinstance(document, dict)
            or "kind" not in document
            or "name" not in document.get("metadata", {})
        ):
            raise UnsupportedKustomization(f"{path}: every document needs a kind and metadata.name")
    return documents


def strategic_merge(target: dict[str, Any], patch: Mapping[str, Any], where: str = "") -> None:
    for key, value in patch.items():
        here = f"{where}.{key}" if where else key
        if key.startswith("$"):
            raise UnsupportedKustomization(f"patch directive {here} is not supported")
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            strategic_merge(target[key], value, here)
        elif isinstance(value, list) and isinstance(target.get(key), list) and key in MERGE_KEYS:
            merge_key = MERGE_KEYS[key]
            existing = {item[merge_key]: item for item in target[key]}
            for item in value:
                if not isinstance(item, dict) or merge_key not in item:
                    raise UnsupportedKustomization(f"{here}: every item needs {merge_key}")
                if item[merge_key] in existing:
                    strategic_merge(existing[item[merge_key]], item, f"{here}[{item[merge_key]}]")
                else:
                    target[key].append(copy.deepcopy(item))
        elif isinstance(value, list) and key in UNSUPPORTED_MERGE_LISTS:
            raise UnsupportedKustomization(f"{here}: merging this list is not supported; patch elsewhere")
        else:
            target[key] = copy.deepcopy(value)


def pod_specs(obj: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    if obj["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"):
        yield obj["spec"]["template"]["spec"]
    elif obj["kind"] == "CronJob":
        yield obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    elif obj["kind"] == "Pod":
        yield obj["spec"]


def split_image(image: str) -> tuple[str, str | None, str | None]:
    name, _, digest = image.partition("@")
    tag = None
    if name.rfind(":") > name.rfind("/"):
        name, tag = name.rsplit(":", 1)
    return name, tag, digest or None


def set_image(obj: dict[str, Any], rule: Mapping[str, Any]) -> None:
    for spec in pod_specs(obj):
        for container in spec.get("initContainers", []) + spec.get("containers", []):
            name, tag, digest = split_image(container["image"])
            if name != rule["name"]:
                continue
            new = rule.get("newName", name)
            if "digest" in rule:
                container["image"] = f"{new}@{rule['digest']}"
            elif "newTag" in rule:
                container["image"] = f"{new}:{rule['newTag']}"
            else:
                container["image"] = new + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")


def generate_config_map(directory: Path, spec: Mapping[str, Any]) -> dict[str, Any]:
    unknown = set(spec) - {"name", "files", "literals", "options"}
    options = spec.get("options") or {}
    if unknown or set(options) - {"disableNameSuffixHash", "labels"}:
        raise UnsupportedKustomization(f"configMapGenerator {spec.get('name')}: unsupported keys")
    if options.get("disableNameSuffixHash") is not True:
        raise UnsupportedKustomization("configMapGenerator: only disableNameSuffixHash: true is supported")
    data: dict[str, str] = {}
    for entry in spec.get("files", []):
        key, _, relative = entry.rpartition("=") if "=" in entry else (Path(entry).name, "", entry)
        data[key] = (directory / relative).read_text(encoding="utf-8")
    for literal in spec.get("literals", []):
        key, _, value = literal.partition("=")
        data[key] = value
    metadata: dict[str, Any] = {"name": spec["name"]}
    if options.get("labels"):
        metadata["labels"] = dict(options["labels"])
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": data}


def render(directory: Path) -> list[dict[str, Any]]:
    """The objects `kustomize build directory` would print, for the supported subset."""
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text(encoding="utf-8"))
    unknown = set(kustomization) - KUSTOMIZATION_KEYS
    if unknown:
        raise UnsupportedKustomization(f"{directory}: unsupported kustomization fields {sorted(unknown)}")
    objects: list[dict[str, Any]] = []
    for resource in kustomization.get("resources", []):
        path = (directory / resource).resolve()
        objects.extend(render(path) if path.is_dir() else load_documents(path))
    for spec in kustomization.get("configMapGenerator", []):
        objects.append(generate_config_map(directory, spec))

    def find(kind: str, name: str) -> dict[str, Any]:
        found = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
        if len(found) != 1:
            raise UnsupportedKustomization(f"{directory}: {len(found)} objects {kind}/{name} to patch")
        return found[0]

    for entry in kustomization.get("patches", []):
        if set(entry) - {"path", "patch"}:
            raise UnsupportedKustomization(f"{directory}: only strategic-merge patches by kind and name")
        if "path" in entry:
            patches = load_documents(directory / entry["path"])
        else:
            patches = [d for d in yaml.safe_load_all(entry["patch"]) if d]
        for patch in patches:
            target = find(patch["kind"], patch["metadata"]["name"])
            strategic_merge(target, {k: v for k, v in patch.items() if k not in ("apiVersion", "kind")})
    namespace = kustomization.get("namespace")
    if namespace:
        for obj in objects:
            if obj["kind"] not in CLUSTER_SCOPED:
                obj["metadata"]["namespace"] = namespace
    for entry in kustomization.get("labels", []):
        if (
            entry.get("includeSelectors")
            or entry.get("includeTemplates")
            or set(entry)
            - {
                "pairs",
                "includeSelectors",
                "includeTemplates",
            }
        ):
            raise UnsupportedKustomization("labels: only metadata labels (no selectors or templates)")
        for obj in objects:
            obj["metadata"].setdefault("labels", {}).update(entry["pairs"])
    for entry in kustomization.get("replicas", []):
        targets = [
            o
            for o in objects
            if o["kind"] in ("Deployment", "StatefulSet", "ReplicaSet")
            and o["metadata"]["name"] == entry["name"]
        ]
        if not targets:
            raise UnsupportedKustomization(f"replicas: no workload named {entry['name']}")
        for obj in targets:
            obj["spec"]["replicas"] = entry["count"]
    for rule in kustomization.get("images", []):
        for obj in objects:
            set_image(obj, rule)
    return objects


def key(obj: Mapping[str, Any]) -> tuple[str, str]:
    return obj["kind"], obj["metadata"]["name"]


def by_key(objects: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    index = {key(o): o for o in objects}
    assert len(index) == len(objects), "two objects with the same kind and name"
    return index


# ---------------------------------------------------------------------------------------------
# The renderer's own tests
# ---------------------------------------------------------------------------------------------
def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: {app: web}}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      initContainers: [{name: init, image: "example/web:1"}]
      containers:
        - name: web
          image: example/web:1
          env: [{name: A, value: "1"}, {name: B, value: "2"}]
          resources: {requests: {cpu: 100m}}
        - {name: side, image: "registry:5000/other/side:2"}
"""


def test_renderer_applies_patches_namespace_labels_replicas_and_images(tmp_path: Path) -> None:
    write(tmp_path / "base" / "kustomization.yaml", "resources: [web.yaml]\n")
    write(tmp_path / "base" / "web.yaml", DEPLOYMENT)
    write(
        tmp_path / "overlay" / "kustomization.yaml",
        """
namespace: county
resources: [../base]
labels: [{pairs: {instance: county}, includeSelectors: false}]
replicas: [{name: web, count: 4}]
images:
  - {name: example/web, newName: reg.example/web, newTag: "2"}
  - {name: registry:5000/other/side, digest: "sha256:abc"}
patches: [{path: patch.yaml}]
""",
    )
    write(
        tmp_path / "overlay" / "patch.yaml",
        """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  template:
    spec:
      containers:
        - name: web
          env: [{name: B, value: "3"}, {name: C, value: "4"}]
          resources: {limits: {memory: 1Gi}}
""",
    )
    (web,) = render(tmp_path / "overlay")
    assert web["metadata"] == {
        "name": "web",
        "labels": {"app": "web", "instance": "county"},
        "namespace": "county",
    }
    assert web["spec"]["selector"] == {"matchLabels": {"app": "web"}}, "selectors untouched"
    assert web["spec"]["template"]["metadata"] == {"labels": {"app": "web"}}, "templates untouched"
    assert web["spec"]["replicas"] == 4
    spec = web["spec"]["template"]["spec"]
    main, side = spec["containers"]
    assert main["image"] == "reg.example/web:2" and spec["initContainers"][0]["image"] == "reg.example/web:2"
    assert side["image"] == "registry:5000/other/side@sha256:abc"
    assert main["env"] == [
        {"name": "A", "value": "1"},
        {"name": "B", "value": "3"},
        {"name": "C", "value": "4"},
    ]
    assert main["resources"] == {"requests": {"cpu": "100m"}, "limits": {"memory": "1Gi"}}


@pytest.mark.parametrize(
    ("kustomization", "message"),
    [
        ("resources: [web.yaml]\ncommonLabels: {a: b}\n", "unsupported kustomization fields"),
        (
            "resources: [web.yaml]\nlabels: [{pairs: {a: b}, includeSelectors: true}]\n",
            "only metadata labels",
        ),
        ("resources: [web.yaml]\nreplicas: [{name: nothing, count: 2}]\n", "no workload named nothing"),
        ("resources: [web.yaml]\npatches: [{path: p.yaml, target: {kind: Deployment}}]\n", "strategic-merge"),
        ("resources: [web.yaml]\npatches: [{path: p.yaml}]\n", "0 objects Service/web"),
        ("configMapGenerator: [{name: c, literals: [a=b]}]\n", "disableNameSuffixHash"),
    ],
)
def test_renderer_refuses_what_it_does_not_implement(
    tmp_path: Path, kustomization: str, message: str
) -> None:
    write(tmp_path / "kustomization.yaml", kustomization)
    write(tmp_path / "web.yaml", DEPLOYMENT)
    write(tmp_path / "p.yaml", "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {}\n")
    with pytest.raises(UnsupportedKustomization, match=message):
        render(tmp_path)


def test_renderer_refuses_patch_directives_and_keyed_lists_it_cannot_merge() -> None:
    with pytest.raises(UnsupportedKustomization, match=r"\$patch"):
        strategic_merge({"spec": {}}, {"spec": {"$patch": "replace"}})
    with pytest.raises(UnsupportedKustomization, match="ports"):
        strategic_merge({"ports": [{"port": 1}]}, {"ports": [{"port": 2}]})
    target = {"data": {"a": "1", "b": "2"}, "tls": [{"hosts": ["x"]}]}
    strategic_merge(target, {"data": {"b": None, "c": "3"}, "tls": [{"hosts": ["y"]}]})
    assert target == {"data": {"a": "1", "c": "3"}, "tls": [{"hosts": ["y"]}]}


def kustomize_command() -> list[str] | None:
    if shutil.which("kustomize"):
        return ["kustomize", "build"]
    if shutil.which("kubectl"):
        return ["kubectl", "kustomize"]
    return None


@pytest.mark.parametrize("directory", [BASE, OVERLAY], ids=["base", "example-county"])
def test_renderer_agrees_with_kustomize(directory: Path) -> None:
    command = kustomize_command()
    assert command is not None, (
        "neither kustomize nor kubectl is on PATH: `GOBIN=$PWD/.local/bin go install "
        "sigs.k8s.io/kustomize/kustomize/v5@v5.8.0` and put .local/bin on PATH (.ci/run does)"
    )
    result = subprocess.run(
        [*command, str(directory)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    theirs = {key(o): o for o in yaml.safe_load_all(result.stdout) if o}
    ours = by_key(render(directory))
    assert sorted(ours) == sorted(theirs)
    for name, obj in ours.items():
        assert json.dumps(obj, sort_keys=True) == json.dumps(theirs[name], sort_keys=True), name


# ---------------------------------------------------------------------------------------------
# Rendered objects: schemas
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def base() -> list[dict[str, Any]]:
    return render(BASE)


@pytest.fixture(scope="module")
def overlay() -> list[dict[str, Any]]:
    return render(OVERLAY)


@pytest.fixture(scope="module")
def objects(overlay: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return by_key(overlay)


def test_every_rendered_object_is_valid_kubernetes(
    base: list[dict[str, Any]], overlay: list[dict[str, Any]]
) -> None:
    errors = []
    for label, objects in (("base", base), ("example-county", overlay)):
        for obj in objects:
            try:
                kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
            except kubernetes_validate.ValidationError as exc:
                errors.append(
                    f"{label} {obj['kind']}/{obj['metadata']['name']}: {exc.message} at {list(exc.path)}"
                )
    assert not errors, "\n".join(errors)


def test_schema_validation_is_not_vacuous(objects: dict[tuple[str, str], dict[str, Any]]) -> None:
    deployment = copy.deepcopy(objects["Deployment", "referral-api-api"])
    deployment["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {
        "httpGet": {"path": "/readyz"}
    }
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def test_each_service_has_its_objects(objects: dict[tuple[str, str], dict[str, Any]]) -> None:
    for svc in SERVICES:
        for kind, name in (
            ("ConfigMap", f"{svc.name}-config"),
            ("Job", f"{svc.name}-migrate"),
            ("Deployment", f"{svc.name}-api"),
            ("Service", f"{svc.name}-api"),
            ("PodDisruptionBudget", f"{svc.name}-api"),
            ("HorizontalPodAutoscaler", f"{svc.name}-api"),
            ("Deployment", f"{svc.name}-worker"),
            ("PodDisruptionBudget", f"{svc.name}-worker"),
        ):
            assert (kind, name) in objects, f"no {kind}/{name}"
    assert ("Secret", "inclusion-auth") not in objects


# ---------------------------------------------------------------------------------------------
# Workloads
# ---------------------------------------------------------------------------------------------
def workloads(objects: Mapping[tuple[str, str], dict[str, Any]]) -> list[dict[str, Any]]:
    return [o for o in objects.values() if o["kind"] in WORKLOADS]


def all_containers(spec: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [*spec.get("initContainers", []), *spec["containers"]]


def test_every_pod_runs_non_root_read_only_and_sized(objects: dict[tuple[str, str], dict[str, Any]]) -> None:
    found = workloads(objects)
    assert len(found) == 3 * len(SERVICES) + 1, "migrate, api and worker per service, and the portal"
    for obj in found:
        where = f"{obj['kind']}/{obj['metadata']['name']}"
        spec = obj["spec"]["template"]["spec"]
        pod = spec["securityContext"]
        assert pod["runAsNonRoot"] is True and pod["runAsUser"] != 0, where
        assert pod["seccompProfile"] == {"type": "RuntimeDefault"}, where
        assert spec["automountServiceAccountToken"] is False, where
        for container in all_containers(spec):
            here = f"{where} {container['name']}"
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True, here
            assert context["allowPrivilegeEscalation"] is False, here
            assert context["capabilities"] == {"drop": ["ALL"]}, here
            resources = container["resources"]
            assert {"cpu", "memory"} <= set(resources["requests"]), here
            assert {"cpu", "memory"} <= set(resources["limits"]), here
        mounted = {m["name"] for c in all_containers(spec) for m in c.get("volumeMounts", [])}
        assert mounted == {v["name"] for v in spec.get("volumes", [])}, f"{where}: unused or missing volumes"


def test_apis_are_probed_on_their_health_endpoints(objects: dict[tuple[str, str], dict[str, Any]]) -> None:
    for svc in SERVICES:
        spec = objects["Deployment", f"{svc.name}-api"]["spec"]
        assert "replicas" not in spec, "the autoscaler owns the api's replica count"
        (container,) = spec["template"]["spec"]["containers"]
        assert container["args"][0] == "api"
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert ports == {"http": 8000}
        assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
        assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
        assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
        annotations = spec["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/port"] == "8000" and annotations["prometheus.io/path"] == "/metrics"


def test_workers_serve_metrics_and_are_probed_on_them(objects: dict[tuple[str, str], dict[str, Any]]) -> None:
    for svc in SERVICES:
        spec = objects["Deployment", f"{svc.name}-worker"]["spec"]
        (container,) = spec["template"]["spec"]["containers"]
        args = container["args"]
        assert args[0] == "worker" and "--metrics-port" in args
        port = int(args[args.index("--metrics-port") + 1])
        assert {p["name"]: p["containerPort"] for p in container["ports"]} == {"metrics": port}
        assert container["livenessProbe"]["httpGet"] == {"path": "/metrics", "port": "metrics"}
        assert "readinessProbe" not in container, "a worker serves no traffic"
        assert spec["template"]["metadata"]["annotations"]["prometheus.io/port"] == str(port)
        assert spec["replicas"] >= 2, "a standby relay and a rebalance target"


def consumed_topics(svc: Svc) -> set[str]:
    kernel = importlib.import_module(f"{svc.package}.bootstrap").bootstrap()
    return {topic for d in kernel.dispatchers() for topic in d.topics}


def test_worker_replicas_do_not_exceed_what_their_partitions_can_use(
    objects: dict[tuple[str, str], dict[str, Any]],
) -> None:
    partitions = {t["name"]: t["partitions"] for t in yaml.safe_load(TOPICS_FILE.read_text())["topics"]}
    for svc in SERVICES:
        replicas = objects["Deployment", f"{svc.name}-worker"]["spec"]["replicas"]
        topics = consumed_topics(svc)
        # Without consumers a worker is only the relay: one active, one standby.
        useful = max((partitions[t] for t in topics), default=2)
        assert replicas <= max(useful, 2), f"{svc.name}-worker: {replicas} replicas for {sorted(topics)}"


def test_migrate_jobs_run_the_migration_once(objects: dict[tuple[str, str], dict[str, Any]]) -> None:
    for svc in SERVICES:
        job = objects["Job", f"{svc.name}-migrate"]["spec"]
        spec = job["template"]["spec"]
        (container,) = spec["containers"]
        assert container["args"] == ["migrate"]
        assert spec["restartPolicy"] == "Never" and "initContainers" not in spec
        assert job["backoffLimit"] <= 3 and job["activeDeadlineSeconds"] > 0
        assert job["ttlSecondsAfterFinished"] > 0


def test_apis_and_workers_wait_for_the_schema_in_their_own_image(
    objects: dict[tuple[str, str], dict[str, Any]],
) -> None:
    script = objects["ConfigMap", "inclusion-wait-for-schema"]["data"]
    assert script == {"wait_for_schema.py": (BASE / "wait_for_schema.py").read_text(encoding="utf-8")}
    for svc in SERVICES:
        images = {
            c["image"]
            for c in objects["Job", f"{svc.name}-migrate"]["spec"]["template"]["spec"]["containers"]
        }
        for role in ("api", "worker"):
            spec = objects["Deployment", f"{svc.name}-{role}"]["spec"]["template"]["spec"]
            (init,) = spec["initContainers"]
            assert init["command"] == ["python", "/opt/inclusion/wait_for_schema.py"]
            assert {init["image"], spec["containers"][0]["image"]} == images, "one release, one image"
            assert init["env"] == spec["containers"][0]["env"]
            assert init["envFrom"] == spec["containers"][0]["envFrom"]
            volume = next(v for v in spec["volumes"] if v["name"] == init["volumeMounts"][0]["name"])
            assert volume["configMap"]["name"] == "inclusion-wait-for-schema"


def test_images_come_from_the_overlay_registry(
    objects: dict[tuple[str, str], dict[str, Any]], base: list[dict[str, Any]]
) -> None:
    for obj in workloads(objects):
        svc = obj["metadata"]["labels"]["app.kubernetes.io/name"]
        for container in all_containers(obj["spec"]["template"]["spec"]):
            name, tag, digest = split_image(container["image"])
            assert name == f"registry.example-county.gov.uk/inclusion/{svc}", container["image"]
            assert digest or (tag and tag not in ("latest", "local")), container["image"]
    for obj in base:
        for spec in pod_specs(obj):
            for container in all_containers(spec):
                svc = obj["metadata"]["labels"]["app.kubernetes.io/name"]
                assert container["image"] == f"inclusion/{svc}:local", "the base uses the compose image names"


def test_overlay_sets_the_namespace_everywhere(objects: dict[tuple[str, str], dict[str, Any]]) -> None:
    namespace = objects["Namespace", "inclusion"]
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    for obj in objects.values():
        if obj["kind"] != "Namespace":
            assert obj["metadata"]["namespace"] == "inclusion", key(obj)
            assert obj["metadata"]["labels"]["app.kubernetes.io/instance"] == "example-county"


# ---------------------------------------------------------------------------------------------
# Selectors and references
# ---------------------------------------------------------------------------------------------
def pod_labels(obj: Mapping[str, Any]) -> dict[str, str]:
    return dict(obj["spec"]["template"]["metadata"]["labels"])


def selects(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def deployments(objects: Mapping[tuple[str, str], dict[str, Any]]) -> list[dict[str, Any]]:
    return [o for o in objects.values() if o["kind"] == "Deployment"]


def test_deployment_selectors_match_their_pods_only(objects: dict[tuple[str, str], dict[str, Any]]) -> None:
    for obj in deployments(objects):
        selector = obj["spec"]["selector"]["matchLabels"]
        assert selects(selector, pod_labels(obj)), key(obj)
        others = [key(o) for o in workloads(objects) if o is not obj and selects(selector, pod_labels(o))]
        assert not others, f"{key(obj)} selector also matches {others}"


def test_services_select_existing_pods_on_declared_ports(
    objects: dict[tuple[str, str], dict[str, Any]],
) -> None:
    services = [o for o in objects.values() if o["kind"] == "Service"]
    assert len(services) == len(SERVICES) + 1
    for service in services:
        selector = service["spec"]["selector"]
        matched = [o for o in workloads(objects) if selects(selector, pod_labels(o))]
        assert [key(o) for o in matched] == [("Deployment", service["metadata"]["name"])], key(service)
        ports = {p["name"] for c in matched[0]["spec"]["template"]["spec"]["containers"] for p in c["ports"]}
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in ports and port["port"] == 8000, key(service)


def test_disruption_budgets_cover_existing_deployments(
    objects: dict[tuple[str, str], dict[str, Any]],
) -> None:
    budgets = [o for o in objects.values() if o["kind"] == "PodDisruptionBudget"]
    assert len(budgets) == 2 * len(SERVICES) + 1
    hpas = {
        o["spec"]["scaleTargetRef"]["name"]: o
        for o in objects.values()
        if o["kind"] == "HorizontalPodAutoscaler"
    }
    for budget in budgets:
        selector = budget["spec"]["selector"]["matchLabels"]
        matched = [o for o in deployments(objects) if selects(selector, pod_labels(o))]
        assert len(matched) == 1, key(budget)
        (target,) = matched
        name = target["metadata"]["name"]
        least = hpas[name]["spec"]["minReplicas"] if name in hpas else target["spec"]["replicas"]
        # maxUnavailable 1 of at least 2 pods: a node drain never takes the last one.
        assert budget["spec"]["maxUnavailable"] == 1 and least >= 2, key(budget)


def test_autoscalers_target_the_apis(objects: dict[tuple[str, str], dict[str, Any]]) -> None:
    hpas = [o for o in objects.values() if o["kind"] == "HorizontalPodAutoscaler"]
    assert sorted(h["spec"]["scaleTargetRef"]["name"] for h in hpas) == sorted(
        [*(f"{s.name}-api" for s in SERVICES), PORTAL]
    )
    for hpa in hpas:
        assert hpa["apiVersion"] == "autoscaling/v2"
        ref = hpa["spec"]["scaleTargetRef"]
        assert ref["kind"] == "Deployment" and ("Deployment", ref["name"]) in objects
        assert 2 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
        assert hpa["spec"]["metrics"], key(hpa)
    referral = objects["HorizontalPodAutoscaler", "referral-api-api"]["spec"]
    assert (referral["minReplicas"], referral["maxReplicas"]) == (3, 10), "the overlay's values"


def test_config_maps_referenced_by_pods_exist(objects: dict[tuple[str, str], dict[str, Any]]) -> None:
    for obj in workloads(objects):
        spec = obj["spec"]["template"]["spec"]
        names = {v["configMap"]["name"] for v in spec.get("volumes", []) if "configMap" in v}
        for container in all_containers(spec):
            names |= {e["configMapRef"]["name"] for e in container.get("envFrom", []) if "configMapRef" in e}
            assert not any("secretRef" in e for e in container.get("envFrom", [])), "secrets by key only"
        for name in names:
            assert ("ConfigMap", name) in objects, f"{key(obj)} reads missing ConfigMap {name}"


# ---------------------------------------------------------------------------------------------
# Secrets are referenced, never written
# ---------------------------------------------------------------------------------------------
def test_secrets_are_only_referenced(objects: dict[tuple[str, str], dict[str, Any]]) -> None:
    assert not [k for k in objects if k[0] == "Secret"], "no Secret belongs in git"
    referenced: dict[str, set[str]] = {}
    for obj in workloads(objects):
        for container in all_containers(obj["spec"]["template"]["spec"]):
            for env in container.get("env", []):
                if SECRET_NAME.search(env["name"]):
                    assert "value" not in env, f"{key(obj)} {env['name']} has a literal value"
                    assert "secretKeyRef" in env["valueFrom"], f"{key(obj)} {env['name']} not from a Secret"
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                if ref is not None:
                    referenced.setdefault(ref["name"], set()).add(ref["key"])
    assert referenced == REQUIRED_SECRETS
    for obj in objects.values():
        if obj["kind"] == "ConfigMap":
            for name, value in (obj.get("data") or {}).items():
                assert not SECRET_NAME.search(name), f"{key(obj)} holds {name}"
                assert not CREDENTIALS_IN_URL.search(value), f"{key(obj)} {name} holds credentials"
    readme = README.read_text(encoding="utf-8")
    for name, keys in REQUIRED_SECRETS.items():
        for secret_key in keys:
            assert name in readme and secret_key in readme, f"README.md does not document {name}/{secret_key}"


def container_environment(
    objects: Mapping[tuple[str, str], dict[str, Any]], container: Mapping[str, Any]
) -> dict[str, str]:
    """What the container's process sees: ConfigMaps (with their prefixes), then env (secrets
    replaced by test values long enough for production's checks)."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        data = objects["ConfigMap", source["configMapRef"]["name"]].get("data", {})
        env.update({source.get("prefix", "") + k: v for k, v in data.items()})
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = item["value"]
        else:
            ref = item["valueFrom"]["secretKeyRef"]
            if ref["key"] == "url":
                database = ref["name"].removesuffix("-database")
                env[item["name"]] = f"postgresql+asyncpg://inclusion:test-password@postgres:5432/{database}"
            else:
                env[item["name"]] = f"test-only-{ref['name']}-{ref['key']}-" + "0" * 32
    return env


@pytest.mark.parametrize("svc", SERVICES, ids=lambda s: s.name)
def test_pods_load_their_service_settings_in_production(
    objects: dict[tuple[str, str], dict[str, Any]], svc: Svc, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings_class = importlib.import_module(f"{svc.package}.config").Settings
    common = objects["ConfigMap", "inclusion-common"]["data"]
    for kind, name in (("Job", "migrate"), ("Deployment", "api"), ("Deployment", "worker")):
        spec = objects[kind, f"{svc.name}-{name}"]["spec"]["template"]["spec"]
        for container in all_containers(spec):
            for variable in [v for v in os.environ if v.startswith(svc.prefix)]:
                monkeypatch.delenv(variable)
            env = container_environment(objects, container)
            assert all(k.startswith(svc.prefix) for k in env), f"{svc.name}: variables of another service"
            for variable, value in env.items():
                monkeypatch.setenv(variable, value)
            settings = settings_class()
            assert settings.mode == "production" and settings.bus == "kafka"
            assert settings.kafka.bootstrap_servers == common["KAFKA__BOOTSTRAP_SERVERS"]
            assert settings.kafka.security_protocol == "SSL"
            assert settings.auth.issuer == "https://login.example-county.gov.uk/"
            assert settings.database_url.endswith(f"/{svc.name}")


# ---------------------------------------------------------------------------------------------
# Public routes: the gateway's, and nothing else
# ---------------------------------------------------------------------------------------------
def gateway_routes() -> dict[str, str]:
    """Path prefix -> compose/Kubernetes service name, from nginx.conf's prefix locations."""
    text = NGINX_CONF.read_text(encoding="utf-8")
    upstreams = dict(re.findall(r"upstream\s+(\w+)\s*\{\s*server\s+([\w-]+):8000;", text))
    routes: dict[str, str] = {}
    for alternatives, body in re.findall(r"location ~ \^/\(([^)]*)\)\(/\|\$\) \{([^}]*)\}", text):
        (upstream,) = re.findall(r"proxy_pass http://(\w+);", body)
        for prefix in alternatives.split("|"):
            routes[f"/{prefix}"] = upstreams[upstream]
    assert len(routes) >= 15 and len(set(routes.values())) == len(SERVICES), routes
    return routes


def test_ingress_routes_are_the_gateways(objects: dict[tuple[str, str], dict[str, Any]]) -> None:
    ingresses = [
        o for o in objects.values() if o["kind"] == "Ingress" and o["metadata"]["name"] != PORTAL_INGRESS
    ]
    routes: dict[str, str] = {}
    for ingress in ingresses:
        assert ingress["spec"]["tls"][0]["secretName"] == "inclusion-api-tls", key(ingress)
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                assert path["pathType"] == "Prefix"
                backend = path["backend"]["service"]
                assert path["path"] not in routes, f"{path['path']} routed twice"
                routes[path["path"]] = backend["name"]
                service = objects["Service", backend["name"]]
                assert backend["port"]["name"] in {p["name"] for p in service["spec"]["ports"]}
    assert routes == gateway_routes()
    for internal in ("/healthz", "/readyz", "/metrics", "/docs", "/openapi.json"):
        assert not any(internal == p or internal.startswith(p + "/") for p in routes), internal


def test_bulk_routes_get_the_gateways_bulk_limits(objects: dict[tuple[str, str], dict[str, Any]]) -> None:
    bulk = objects["Ingress", "inclusion-api-bulk"]
    paths = {p["path"] for r in bulk["spec"]["rules"] for p in r["http"]["paths"]}
    assert paths == {"/attendance", "/roll"}
    annotations = bulk["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/proxy-body-size"] == "64m"
    assert annotations["nginx.ingress.kubernetes.io/proxy-request-buffering"] == "off"
    assert (
        objects["Ingress", "inclusion-api"]["metadata"]["annotations"][
            "nginx.ingress.kubernetes.io/proxy-body-size"
        ]
        == "1m"
    )


# ---------------------------------------------------------------------------------------------
# The init containers' schema wait, against the real PostgreSQL
# ---------------------------------------------------------------------------------------------
def load_wait_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("inclusion_wait_for_schema", BASE / "wait_for_schema.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.integration
async def test_wait_for_schema_holds_until_migrate_has_run(
    pg_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from referral_api.bootstrap import bootstrap

    wait = load_wait_script()
    monkeypatch.setenv("REFERRAL_DATABASE_URL", pg_url)
    monkeypatch.setenv("REFERRAL_MODE", "test")
    assert await wait.wait_for_schema("referral-api", timeout=0.6, interval=0.2) is False
    err = capsys.readouterr().err
    assert "waiting for the migrate job (StaleSchemaError" in err and "schema not at head after" in err
    assert pg_url.split("@")[0] not in err, "the database URL is never printed"

    kernel = bootstrap()
    try:
        await kernel.migrate()
    finally:
        await kernel.dispose()
    assert await wait.wait_for_schema("referral-api", timeout=5, interval=0.2) is True
    assert "referral-api: schema is at head" in capsys.readouterr().out


def test_wait_for_schema_needs_the_images_service_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SERVICE", raising=False)
    assert load_wait_script().main() == 2


# ---------------------------------------------------------------------------------------------
# The portal
# ---------------------------------------------------------------------------------------------
PORTAL_BACKENDS = {
    "referral": "referral-api",
    "cme": "cme-tracker",
    "exclusions": "exclusions",
    "enforcement": "enforcement",
    "reporting": "reporting",
}


def test_the_portal_is_probed_and_calls_the_apis_services(
    objects: dict[tuple[str, str], dict[str, Any]],
) -> None:
    for kind in ("Deployment", "Service", "PodDisruptionBudget", "HorizontalPodAutoscaler"):
        assert (kind, PORTAL) in objects, f"no {kind}/{PORTAL}"
    spec = objects["Deployment", PORTAL]["spec"]
    assert "replicas" not in spec, "the autoscaler owns the portal's replica count"
    pod = spec["template"]["spec"]
    assert "initContainers" not in pod, "the portal has no database to wait for"
    (container,) = pod["containers"]
    assert container["args"][0] == "serve"
    assert {p["name"]: p["containerPort"] for p in container["ports"]} == {"http": 8000}
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["path"] == "/healthz", probe
    env = container_environment(objects, container)
    for name, svc in PORTAL_BACKENDS.items():
        url = env[f"PORTAL_SERVICES__{name.upper()}"]
        assert url == f"http://{svc}-api:8000", name
        assert ("Service", f"{svc}-api") in objects
    hpa = objects["HorizontalPodAutoscaler", PORTAL]["spec"]
    assert hpa["minReplicas"] >= 2, "a rolling update or a drain never leaves no portal"


def test_the_portal_loads_its_settings_in_production(
    objects: dict[tuple[str, str], dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    from portal.config import PortalSettings

    (container,) = objects["Deployment", PORTAL]["spec"]["template"]["spec"]["containers"]
    for variable in [v for v in os.environ if v.startswith("PORTAL_")]:
        monkeypatch.delenv(variable)
    env = container_environment(objects, container)
    assert all(k.startswith("PORTAL_") for k in env), "variables of another service"
    for variable, value in env.items():
        monkeypatch.setenv(variable, value)
    # Production refuses local sign-in, no identity provider, a short session secret, cookies
    # that are not Secure and a public address that is not https.
    settings = PortalSettings()
    assert settings.mode == "production" and not settings.local_sign_in_allowed
    assert settings.oidc is not None and settings.oidc.client_secret is not None
    assert settings.oidc.discovery_url.startswith("https://login.example-county.gov.uk/")
    common = objects["ConfigMap", "inclusion-common"]["data"]
    assert settings.oidc.api_audience == common["AUTH__AUDIENCE"], "the APIs' audience"
    assert settings.public_url == "https://inclusion.example-county.gov.uk"


def test_the_portal_has_a_host_of_its_own(objects: dict[tuple[str, str], dict[str, Any]]) -> None:
    """The portal's pages share path prefixes with the APIs (/referrals, /exclusions, ...): it is
    routed by host, every path of its host to the portal and none of the APIs' routes to it."""
    ingress = objects["Ingress", PORTAL_INGRESS]["spec"]
    (rule,) = ingress["rules"]
    host = rule["host"]
    assert rule["http"]["paths"] == [
        {
            "path": "/",
            "pathType": "Prefix",
            "backend": {"service": {"name": PORTAL, "port": {"name": "http"}}},
        }
    ]
    assert ingress["tls"] == [{"hosts": [host], "secretName": "inclusion-portal-tls"}]
    settings = objects["ConfigMap", "portal-config"]["data"]
    assert settings["PORTAL_PUBLIC_URL"] == f"https://{host}", "the OIDC redirect URI is on the portal's host"
    api_hosts: set[str | None] = set()
    for obj in objects.values():
        if obj["kind"] == "Ingress" and obj["metadata"]["name"] != PORTAL_INGRESS:
            api_hosts |= {r.get("host") for r in obj["spec"]["rules"]}
            api_hosts |= {h for t in obj["spec"].get("tls", []) for h in t["hosts"]}
            for r in obj["spec"]["rules"]:
                assert all(p["backend"]["service"]["name"] != PORTAL for p in r["http"]["paths"])
    assert host not in api_hosts, "the portal's host must not carry the APIs' routes"
