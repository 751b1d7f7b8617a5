"""The deployment files are right before anyone runs them: checked offline, no engine, no cluster.

- `docker-compose.yml` against the official Compose Specification JSON Schema, vendored as
  `deploy/schemas/compose-spec.json` (repository compose-spec/compose-spec, file
  `schema/compose-spec.json`, commit 00655e2222608fa6eaecdf12ac5195889ca2244a), then the rules a
  schema cannot express (healthchecks, start-up order, pinned images, secrets not committed).
- every manifest of `deploy/k8s/` against the Kubernetes OpenAPI schemas that kubernetes-validate
  bundles, in strict mode (an unknown or misspelt field is an error), then our rules (probes,
  resources, non-root, a Service, an HPA and a PDB per Deployment, Secrets only by reference).
- the Dockerfile and `.dockerignore`, for the facts the other two rely on.

The settings classes and the topic declarations are read from the code, so a renamed variable or
a changed port breaks these tests rather than a deployment. Each rule set is a function returning
the problems it finds; the negative tests give it (and the schema validators) broken copies, to
prove that the checks can fail.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import re
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import kubernetes_validate
import pytest
import yaml
from kitflow_distribution.config import DistributionSettings
from kitflow_gateway.config import GatewaySettings
from kitflow_needs.config import NeedsSettings
from kitflow_shared.settings import CommonSettings, KafkaSettings, StoreSettings
from kitflow_shared.topics import EVENT_TOPICS
from kitflow_stock.config import StockSettings
from pydantic_settings import BaseSettings

Doc = dict[str, Any]

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
COMPOSE_SCHEMA_FILE = REPO_ROOT / "deploy" / "schemas" / "compose-spec.json"
K8S_DIR = REPO_ROOT / "deploy" / "k8s"
KUSTOMIZATION_FILE = K8S_DIR / "kustomization.yaml"
DOCKERFILE = REPO_ROOT / "Dockerfile"
DOCKERIGNORE = REPO_ROOT / ".dockerignore"

# The oldest Kubernetes minor we promise to run on; kubernetes-validate bundles its schemas.
K8S_VERSION = "1.31"
# The uid the Dockerfile creates; the manifests must run as exactly this user.
IMAGE_UID = 10001
SERVICE_SETTINGS: dict[str, type[BaseSettings]] = {
    "gateway": GatewaySettings,
    "stock": StockSettings,
    "needs": NeedsSettings,
    "distribution": DistributionSettings,
}
PORTS: dict[str, int] = {
    name: settings.model_fields["port"].default for name, settings in SERVICE_SETTINGS.items()
}
EVENT_SERVICES = ("stock", "needs", "distribution")
TOPICS_COMMAND = ["python", "-m", "kitflow_shared.topics", "create"]
# More replicas than partitions would leave consumers idle.
MIN_PARTITIONS = min(topic.partitions for topic in EVENT_TOPICS)


def known_env_vars() -> set[str]:
    """Every KITFLOW_* variable some settings class of the code reads."""
    classes: list[type[BaseSettings]] = [
        CommonSettings,
        KafkaSettings,
        StoreSettings,
        *SERVICE_SETTINGS.values(),
    ]
    return {
        f"{cls.model_config.get('env_prefix', '')}{field}".upper()
        for cls in classes
        for field in cls.model_fields
    }


KNOWN_ENV = known_env_vars()


def service_command(service: str) -> list[str]:
    return ["python", "-m", f"kitflow_{service}"]


def image_problem(where: str, image: object) -> str | None:
    """An image must name a version: a digest, or a tag that is not `latest`."""
    if not isinstance(image, str) or not image:
        return f"{where}: no image"
    if "@sha256:" in image:
        return None
    name, _, tag = image.rpartition(":")
    if not name or "/" in tag:
        return f"{where}: image {image!r} has no tag (it would float on :latest)"
    if tag == "latest":
        return f"{where}: image {image!r} is not pinned (:latest)"
    return None


# --------------------------------------------------------------------------------------------
# docker-compose.yml
# --------------------------------------------------------------------------------------------


def load_compose() -> Doc:
    doc = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(doc, dict), "docker-compose.yml is not a mapping"
    return doc


def compose_schema_errors(doc: Doc) -> list[str]:
    schema = json.loads(COMPOSE_SCHEMA_FILE.read_text())
    validator = jsonschema.Draft7Validator(schema)
    return [
        f"{'/'.join(str(p) for p in error.absolute_path) or '<root>'}: {error.message}"
        for error in sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
    ]


def compose_env(service: Doc) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        pairs = (item.partition("=") for item in env)
        return {key: value for key, _, value in pairs}
    return {key: "" if value is None else str(value) for key, value in env.items()}


def compose_problems(doc: Doc) -> list[str]:
    problems: list[str] = []
    services: dict[str, Doc] = doc.get("services") or {}
    for required in ("kafka", "mongo", "topics", *SERVICE_SETTINGS):
        if required not in services:
            problems.append(f"service {required!r} is missing")

    for name, service in services.items():
        where = f"services.{name}"
        if (problem := image_problem(where, service.get("image"))) is not None:
            problems.append(problem)
        depends_on = service.get("depends_on")
        if depends_on is None:
            pass
        elif not isinstance(depends_on, dict):
            problems.append(f"{where}.depends_on: use the long form, with a condition for each")
        else:
            for dependency, spec in depends_on.items():
                problems.extend(_dependency_problems(where, services, dependency, spec))
        for volume in service.get("volumes") or []:
            source = volume.split(":", 1)[0] if isinstance(volume, str) else volume.get("source")
            named = isinstance(source, str) and not source.startswith(("/", ".", "~"))
            if named and source not in (doc.get("volumes") or {}):
                problems.append(f"{where}: named volume {source!r} is not declared")
        if name != "gateway" and service.get("ports"):
            problems.append(f"{where}: only the gateway is published on the host")

    for name in ("kafka", "mongo"):
        if name in services and not (services[name].get("healthcheck") or {}).get("test"):
            problems.append(f"services.{name}: no healthcheck")
    if "kafka" in services:
        problems.extend(_kafka_problems(services["kafka"]))
    if "mongo" in services:
        image = str(services["mongo"].get("image", ""))
        if not image.startswith("mongo:"):
            problems.append(f"services.mongo: not the official mongo image: {image!r}")
    if "topics" in services:
        topics = services["topics"]
        if topics.get("command") != TOPICS_COMMAND:
            problems.append(f"services.topics: command is not {TOPICS_COMMAND}")
        problems.extend(_kitflow_env_problems("services.topics", compose_env(topics)))
    for name in SERVICE_SETTINGS:
        if name in services:
            problems.extend(_kitflow_service_problems(name, services))
    return problems


def _dependency_problems(
    where: str, services: dict[str, Doc], dependency: str, spec: Any
) -> list[str]:
    if dependency not in services:
        return [f"{where}.depends_on: unknown service {dependency!r}"]
    condition = spec.get("condition") if isinstance(spec, dict) else None
    if condition is None:
        return [f"{where}.depends_on.{dependency}: no condition"]
    if dependency == "topics" and condition != "service_completed_successfully":
        return [f"{where}.depends_on.topics: must wait for service_completed_successfully"]
    if condition == "service_started":
        return [f"{where}.depends_on.{dependency}: service_started does not wait for readiness"]
    if condition == "service_healthy" and not services[dependency].get("healthcheck"):
        return [f"{where}.depends_on.{dependency}: service_healthy but it has no healthcheck"]
    return []


def _kafka_problems(kafka: Doc) -> list[str]:
    problems: list[str] = []
    image = str(kafka.get("image", ""))
    if not image.startswith("apache/kafka:"):
        problems.append(f"services.kafka: not the official apache/kafka image: {image!r}")
    env = compose_env(kafka)
    expected = {
        "KAFKA_PROCESS_ROLES": "broker,controller",
        "KAFKA_AUTO_CREATE_TOPICS_ENABLE": "false",
    }
    for key, value in expected.items():
        if env.get(key) != value:
            problems.append(f"services.kafka: {key} must be {value!r}, not {env.get(key)!r}")
    for key in ("KAFKA_NODE_ID", "KAFKA_LISTENERS", "KAFKA_ADVERTISED_LISTENERS"):
        if not env.get(key):
            problems.append(f"services.kafka: {key} is not set")
    for key, value in env.items():
        if key.endswith(("REPLICATION_FACTOR", "MIN_ISR")) and value != "1":
            problems.append(f"services.kafka: {key}={value} on a single broker")
    cluster_id = env.get("CLUSTER_ID", "")
    try:
        valid = len(cluster_id) == 22 and len(base64.urlsafe_b64decode(cluster_id + "==")) == 16
    except (binascii.Error, ValueError):
        valid = False
    if not valid:
        problems.append(f"services.kafka: CLUSTER_ID {cluster_id!r} is not a Kafka UUID")
    return problems


def _kitflow_env_problems(where: str, env: dict[str, str]) -> list[str]:
    problems = [
        f"{where}: {key} is not read by any kitflow setting"
        for key in env
        if key.startswith("KITFLOW_") and key not in KNOWN_ENV
    ]
    secret = env.get("KITFLOW_INTERNAL_SECRET")
    if secret is None:
        problems.append(f"{where}: KITFLOW_INTERNAL_SECRET is not set")
    elif not secret.startswith("${KITFLOW_INTERNAL_SECRET:?") and env.get("KITFLOW_ENV") != (
        "development"
    ):
        problems.append(
            f"{where}: KITFLOW_INTERNAL_SECRET must come from the environment "
            "(${KITFLOW_INTERNAL_SECRET:?...}) unless KITFLOW_ENV is development"
        )
    if not env.get("KITFLOW_KAFKA_BOOTSTRAP_SERVERS", "").startswith("kafka:"):
        problems.append(f"{where}: KITFLOW_KAFKA_BOOTSTRAP_SERVERS does not point at kafka")
    return problems


def _kitflow_service_problems(name: str, services: dict[str, Doc]) -> list[str]:
    where = f"services.{name}"
    service = services[name]
    port = PORTS[name]
    problems: list[str] = []
    if service.get("command") != service_command(name):
        problems.append(f"{where}: command is not {service_command(name)}")
    if not service.get("build") and not service.get("image", "").startswith("kitflow:"):
        problems.append(f"{where}: not built from the Dockerfile")
    env = compose_env(service)
    prefix = f"KITFLOW_{name.upper()}_"
    if env.get(f"{prefix}HOST") != "0.0.0.0":
        problems.append(f"{where}: {prefix}HOST must be 0.0.0.0 in a container")
    if env.get(f"{prefix}PORT") != str(port):
        problems.append(f"{where}: {prefix}PORT must be {port}")
    problems.extend(_kitflow_env_problems(where, env))
    if name == "gateway":
        for upstream in EVENT_SERVICES:
            url = urlsplit(env.get(f"KITFLOW_GATEWAY_{upstream.upper()}_URL", ""))
            if (url.hostname, url.port) != (upstream, PORTS[upstream]):
                problems.append(
                    f"{where}: the {upstream} URL is not http://{upstream}:{PORTS[upstream]}"
                )
    store = urlsplit(env.get("KITFLOW_STORE_URL", ""))
    if store.scheme != "mongodb" or store.hostname != "mongo":
        problems.append(f"{where}: KITFLOW_STORE_URL does not point at mongo")

    test = (service.get("healthcheck") or {}).get("test")
    if not isinstance(test, list) or test[:1] != ["CMD"]:
        problems.append(f"{where}: no exec-form healthcheck")
    else:
        command = " ".join(test)
        if f"http://127.0.0.1:{port}/readyz" not in command:
            problems.append(f"{where}: the healthcheck does not ask /readyz on port {port}")
        if test[1] != "python" or "urllib" not in command:
            problems.append(f"{where}: the healthcheck must use python (no curl in the image)")

    depends_on = service.get("depends_on")
    needed = ("kafka", "mongo", "topics") if name in EVENT_SERVICES else ("mongo", *EVENT_SERVICES)
    for dependency in needed:
        if not isinstance(depends_on, dict) or dependency not in depends_on:
            problems.append(f"{where}: does not wait for {dependency}")
    return problems


def test_the_compose_file_follows_the_compose_specification() -> None:
    assert compose_schema_errors(load_compose()) == []


def test_the_compose_file_has_everything_kitflow_relies_on() -> None:
    assert compose_problems(load_compose()) == []


def test_the_vendored_compose_schema_is_a_valid_json_schema() -> None:
    schema = json.loads(COMPOSE_SCHEMA_FILE.read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    assert schema["title"] == "Compose Specification"
    condition = schema["definitions"]["service"]["properties"]["depends_on"]["oneOf"][1]
    assert "service_completed_successfully" in json.dumps(condition)


def _compose_mutation(path: str, value: Any) -> Callable[[Doc], None]:
    """Set (or, for value ..., delete) a slash-separated path in the compose document."""

    def mutate(doc: Doc) -> None:
        *parents, last = path.split("/")
        node = doc
        for key in parents:
            node = node[key]
        if value is ...:
            del node[last]
        else:
            node[last] = value

    return mutate


@pytest.mark.parametrize(
    "mutate",
    [
        pytest.param(_compose_mutation("services/stock/depend_on", {}), id="misspelt-key"),
        pytest.param(
            _compose_mutation(
                "services/stock/depends_on", {"kafka": {"condition": "service_ready"}}
            ),
            id="unknown-condition",
        ),
        pytest.param(
            _compose_mutation("services/needs/healthcheck/interval", 10), id="interval-not-string"
        ),
        pytest.param(_compose_mutation("services/gateway/ports", "8000:8000"), id="ports-string"),
        pytest.param(_compose_mutation("volumes/kafka-data", ["x"]), id="volume-not-mapping"),
        pytest.param(_compose_mutation("servics", {}), id="unknown-top-level-key"),
    ],
)
def test_the_compose_schema_rejects_a_broken_copy(mutate: Callable[[Doc], None]) -> None:
    broken = copy.deepcopy(load_compose())
    mutate(broken)
    assert compose_schema_errors(broken), "the schema accepted a broken compose file"


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        pytest.param(
            _compose_mutation("services/distribution", ...),
            "service 'distribution' is missing",
            id="service-missing",
        ),
        pytest.param(
            _compose_mutation("services/stock/depends_on/kafka", {"required": True}),
            "depends_on.kafka: no condition",
            id="no-condition",
        ),
        pytest.param(
            _compose_mutation("services/needs/depends_on", ["kafka", "mongo", "topics"]),
            "use the long form",
            id="short-depends-on",
        ),
        pytest.param(
            _compose_mutation("services/needs/depends_on/topics", {"condition": "service_healthy"}),
            "service_completed_successfully",
            id="topics-not-completed",
        ),
        pytest.param(
            _compose_mutation("services/gateway/healthcheck", ...),
            "services.gateway: no exec-form healthcheck",
            id="no-healthcheck",
        ),
        pytest.param(
            _compose_mutation(
                "services/stock/healthcheck/test",
                ["CMD", "curl", "-f", "http://127.0.0.1:8001/readyz"],
            ),
            "must use python",
            id="curl-healthcheck",
        ),
        pytest.param(
            _compose_mutation("services/kafka/image", "apache/kafka:latest"),
            "not pinned",
            id="latest-image",
        ),
        pytest.param(_compose_mutation("services/mongo/image", "mongo"), "no tag", id="no-tag"),
        pytest.param(
            _compose_mutation("services/kafka/environment/KAFKA_AUTO_CREATE_TOPICS_ENABLE", "true"),
            "KAFKA_AUTO_CREATE_TOPICS_ENABLE",
            id="auto-create-topics",
        ),
        pytest.param(
            _compose_mutation(
                "services/stock/environment/KITFLOW_INTERNAL_SECRET", "not-so-secret" * 4
            ),
            "must come from the environment",
            id="literal-secret",
        ),
        pytest.param(
            _compose_mutation("services/needs/environment/KITFLOW_NEEDS_HOST", "127.0.0.1"),
            "must be 0.0.0.0",
            id="loopback-host",
        ),
        pytest.param(
            _compose_mutation("services/stock/environment/KITFLOW_STOCK_PROT", "8001"),
            "KITFLOW_STOCK_PROT is not read",
            id="misspelt-variable",
        ),
        pytest.param(
            _compose_mutation("services/mongo/ports", ["27017:27017"]),
            "only the gateway is published",
            id="store-published",
        ),
    ],
)
def test_the_compose_rules_catch_a_broken_copy(
    mutate: Callable[[Doc], None], expected: str
) -> None:
    broken = copy.deepcopy(load_compose())
    mutate(broken)
    problems = compose_problems(broken)
    assert any(expected in p for p in problems), f"{expected!r} not reported in {problems}"


# --------------------------------------------------------------------------------------------
# deploy/k8s
# --------------------------------------------------------------------------------------------


def manifest_files() -> list[Path]:
    return sorted(p for p in K8S_DIR.glob("*.yaml") if p != KUSTOMIZATION_FILE)


def load_manifests() -> list[tuple[str, Doc]]:
    resources: list[tuple[str, Doc]] = []
    for path in manifest_files():
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                resources.append((path.name, doc))
    return resources


MANIFESTS = load_manifests()


def _resource_id(item: tuple[str, Doc]) -> str:
    file, doc = item
    return f"{file}:{doc.get('kind')}/{doc.get('metadata', {}).get('name')}"


@pytest.mark.parametrize("item", MANIFESTS, ids=[_resource_id(m) for m in MANIFESTS])
def test_every_manifest_follows_the_kubernetes_schema_strictly(item: tuple[str, Doc]) -> None:
    _file, resource = item
    # Raises ValidationError (or SchemaNotFoundError for an unknown kind/apiVersion).
    kubernetes_validate.validate(resource, K8S_VERSION, strict=True)


def _stock_deployment() -> Doc:
    return copy.deepcopy(
        next(
            doc
            for _file, doc in MANIFESTS
            if doc["kind"] == "Deployment" and doc["metadata"]["name"] == "kitflow-stock"
        )
    )


def _container(deployment: Doc) -> Doc:
    container: Doc = deployment["spec"]["template"]["spec"]["containers"][0]
    return container


def _misspell_probe(d: Doc) -> None:
    _container(d)["readinessprobe"] = _container(d).pop("readinessProbe")


def _port_as_text(d: Doc) -> None:
    _container(d)["ports"][0]["containerPort"] = "eight-thousand-one"


def _unnamed_container(d: Doc) -> None:
    del _container(d)["name"]


def _misspell_metadata(d: Doc) -> None:
    d["metadata"]["lables"] = d["metadata"].pop("labels")


def _bad_security_field(d: Doc) -> None:
    d["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] = "yes"


@pytest.mark.parametrize(
    "mutate",
    [_misspell_probe, _port_as_text, _unnamed_container, _misspell_metadata, _bad_security_field],
)
def test_the_kubernetes_schema_rejects_a_broken_copy(mutate: Callable[[Doc], None]) -> None:
    broken = _stock_deployment()
    kubernetes_validate.validate(broken, K8S_VERSION, strict=True)  # the copy itself is valid
    mutate(broken)
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)


def _probe_port_matches(probe: Doc, port: Doc) -> bool:
    target = (probe.get("httpGet") or {}).get("port")
    return target in (port.get("name"), port.get("containerPort"))


def _env_value(container: Doc, name: str) -> Doc | None:
    return next((e for e in container.get("env") or [] if e.get("name") == name), None)


def pod_problems(where: str, pod: Doc, config_maps: dict[str, Doc]) -> list[str]:
    """What every kitflow pod needs, be it a Deployment's or the topics Job's."""
    problems: list[str] = []
    pod_security = pod.get("securityContext") or {}
    if pod.get("automountServiceAccountToken") is not False:
        problems.append(f"{where}: mounts a service-account token it does not need")
    if pod_security.get("runAsUser") != IMAGE_UID:
        problems.append(f"{where}: runAsUser is not the image's uid {IMAGE_UID}")
    if (pod_security.get("seccompProfile") or {}).get("type") != "RuntimeDefault":
        problems.append(f"{where}: no RuntimeDefault seccomp profile")
    for container in pod.get("containers") or []:
        here = f"{where}/{container.get('name')}"
        security = container.get("securityContext") or {}
        if security.get("runAsNonRoot", pod_security.get("runAsNonRoot")) is not True:
            problems.append(f"{here}: runAsNonRoot is not true")
        if security.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{here}: allowPrivilegeEscalation is not false")
        if security.get("readOnlyRootFilesystem") is not True:
            problems.append(f"{here}: the root filesystem is writable")
        if "ALL" not in ((security.get("capabilities") or {}).get("drop") or []):
            problems.append(f"{here}: capabilities are not all dropped")
        mounts = {m.get("mountPath") for m in container.get("volumeMounts") or []}
        if security.get("readOnlyRootFilesystem") and "/tmp" not in mounts:
            problems.append(f"{here}: read-only root filesystem but no writable /tmp")
        resources = container.get("resources") or {}
        for kind in ("requests", "limits"):
            missing = {"cpu", "memory"} - set(resources.get(kind) or {})
            if missing:
                problems.append(f"{here}: no {kind} for {sorted(missing)}")
        if (problem := image_problem(here, container.get("image"))) is not None:
            problems.append(problem)
        elif not str(container["image"]).startswith("kitflow:"):
            problems.append(
                f"{here}: the image is not `kitflow` (kustomization rewrites that name)"
            )

        secret = _env_value(container, "KITFLOW_INTERNAL_SECRET")
        if secret is None or "secretKeyRef" not in (secret.get("valueFrom") or {}):
            problems.append(f"{here}: KITFLOW_INTERNAL_SECRET is not taken from a Secret")
        for env in container.get("env") or []:
            name = str(env.get("name"))
            if name.startswith("KITFLOW_") and name not in KNOWN_ENV:
                problems.append(f"{here}: {name} is not read by any kitflow setting")
            if ("SECRET" in name or name == "KITFLOW_STORE_URL") and "value" in env:
                problems.append(f"{here}: {name} is written in the manifest instead of a Secret")
        sources = [s["configMapRef"]["name"] for s in container.get("envFrom") or []]
        if not sources:
            problems.append(f"{here}: no envFrom ConfigMap")
        for source in sources:
            if source not in config_maps:
                problems.append(f"{here}: envFrom names an unknown ConfigMap {source!r}")
    return problems


def deployment_problems(name: str, kinds: dict[str, dict[str, Doc]]) -> list[str]:
    service = name.removeprefix("kitflow-")
    port = PORTS.get(service)
    deployment = kinds.get("Deployment", {}).get(name)
    if deployment is None or port is None:
        return [f"Deployment {name} is missing"]
    where = f"Deployment/{name}"
    template = deployment["spec"]["template"]
    pod = template["spec"]
    labels = template.get("metadata", {}).get("labels") or {}
    problems = pod_problems(where, pod, kinds.get("ConfigMap", {}))
    selector = deployment["spec"].get("selector", {}).get("matchLabels") or {}
    if not selector or any(labels.get(k) != v for k, v in selector.items()):
        problems.append(f"{where}: the selector does not match the pod labels")

    containers = pod.get("containers") or []
    if len(containers) != 1:
        problems.append(f"{where}: expected one container, found {len(containers)}")
    for container in containers:
        here = f"{where}/{container.get('name')}"
        if container.get("command") != service_command(service):
            problems.append(f"{here}: command is not {service_command(service)}")
        ports = [p for p in container.get("ports") or [] if p.get("containerPort") == port]
        if not ports:
            problems.append(f"{here}: does not expose port {port}")
            continue
        for probe_name, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
            probe = container.get(probe_name)
            if not probe:
                problems.append(f"{here}: no {probe_name}")
            elif (probe.get("httpGet") or {}).get("path") != path:
                problems.append(f"{here}: {probe_name} does not ask {path}")
            elif not _probe_port_matches(probe, ports[0]):
                problems.append(f"{here}: {probe_name} asks another port than {port}")
        prefix = f"KITFLOW_{service.upper()}_"
        if (_env_value(container, f"{prefix}HOST") or {}).get("value") != "0.0.0.0":
            problems.append(f"{here}: {prefix}HOST must be 0.0.0.0 in a container")
        if (_env_value(container, f"{prefix}PORT") or {}).get("value") != str(port):
            problems.append(f"{here}: {prefix}PORT must be {port}")
        store = _env_value(container, "KITFLOW_STORE_URL")
        if store is None or "secretKeyRef" not in (store.get("valueFrom") or {}):
            problems.append(f"{here}: KITFLOW_STORE_URL (with credentials) is not from a Secret")
        if service == "gateway":
            for upstream in EVENT_SERVICES:
                env = _env_value(container, f"KITFLOW_GATEWAY_{upstream.upper()}_URL") or {}
                url = urlsplit(str(env.get("value", "")))
                target = kinds.get("Service", {}).get(str(url.hostname))
                target_ports = [
                    p.get("port") for p in (target or {}).get("spec", {}).get("ports", [])
                ]
                if target is None or url.port not in target_ports:
                    problems.append(
                        f"{here}: the {upstream} URL names no Service port: {url.geturl()!r}"
                    )

    svc = kinds.get("Service", {}).get(name)
    if svc is None:
        problems.append(f"Service {name} is missing")
    else:
        svc_selector = svc["spec"].get("selector") or {}
        if not svc_selector or any(labels.get(k) != v for k, v in svc_selector.items()):
            problems.append(f"Service/{name}: the selector does not match the pods")
        if port not in [p.get("port") for p in svc["spec"].get("ports") or []]:
            problems.append(f"Service/{name}: does not serve port {port}")

    hpa = kinds.get("HorizontalPodAutoscaler", {}).get(name)
    if hpa is None:
        problems.append(f"HorizontalPodAutoscaler {name} is missing")
    else:
        target = hpa["spec"]["scaleTargetRef"]
        if (target.get("apiVersion"), target.get("kind"), target.get("name")) != (
            "apps/v1",
            "Deployment",
            name,
        ):
            problems.append(f"HorizontalPodAutoscaler/{name}: does not scale Deployment {name}")
        low, high = hpa["spec"].get("minReplicas", 1), hpa["spec"]["maxReplicas"]
        if low < 2 or high < low:
            problems.append(f"HorizontalPodAutoscaler/{name}: replicas {low}..{high}")
        if service in EVENT_SERVICES and high > MIN_PARTITIONS:
            problems.append(
                f"HorizontalPodAutoscaler/{name}: {high} replicas but {MIN_PARTITIONS} partitions"
            )
        if "replicas" in deployment["spec"]:
            problems.append(f"{where}: sets replicas, which fights its autoscaler")

    pdb = kinds.get("PodDisruptionBudget", {}).get(name)
    pdb_selector = (pdb or {}).get("spec", {}).get("selector", {}).get("matchLabels") or {}
    if not pdb_selector or any(labels.get(k) != v for k, v in pdb_selector.items()):
        problems.append(f"PodDisruptionBudget {name} is missing or selects other pods")
    elif hpa is not None:
        problems.extend(_budget_problems(name, pdb or {}, hpa["spec"].get("minReplicas", 1)))
    return problems


def _budget_problems(name: str, pdb: Doc, replicas: int) -> list[str]:
    """A drain must leave one replica serving, and must be able to proceed at all."""
    spec = pdb.get("spec", {})
    if "minAvailable" in spec:
        kept = spec["minAvailable"]
    else:
        kept = replicas - spec.get("maxUnavailable", replicas)
    if not isinstance(kept, int) or not 1 <= kept < replicas:
        return [
            f"PodDisruptionBudget/{name}: keeps {kept!r} of {replicas} replicas "
            "(one at least, and fewer than all, or no node could be drained)"
        ]
    return []


# Three copies of every event on three brokers, two of which must have a write (the producers
# send with acks=all) before it is acknowledged: one broker can be lost without losing an event.
MIN_REPLICATION = 3


def cluster_config_problems(config_maps: dict[str, Doc]) -> list[str]:
    """What two replicas of every service on a broker cluster need from the shared settings: the
    topics replicated, and one owner per periodic job through a lease in the store."""
    data: dict[str, str] = {}
    for config_map in config_maps.values():
        data.update(config_map.get("data") or {})
    problems: list[str] = []
    replication = data.get("KITFLOW_KAFKA_TOPIC_REPLICATION_FACTOR", "1")
    if not replication.isdigit() or int(replication) < MIN_REPLICATION:
        problems.append(
            f"KITFLOW_KAFKA_TOPIC_REPLICATION_FACTOR is {replication!r}: topics need "
            f"{MIN_REPLICATION} replicas on the cluster"
        )
    try:
        lease = float(data["KITFLOW_JOB_LEASE_S"])
        renew = float(data["KITFLOW_JOB_LEASE_RENEW_S"])
    except (KeyError, ValueError):
        problems.append("the job lease (KITFLOW_JOB_LEASE_S, _RENEW_S) is not configured")
    else:
        if not 0 < renew < lease:
            problems.append(f"the job lease is renewed every {renew} s but lasts {lease} s")
    return problems


def k8s_problems(manifests: list[tuple[str, Doc]], kustomization: Doc) -> list[str]:
    problems: list[str] = []
    kinds: dict[str, dict[str, Doc]] = {}
    for file, doc in manifests:
        name = doc.get("metadata", {}).get("name")
        if name in kinds.setdefault(doc["kind"], {}):
            problems.append(f"{file}: {doc['kind']} {name} is declared twice")
        kinds[doc["kind"]][name] = doc
        if doc["kind"] == "Secret":
            problems.append(f"{file}: a Secret is committed; reference it, create it out of band")

    for service in SERVICE_SETTINGS:
        problems.extend(deployment_problems(f"kitflow-{service}", kinds))
    extra = set(kinds.get("Deployment", {})) - {f"kitflow-{s}" for s in SERVICE_SETTINGS}
    if extra:
        problems.append(f"unexpected Deployments: {sorted(extra)}")

    jobs = [
        job
        for job in kinds.get("Job", {}).values()
        if job["spec"]["template"]["spec"]["containers"][0].get("command") == TOPICS_COMMAND
    ]
    if len(jobs) != 1:
        problems.append(f"expected one Job running {TOPICS_COMMAND}, found {len(jobs)}")
    for job in jobs:
        pod = job["spec"]["template"]["spec"]
        problems.extend(
            pod_problems(f"Job/{job['metadata']['name']}", pod, kinds.get("ConfigMap", {}))
        )
        if pod.get("restartPolicy") not in ("OnFailure", "Never"):
            problems.append("the topics Job has no valid restartPolicy")

    for name, config_map in kinds.get("ConfigMap", {}).items():
        data = config_map.get("data") or {}
        for key in data:
            if key.startswith("KITFLOW_") and key not in KNOWN_ENV:
                problems.append(f"ConfigMap/{name}: {key} is not read by any kitflow setting")
            if "SECRET" in key or key == "KITFLOW_STORE_URL":
                problems.append(f"ConfigMap/{name}: {key} belongs in a Secret")
        if data.get("KITFLOW_ENV") != "production":
            problems.append(f"ConfigMap/{name}: KITFLOW_ENV is not production")
        if not data.get("KITFLOW_KAFKA_BOOTSTRAP_SERVERS"):
            problems.append(f"ConfigMap/{name}: no KITFLOW_KAFKA_BOOTSTRAP_SERVERS")

    if (kustomization.get("apiVersion"), kustomization.get("kind")) != (
        "kustomize.config.k8s.io/v1beta1",
        "Kustomization",
    ):
        problems.append("kustomization.yaml: not a kustomize.config.k8s.io/v1beta1 Kustomization")
    listed = set(kustomization.get("resources") or [])
    present = {file for file, _doc in manifests}
    if listed != present:
        problems.append(
            f"kustomization.yaml: resources {sorted(listed)} differ from the files "
            f"{sorted(present)}"
        )
    if "kitflow" not in [image.get("name") for image in kustomization.get("images") or []]:
        problems.append("kustomization.yaml: no `images` entry for kitflow")
    problems.extend(client_address_problems(kinds))
    problems.extend(cluster_config_problems(kinds.get("ConfigMap", {})))
    return problems


GATEWAY = "kitflow-gateway"


def client_address_problems(kinds: dict[str, dict[str, Doc]]) -> list[str]:
    """The gateway must see the client's address behind the ingress (the sign-in limit per
    address, the audit log): an Ingress routes to it, the gateway trusts the forwarded address
    from the ingress, and only the ingress (and the metrics scraper) may reach it, so that no
    one else can write X-Forwarded-For."""
    problems: list[str] = []
    service = kinds.get("Service", {}).get(GATEWAY, {})
    ports = {p.get("name") for p in service.get("spec", {}).get("ports", [])} | {
        p.get("port") for p in service.get("spec", {}).get("ports", [])
    }
    backends = [
        path.get("backend", {}).get("service", {})
        for ingress in kinds.get("Ingress", {}).values()
        for rule in ingress.get("spec", {}).get("rules", [])
        for path in rule.get("http", {}).get("paths", [])
    ]
    if not any(
        b.get("name") == GATEWAY
        and (b.get("port", {}).get("name") in ports or b.get("port", {}).get("number") in ports)
        for b in backends
    ):
        problems.append("no Ingress routes to the gateway Service's port")
    deployment = kinds.get("Deployment", {}).get(GATEWAY)
    if deployment is not None:
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        trusted = (_env_value(container, "KITFLOW_GATEWAY_TRUSTED_PROXIES") or {}).get("value")
        if not trusted or trusted.strip() == "*":
            problems.append(
                "the gateway trusts no proxy (KITFLOW_GATEWAY_TRUSTED_PROXIES), or every address: "
                "behind the ingress every client would be the ingress, or anyone could name one"
            )
    labels = (
        (deployment or {}).get("spec", {}).get("template", {}).get("metadata", {}).get("labels", {})
    )
    guarded = False
    for policy in kinds.get("NetworkPolicy", {}).values():
        spec = policy.get("spec", {})
        selector = spec.get("podSelector", {}).get("matchLabels", {})
        if not selector or any(labels.get(k) != v for k, v in selector.items()):
            continue
        sources = [peer for rule in spec.get("ingress", []) for peer in rule.get("from", [])]
        unrestricted = any(not rule.get("from") for rule in spec.get("ingress", []))
        guarded = "Ingress" in spec.get("policyTypes", []) and bool(sources) and not unrestricted
    if not guarded:
        problems.append(
            "no NetworkPolicy lets only the ingress reach the gateway (anyone else could forge "
            "X-Forwarded-For)"
        )
    return problems


def load_kustomization() -> Doc:
    doc = yaml.safe_load(KUSTOMIZATION_FILE.read_text())
    assert isinstance(doc, dict)
    return doc


def test_the_manifests_have_everything_kitflow_relies_on() -> None:
    assert MANIFESTS, f"no manifests in {K8S_DIR}"
    assert k8s_problems(MANIFESTS, load_kustomization()) == []


def test_the_k8s_readme_says_what_the_cluster_must_provide() -> None:
    readme = (K8S_DIR / "README.md").read_text()
    for fact in ("Strimzi", "MongoDB", "operator", "stateless", "consumer group", "Secret"):
        assert fact.lower() in readme.lower(), f"deploy/k8s/README.md does not mention {fact}"


def _find(manifests: list[tuple[str, Doc]], kind: str, name: str) -> Doc:
    return next(d for _f, d in manifests if d["kind"] == kind and d["metadata"]["name"] == name)


def _pod(manifests: list[tuple[str, Doc]], name: str) -> Doc:
    pod: Doc = _find(manifests, "Deployment", name)["spec"]["template"]["spec"]
    return pod


def _no_readiness(m: list[tuple[str, Doc]]) -> None:
    del _pod(m, "kitflow-stock")["containers"][0]["readinessProbe"]


def _liveness_on_readyz(m: list[tuple[str, Doc]]) -> None:
    _pod(m, "kitflow-needs")["containers"][0]["livenessProbe"]["httpGet"]["path"] = "/readyz"


def _no_limits(m: list[tuple[str, Doc]]) -> None:
    del _pod(m, "kitflow-distribution")["containers"][0]["resources"]["limits"]


def _runs_as_root(m: list[tuple[str, Doc]]) -> None:
    pod = _pod(m, "kitflow-gateway")
    pod["securityContext"]["runAsNonRoot"] = False
    pod["containers"][0]["securityContext"].pop("runAsNonRoot")


def _no_hpa(m: list[tuple[str, Doc]]) -> None:
    m.remove(next(i for i in m if i[1]["kind"] == "HorizontalPodAutoscaler"))


def _literal_secret(m: list[tuple[str, Doc]]) -> None:
    env = _pod(m, "kitflow-stock")["containers"][0]["env"]
    entry = next(e for e in env if e["name"] == "KITFLOW_INTERNAL_SECRET")
    entry.pop("valueFrom")
    entry["value"] = "x" * 40


def _latest_image(m: list[tuple[str, Doc]]) -> None:
    _pod(m, "kitflow-needs")["containers"][0]["image"] = "kitflow:latest"


def _misspelt_variable(m: list[tuple[str, Doc]]) -> None:
    env = _pod(m, "kitflow-stock")["containers"][0]["env"]
    env.append({"name": "KITFLOW_STOCK_RUN_WORKER", "value": "false"})


def _too_many_consumers(m: list[tuple[str, Doc]]) -> None:
    _find(m, "HorizontalPodAutoscaler", "kitflow-distribution")["spec"]["maxReplicas"] = 50


def _wrong_probe_port(m: list[tuple[str, Doc]]) -> None:
    _pod(m, "kitflow-stock")["containers"][0]["readinessProbe"]["httpGet"]["port"] = 8080


def _committed_secret(m: list[tuple[str, Doc]]) -> None:
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "kitflow-internal"}}
    m.append(("secret.yaml", secret))


def _gateway_url_to_nowhere(m: list[tuple[str, Doc]]) -> None:
    env = _pod(m, "kitflow-gateway")["containers"][0]["env"]
    entry = next(e for e in env if e["name"] == "KITFLOW_GATEWAY_STOCK_URL")
    entry["value"] = "http://stock-service:8001"


def _no_ingress(m: list[tuple[str, Doc]]) -> None:
    m.remove(next(i for i in m if i[1]["kind"] == "Ingress"))


def _trusts_every_proxy(m: list[tuple[str, Doc]]) -> None:
    env = _pod(m, "kitflow-gateway")["containers"][0]["env"]
    entry = next(e for e in env if e["name"] == "KITFLOW_GATEWAY_TRUSTED_PROXIES")
    entry["value"] = "*"


def _gateway_open_to_all(m: list[tuple[str, Doc]]) -> None:
    policy = next(d for _f, d in m if d["kind"] == "NetworkPolicy")
    policy["spec"]["ingress"] = [{}]


def _config(m: list[tuple[str, Doc]]) -> dict[str, str]:
    data: dict[str, str] = _find(m, "ConfigMap", "kitflow-config")["data"]
    return data


def _topics_on_one_broker(m: list[tuple[str, Doc]]) -> None:
    _config(m)["KITFLOW_KAFKA_TOPIC_REPLICATION_FACTOR"] = "1"


def _no_job_lease(m: list[tuple[str, Doc]]) -> None:
    del _config(m)["KITFLOW_JOB_LEASE_S"]


def _lease_shorter_than_renewal(m: list[tuple[str, Doc]]) -> None:
    _config(m)["KITFLOW_JOB_LEASE_S"] = "3"


def _one_replica(m: list[tuple[str, Doc]]) -> None:
    _find(m, "HorizontalPodAutoscaler", "kitflow-needs")["spec"]["minReplicas"] = 1


def _budget_blocks_drains(m: list[tuple[str, Doc]]) -> None:
    _find(m, "PodDisruptionBudget", "kitflow-stock")["spec"]["minAvailable"] = 2


def _no_budget(m: list[tuple[str, Doc]]) -> None:
    m.remove(next(i for i in m if i[1]["kind"] == "PodDisruptionBudget"))


def _no_liveness(m: list[tuple[str, Doc]]) -> None:
    del _pod(m, "kitflow-gateway")["containers"][0]["livenessProbe"]


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (_topics_on_one_broker, "KITFLOW_KAFKA_TOPIC_REPLICATION_FACTOR is '1'"),
        (_no_job_lease, "the job lease (KITFLOW_JOB_LEASE_S, _RENEW_S) is not configured"),
        (_lease_shorter_than_renewal, "renewed every 5.0 s but lasts 3.0 s"),
        (_one_replica, "HorizontalPodAutoscaler/kitflow-needs: replicas 1.."),
        (_budget_blocks_drains, "PodDisruptionBudget/kitflow-stock: keeps 2 of 2"),
        (_no_budget, "PodDisruptionBudget kitflow-"),
        (_no_liveness, "no livenessProbe"),
        (_no_ingress, "no Ingress routes to the gateway"),
        (_trusts_every_proxy, "the gateway trusts no proxy"),
        (_gateway_open_to_all, "no NetworkPolicy lets only the ingress"),
        (_no_readiness, "no readinessProbe"),
        (_liveness_on_readyz, "livenessProbe does not ask /healthz"),
        (_no_limits, "no limits"),
        (_runs_as_root, "runAsNonRoot is not true"),
        (_no_hpa, "HorizontalPodAutoscaler kitflow-"),
        (_literal_secret, "KITFLOW_INTERNAL_SECRET is not taken from a Secret"),
        (_latest_image, "not pinned"),
        (_misspelt_variable, "KITFLOW_STOCK_RUN_WORKER is not read"),
        (_too_many_consumers, "partitions"),
        (_wrong_probe_port, "another port"),
        (_committed_secret, "a Secret is committed"),
        (_gateway_url_to_nowhere, "names no Service port"),
    ],
)
def test_the_k8s_rules_catch_a_broken_copy(
    mutate: Callable[[list[tuple[str, Doc]]], None], expected: str
) -> None:
    broken = copy.deepcopy(MANIFESTS)
    mutate(broken)
    problems = k8s_problems(broken, load_kustomization())
    assert any(expected in p for p in problems), f"{expected!r} not reported in {problems}"


def test_the_kustomization_rule_catches_an_unlisted_file() -> None:
    kustomization = load_kustomization()
    kustomization["resources"] = kustomization["resources"][:-1]
    problems = k8s_problems(MANIFESTS, kustomization)
    assert any("differ from the files" in p for p in problems), problems


# --------------------------------------------------------------------------------------------
# Dockerfile and .dockerignore
# --------------------------------------------------------------------------------------------


def workspace_members() -> list[str]:
    root = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    members: list[str] = root["tool"]["uv"]["workspace"]["members"]
    return members


def makefile_uv_version() -> str | None:
    match = re.search(r"^UV_VERSION\s*:?=\s*(\S+)", (REPO_ROOT / "Makefile").read_text(), re.M)
    return match.group(1) if match else None


def dockerfile_problems(text: str) -> list[str]:
    problems: list[str] = []
    args = dict(re.findall(r"^ARG\s+(\w+)=(\S+)", text, re.M))

    def expand(value: str) -> str:
        return re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), m.group(0)), value)

    bases = [expand(b) for b in re.findall(r"^FROM\s+(\S+)", text, re.M)]
    if "python:3.11-slim" not in bases:
        problems.append(f"no python:3.11-slim stage (stages: {bases})")
    uv = [b for b in bases if b.startswith("ghcr.io/astral-sh/uv:")]
    uv += [expand(c) for c in re.findall(r"COPY\s+--from=(ghcr\.io/astral-sh/uv:\S+)", text)]
    if not uv:
        problems.append("uv is not copied from ghcr.io/astral-sh/uv")
    for image in uv:
        version = image.rpartition(":")[2]
        if not re.fullmatch(r"\d+\.\d+\.\d+", version):
            problems.append(f"uv is not pinned to a version: {image}")
        elif (wanted := makefile_uv_version()) and version != wanted:
            problems.append(f"uv {version} in the Dockerfile but {wanted} in the Makefile")
    syncs = re.findall(r"uv sync[^\n]*", text)
    if not syncs:
        problems.append("no `uv sync`")
    for sync in syncs:
        if "--frozen" not in sync and "--locked" not in sync:
            problems.append(f"`{sync}` does not install from the lock file")
        if "--no-dev" not in sync:
            problems.append(f"`{sync}` installs the dev dependencies")
    for member in workspace_members():
        if not re.search(rf"^COPY\s+{re.escape(member)}/pyproject\.toml\s", text, re.M):
            problems.append(f"the dependency layer lacks {member}/pyproject.toml")
    users = re.findall(r"^USER\s+(\S+)", text, re.M)
    final_user = users[-1].split(":")[0] if users else "root"
    if final_user != str(IMAGE_UID):
        problems.append(f"the image runs as {final_user!r}, not the numeric uid {IMAGE_UID}")
    return problems


def test_the_dockerfile_builds_from_the_lock_as_a_non_root_user() -> None:
    assert dockerfile_problems(DOCKERFILE.read_text()) == []


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("USER 10001:10001", "USER root", "runs as 'root'"),
        ("--no-dev --no-editable", "--no-editable", "installs the dev dependencies"),
        ("uv sync --frozen --no-dev --no-install", "uv sync --no-dev --no-install", "lock file"),
        (
            "COPY services/needs/pyproject.toml services/needs/pyproject.toml\n",
            "",
            "lacks services/needs/pyproject.toml",
        ),
        ("ARG UV_VERSION=", "ARG UV_VERSION=latest\nARG UNUSED=", "not pinned"),
    ],
)
def test_the_dockerfile_rules_catch_a_broken_copy(old: str, new: str, expected: str) -> None:
    text = DOCKERFILE.read_text()
    assert old in text
    problems = dockerfile_problems(text.replace(old, new, 1))
    assert any(expected in p for p in problems), f"{expected!r} not reported in {problems}"


def test_the_build_context_leaves_out_local_state() -> None:
    ignored = {
        line.strip().rstrip("/")
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    for entry in (".git", ".venv", ".local", "test-artifacts", "**/__pycache__", ".pytest_cache"):
        assert entry in ignored, f".dockerignore does not exclude {entry}"
    for needed in ("pyproject.toml", "uv.lock", "README.md", "shared", "services"):
        assert needed not in ignored, f".dockerignore excludes {needed}, which the build needs"
