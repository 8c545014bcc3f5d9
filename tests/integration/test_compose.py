"""The Docker deployment, checked without Docker: docker-compose.yml, deploy/Dockerfile and the
gateway's nginx.conf.

The compose file is validated by `docker compose config -q` where the Compose plugin works, and
otherwise against the Compose Specification's JSON Schema committed beside it
(deploy/compose/compose-spec.schema.json, see deploy/compose/NOTICE), after the same variable
interpolation Compose performs. Either way the test runs: it never skips. The project's own
invariants (three processes per service, start order, production settings, no secrets in the
file, the gateway's routes) are asserted directly on the parsed files.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml

from inclusion_kit.contracts.topics import Topic
from inclusion_platform.embedded import SERVICES as EMBEDDED_SERVICES

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
SCHEMA_FILE = ROOT / "deploy" / "compose" / "compose-spec.schema.json"
POSTGRES_INIT = ROOT / "deploy" / "compose" / "postgres-init.sql"
NGINX_CONF = ROOT / "deploy" / "gateway" / "nginx.conf"
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"


@dataclass(frozen=True)
class Svc:
    name: str  # directory under services/, workspace package and console script
    prefix: str  # settings environment prefix
    database: str
    routes: tuple[str, ...]  # path prefixes the gateway sends to this service's api


OPERATIONS_PATHS = {"/healthz", "/readyz", "/metrics"}


@functools.cache
def app_routes(name: str) -> tuple[str, ...]:
    """The first path segments of the service's operations, read from its app: what the gateway
    must send to it (a route added to a service and not to the gateway fails these tests)."""
    entry = next(e for e in EMBEDDED_SERVICES if e.name == name)
    settings = entry.settings_class(mode="test", database_url="sqlite+aiosqlite:///:memory:")  # type: ignore[call-arg]
    paths = entry.create_app(settings).openapi()["paths"]
    return tuple(sorted({"/" + p.split("/")[1] for p in paths if p not in OPERATIONS_PATHS}))


SERVICES = (
    Svc("referral-api", "REFERRAL_", "referral", app_routes("referral-api")),
    Svc("cme-tracker", "CME_", "cme", app_routes("cme-tracker")),
    Svc("exclusions", "EXCLUSIONS_", "exclusions", app_routes("exclusions")),
    Svc("enforcement", "ENFORCEMENT_", "enforcement", app_routes("enforcement")),
    Svc("reporting", "REPORTING_", "reporting", app_routes("reporting")),
)
PROCESSES = ("migrate", "api", "worker")

# Variables the compose file must refuse to run without (nothing defaults to a secret; the
# portal's identity provider and public address have no sensible default either).
REQUIRED_VARIABLES = (
    "JWT_SECRET",
    "CURSOR_SECRET",
    "DB_PASSWORD",
    "POSTGRES_PASSWORD",
    "PORTAL_SESSION_SECRET",
    "OIDC_DISCOVERY_URL",
    "OIDC_CLIENT_ID",
    "OIDC_CLIENT_SECRET",
    "PORTAL_PUBLIC_URL",
)
# Long enough to pass production's minimum secret length (32 characters); addresses are https.
TEST_VARIABLES = {
    name: f"test-only-{name.lower().replace('_', '-')}-" + "0" * 32 for name in REQUIRED_VARIABLES
} | {
    "OIDC_DISCOVERY_URL": "https://login.example.test/.well-known/openid-configuration",
    "PORTAL_PUBLIC_URL": "https://portal.example.test",
}
SECRET_NAME = re.compile(r"SECRET|PASSWORD|PASSWD|TOKEN|API_KEY|PRIVATE_KEY|CREDENTIAL", re.IGNORECASE)
REQUIRED_INTERPOLATION = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*):?\?[^}]*\}")


# ---------------------------------------------------------------------------------------------
# Compose interpolation (the subset of the Compose Specification's syntax: $$, $VAR, ${VAR},
# ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error}, ${VAR:+alt}, ${VAR+alt})
# ---------------------------------------------------------------------------------------------
class MissingVariableError(Exception):
    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"required variable {name} is missing a value: {message}")
        self.name = name


_REFERENCE = re.compile(r"\$(?:(?P<escaped>\$)|\{(?P<braced>[^}]*)\}|(?P<named>[A-Za-z_][A-Za-z0-9_]*))")
_BRACED = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>.*))?", re.DOTALL)


def interpolate_text(text: str, env: Mapping[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        if match["named"]:
            return env.get(match["named"], "")
        expression = match["braced"]
        parsed = _BRACED.fullmatch(expression)
        if parsed is None:
            raise ValueError(f"invalid interpolation: ${{{expression}}}")
        name, op, arg = parsed["name"], parsed["op"], parsed["arg"] or ""
        value = env.get(name)
        if op is None:
            return value or ""
        unset = value is None or (op.startswith(":") and value == "")
        if op.endswith("-"):
            return arg if unset else str(value)
        if op.endswith("?"):
            if unset:
                raise MissingVariableError(name, arg)
            return str(value)
        return "" if unset else arg  # "+"

    return _REFERENCE.sub(replace, text)


def interpolate(node: Any, env: Mapping[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate_text(node, env)
    if isinstance(node, list):
        return [interpolate(item, env) for item in node]
    if isinstance(node, dict):
        return {key: interpolate(value, env) for key, value in node.items()}
    return node


# ---------------------------------------------------------------------------------------------
# Fixtures and helpers
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def raw_compose() -> dict[str, Any]:
    """The compose file as YAML (anchors and merge keys resolved), before interpolation."""
    document = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document


@pytest.fixture(scope="module")
def compose(raw_compose: dict[str, Any]) -> dict[str, Any]:
    """The compose model as Compose sees it with the required variables set."""
    model = interpolate(raw_compose, TEST_VARIABLES)
    assert isinstance(model, dict)
    return model


def service(compose: Mapping[str, Any], name: str) -> dict[str, Any]:
    services = compose["services"]
    assert name in services, f"docker-compose.yml has no service {name!r}"
    entry = services[name]
    assert isinstance(entry, dict)
    return entry


def environment(entry: Mapping[str, Any]) -> dict[str, str]:
    env = entry.get("environment") or {}
    if isinstance(env, list):  # ["KEY=value", ...]
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(key): "" if value is None else str(value) for key, value in env.items()}


def depends_on(entry: Mapping[str, Any]) -> dict[str, str]:
    deps = entry.get("depends_on") or {}
    if isinstance(deps, list):  # short form means service_started
        return dict.fromkeys(deps, "service_started")
    return {name: spec.get("condition", "service_started") for name, spec in deps.items()}


def command(entry: Mapping[str, Any]) -> list[str]:
    value = entry.get("command")
    return value.split() if isinstance(value, str) else list(value or [])


def schema_validator_class(schema: Mapping[str, Any]) -> type[Any]:
    """The validator for the draft the schema declares in `$schema`."""
    declared = str(schema.get("$schema", ""))
    drafts: dict[str, type[Any]] = {
        "draft-04": jsonschema.Draft4Validator,
        "draft-06": jsonschema.Draft6Validator,
        "draft-07": jsonschema.Draft7Validator,
        "2019-09": jsonschema.Draft201909Validator,
        "2020-12": jsonschema.Draft202012Validator,
    }
    for marker, validator in drafts.items():
        if marker in declared:
            return validator
    raise AssertionError(f"{SCHEMA_FILE.name} declares an unknown $schema: {declared!r}")


def load_schema() -> dict[str, Any]:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    assert isinstance(schema, dict)
    return schema


def docker_compose_available() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        result = subprocess.run(
            ["docker", "compose", "version"], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


# ---------------------------------------------------------------------------------------------
# A small nginx configuration reader: directives, blocks, and nginx's location selection
# ---------------------------------------------------------------------------------------------
@dataclass
class Directive:
    name: str
    args: list[str]
    block: list[Directive] | None = None

    def children(self, name: str) -> list[Directive]:
        return [child for child in self.block or [] if child.name == name]

    def value(self, name: str) -> list[str] | None:
        found = self.children(name)
        return found[-1].args if found else None


def nginx_tokens(text: str) -> Iterator[str]:
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char.isspace():
            i += 1
        elif char == "#":
            while i < n and text[i] != "\n":
                i += 1
        elif char in "{};":
            yield char
            i += 1
        elif char in "\"'":
            j, out = i + 1, []
            while j < n and text[j] != char:
                if text[j] == "\\" and j + 1 < n:
                    j += 1
                out.append(text[j])
                j += 1
            assert j < n, "unterminated quoted string in nginx.conf"
            yield "".join(out)
            i = j + 1
        else:
            j = i
            while j < n and not text[j].isspace() and text[j] not in "{};\"'":
                j += 1
            yield text[i:j]
            i = j


def nginx_parse(text: str) -> list[Directive]:
    tokens = list(nginx_tokens(text))
    position = 0

    def block() -> list[Directive]:
        nonlocal position
        directives: list[Directive] = []
        words: list[str] = []
        while position < len(tokens):
            token = tokens[position]
            position += 1
            if token == ";":
                assert words, "empty directive in nginx.conf"
                directives.append(Directive(words[0], words[1:]))
                words = []
            elif token == "{":
                assert words, "block without a directive name in nginx.conf"
                directives.append(Directive(words[0], words[1:], block()))
                words = []
            elif token == "}":
                assert not words, f"unterminated directive {words} in nginx.conf"
                return directives
            else:
                words.append(token)
        assert not words, f"unterminated directive {words} in nginx.conf"
        return directives

    top = block()
    assert position == len(tokens), "unbalanced braces in nginx.conf"
    return top


@dataclass
class Gateway:
    upstreams: dict[str, list[str]]  # upstream name -> "host:port" servers
    locations: list[Directive]  # the server's locations, in file order
    server: Directive
    http: Directive
    proxied: dict[str, str] = field(default_factory=dict)

    def on(self, server: Directive) -> Gateway:
        """The same gateway seen through another of its servers."""
        return Gateway(self.upstreams, server.children("location"), server, self.http)

    def select(self, uri: str) -> Directive | None:
        """nginx's choice: exact match; else the longest prefix, unless a regex (in file order)
        matches first and that prefix is not ^~."""
        longest: Directive | None = None
        regexes: list[Directive] = []
        for location in self.locations:
            modifier, pattern = (
                (location.args[0], location.args[1]) if len(location.args) == 2 else ("", location.args[0])
            )
            if pattern.startswith("@"):
                continue
            if modifier == "=":
                if uri == pattern:
                    return location
            elif modifier in ("~", "~*"):
                regexes.append(location)
            elif uri.startswith(pattern) and (longest is None or len(pattern) > len(longest.args[-1])):
                longest = location
        if longest is not None and longest.args[0] == "^~":
            return longest
        for location in regexes:
            flags = re.IGNORECASE if location.args[0] == "~*" else 0
            if re.search(location.args[1], uri, flags):
                return location
        return longest

    def route(self, uri: str) -> tuple[str, str] | None:
        """(upstream host, path sent upstream or '' when passed unchanged) for a request URI."""
        location = self.select(uri)
        if location is None:
            return None
        proxy_pass = location.value("proxy_pass")
        if proxy_pass is None:
            return None
        target = urlsplit(proxy_pass[0])
        assert target.scheme == "http", proxy_pass
        upstream = target.netloc
        servers = self.upstreams.get(upstream, [upstream])
        assert len(servers) == 1, f"upstream {upstream} has {servers}"
        return servers[0].rsplit(":", 1)[0], target.path


API_PORT, PORTAL_PORT = "8080", "8081"


def gateway_servers() -> tuple[Gateway, Gateway]:
    """The APIs' server (8080) and the portal's (8081): the gateway's only two."""
    top = nginx_parse(NGINX_CONF.read_text(encoding="utf-8"))
    (http,) = [d for d in top if d.name == "http"]
    upstreams = {u.args[0]: [s.args[0] for s in u.children("server")] for u in http.children("upstream")}
    servers = {tuple(s.value("listen") or []): s for s in http.children("server")}
    assert set(servers) == {(API_PORT,), (PORTAL_PORT,)}, f"the gateway's servers listen on {sorted(servers)}"
    api = servers[(API_PORT,)]
    apis = Gateway(upstreams, api.children("location"), api, http)
    return apis, apis.on(servers[(PORTAL_PORT,)])


@pytest.fixture(scope="module")
def gateway() -> Gateway:
    return gateway_servers()[0]


@pytest.fixture(scope="module")
def portal_gateway() -> Gateway:
    return gateway_servers()[1]


# ---------------------------------------------------------------------------------------------
# The compose file is valid Compose
# ---------------------------------------------------------------------------------------------
def test_compose_file_is_valid_compose(compose: dict[str, Any], tmp_path: Path) -> None:
    if docker_compose_available():
        env_file = tmp_path / "compose.env"
        env_file.write_text("".join(f"{k}={v}\n" for k, v in TEST_VARIABLES.items()), encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if k not in REQUIRED_VARIABLES}
        result = subprocess.run(
            ["docker", "compose", "--env-file", str(env_file), "-f", str(COMPOSE_FILE), "config", "-q"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, f"docker compose config -q failed:\n{result.stderr}{result.stdout}"
        return
    # No Compose here: the specification's schema, on the interpolated model as Compose sees it.
    schema = load_schema()
    validator = schema_validator_class(schema)(schema)
    errors = sorted(validator.iter_errors(compose), key=lambda e: list(e.absolute_path))
    assert not errors, "docker-compose.yml does not follow the Compose Specification:\n" + "\n".join(
        f"  {'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in errors
    )


def test_compose_schema_is_the_draft_it_declares_and_rejects_nonsense() -> None:
    """Guards the fallback against passing vacuously (a truncated or permissive schema)."""
    schema = load_schema()
    assert schema.get("title") == "Compose Specification"
    validator_class = schema_validator_class(schema)
    validator_class.check_schema(schema)
    validator = validator_class(schema)
    assert validator.is_valid(
        {"services": {"web": {"image": "nginx", "depends_on": {"db": {"condition": "service_healthy"}}}}}
    )
    assert not validator.is_valid({"services": {"web": {"image": "nginx", "restart_when": "always"}}})
    assert not validator.is_valid({"services": {"web": {"depends_on": {"db": {"condition": "when_ready"}}}}})
    assert not validator.is_valid({"servces": {}})


# ---------------------------------------------------------------------------------------------
# The project's invariants
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("svc", SERVICES, ids=lambda s: s.name)
def test_every_service_has_migrate_api_and_worker_from_its_image(compose: dict[str, Any], svc: Svc) -> None:
    images = set()
    for process in PROCESSES:
        entry = service(compose, f"{svc.name}-{process}")
        assert command(entry) == [process], f"{svc.name}-{process} runs {command(entry)}"
        build = entry.get("build")
        assert isinstance(build, dict), f"{svc.name}-{process} has no build section"
        assert (ROOT / build.get("context", ".") / build["dockerfile"]).resolve() == DOCKERFILE
        assert build["args"]["SERVICE"] == svc.name
        images.add(entry["image"])
        assert "entrypoint" not in entry, "the image's ENTRYPOINT (the service's console script) is used"
    assert len(images) == 1, f"{svc.name}'s processes use different images: {images}"
    assert svc.name in images.pop()


@pytest.mark.parametrize("svc", SERVICES, ids=lambda s: s.name)
def test_start_order(compose: dict[str, Any], svc: Svc) -> None:
    migrate = service(compose, f"{svc.name}-migrate")
    assert str(migrate.get("restart")) == "no", "a migration runs once"
    assert depends_on(migrate).get("postgres") == "service_healthy"
    for process in ("api", "worker"):
        deps = depends_on(service(compose, f"{svc.name}-{process}"))
        assert deps.get(f"{svc.name}-migrate") == "service_completed_successfully", (process, deps)
        assert deps.get("kafka") == "service_healthy", (process, deps)
        if "kafka-init" in deps:
            assert deps["kafka-init"] == "service_completed_successfully"


@pytest.mark.parametrize("svc", SERVICES, ids=lambda s: s.name)
def test_api_health_and_ports(compose: dict[str, Any], svc: Svc) -> None:
    api = service(compose, f"{svc.name}-api")
    test = api.get("healthcheck", {}).get("test")
    assert test and "/readyz" in " ".join(test if isinstance(test, list) else [test]), (
        "api healthcheck is /readyz"
    )
    assert "ports" not in api, "APIs are published only through the gateway"
    for process in ("migrate", "worker"):
        entry = service(compose, f"{svc.name}-{process}")
        assert "ports" not in entry
        assert entry.get("healthcheck", {}).get("disable") is True, f"{process} serves no HTTP"


@pytest.mark.parametrize("svc", SERVICES, ids=lambda s: s.name)
def test_service_environment_is_production_and_its_own(compose: dict[str, Any], svc: Svc) -> None:
    for process in PROCESSES:
        env = environment(service(compose, f"{svc.name}-{process}"))
        where = f"{svc.name}-{process}"
        strangers = [key for key in env if not key.startswith(svc.prefix)]
        assert not strangers, f"{where}: variables without the {svc.prefix} prefix: {strangers}"
        assert env.get(f"{svc.prefix}MODE") == "production", where
        assert env.get(f"{svc.prefix}BUS") == "kafka", where
        assert env.get(f"{svc.prefix}KAFKA__BOOTSTRAP_SERVERS") == "kafka:9092", where
        assert env.get(f"{svc.prefix}AUTH__JWT_SECRET") or env.get(f"{svc.prefix}AUTH__JWKS_URL"), where
        assert env.get(f"{svc.prefix}HTTP__CURSOR_SECRET"), f"{where}: production needs a cursor secret"
        url = urlsplit(env.get(f"{svc.prefix}DATABASE_URL", ""))
        assert url.scheme == "postgresql+asyncpg", f"{where}: {url.scheme}"
        assert (url.hostname, url.port) == ("postgres", 5432), where
        assert url.path == f"/{svc.database}", f"{where} must use its own database {svc.database}"


def test_each_service_owns_one_database_that_postgres_init_creates(compose: dict[str, Any]) -> None:
    sql = POSTGRES_INIT.read_text(encoding="utf-8")
    created = set(re.findall(r"^\s*CREATE DATABASE (\w+)", sql, re.MULTILINE | re.IGNORECASE))
    roles = set(re.findall(r"^\s*CREATE ROLE (\w+)", sql, re.MULTILINE | re.IGNORECASE))
    assert len({svc.database for svc in SERVICES}) == len(SERVICES)
    for svc in SERVICES:
        url = urlsplit(environment(service(compose, f"{svc.name}-api"))[f"{svc.prefix}DATABASE_URL"])
        assert svc.database in created, f"postgres-init.sql does not create {svc.database}"
        assert url.username in roles, f"postgres-init.sql does not create role {url.username}"
    assert "PASSWORD '" not in sql.upper(), "no literal password in postgres-init.sql"
    postgres = service(compose, "postgres")
    assert any(
        str(volume).startswith("./deploy/compose/postgres-init.sql:/docker-entrypoint-initdb.d/")
        for volume in postgres.get("volumes", [])
    )


def test_no_literal_secrets(raw_compose: dict[str, Any]) -> None:
    """Every secret is a required variable (`${NAME:?message}`): no value, no default."""
    checked = 0
    for name, entry in raw_compose["services"].items():
        for key, value in environment(entry).items():
            if SECRET_NAME.search(key):
                assert REQUIRED_INTERPOLATION.fullmatch(value), (
                    f"{name}: {key} must be ${{VAR:?...}}, not {value!r}"
                )
                checked += 1
            if key.endswith("DATABASE_URL"):
                # Not urlsplit: the `?` of `${VAR:?message}` would start a query string.
                userinfo = value.split("://", 1)[-1].rpartition("@")[0]
                password = userinfo.partition(":")[2]
                assert REQUIRED_INTERPOLATION.fullmatch(password), f"{name}: {key} has a literal password"
                checked += 1
    assert checked >= 2 * len(SERVICES) * len(PROCESSES)
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    defaulted = re.findall(r"\$\{(\w+):?[-+][^}]*\}", text)
    assert not [v for v in defaulted if SECRET_NAME.search(v)], "a secret variable has a default"


@pytest.mark.parametrize("variable", REQUIRED_VARIABLES)
def test_compose_refuses_to_run_without_each_secret(raw_compose: dict[str, Any], variable: str) -> None:
    env = {k: v for k, v in TEST_VARIABLES.items() if k != variable}
    with pytest.raises(MissingVariableError) as missing:
        interpolate(raw_compose, env)
    assert missing.value.name == variable


def test_kafka_is_a_single_kraft_node_with_the_five_topics(compose: dict[str, Any]) -> None:
    kafka = service(compose, "kafka")
    assert re.fullmatch(r"apache/kafka:4\.1\.\d+", kafka["image"]), kafka["image"]
    env = environment(kafka)
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "true"
    assert env.get("CLUSTER_ID"), "the apache/kafka image needs CLUSTER_ID in KRaft mode"
    assert "kafka:9092" in env["KAFKA_ADVERTISED_LISTENERS"]
    assert kafka.get("healthcheck", {}).get("test"), "kafka has a healthcheck"

    init = service(compose, "kafka-init")
    assert init["image"] == kafka["image"]
    assert str(init.get("restart")) == "no"
    assert depends_on(init).get("kafka") == "service_healthy"
    script = " ".join(command(init) if isinstance(init.get("command"), list) else [init["command"]])
    assert "kafka-topics.sh" in script and "--create" in script
    assert "--partitions 3" in script
    assert set(re.findall(r"\binclusion\.[a-z_]+\b", script)) == {topic.value for topic in Topic}


def test_postgres_has_a_healthcheck(compose: dict[str, Any]) -> None:
    postgres = service(compose, "postgres")
    assert re.fullmatch(r"postgres:1[5-7](\.\d+)?(-\w+)?", postgres["image"]), postgres["image"]
    test = postgres.get("healthcheck", {}).get("test")
    assert test and "pg_isready" in " ".join(test if isinstance(test, list) else [test])


def test_only_the_gateway_publishes_a_port(compose: dict[str, Any]) -> None:
    published = sorted(name for name, entry in compose["services"].items() if entry.get("ports"))
    assert published == ["gateway"]
    gateway_service = service(compose, "gateway")
    assert re.fullmatch(r"nginx:[\w.-]+", gateway_service["image"])
    assert any(str(port).endswith(":8080") for port in gateway_service["ports"])
    assert any(str(port).endswith(":8081") for port in gateway_service["ports"]), "the portal's port"
    assert depends_on(gateway_service).get("portal") == "service_healthy"
    assert any(
        str(volume).startswith("./deploy/gateway/nginx.conf:/etc/nginx/nginx.conf")
        for volume in gateway_service.get("volumes", [])
    )
    deps = depends_on(gateway_service)
    for svc in SERVICES:
        assert deps.get(f"{svc.name}-api") == "service_healthy"


# ---------------------------------------------------------------------------------------------
# The gateway
# ---------------------------------------------------------------------------------------------
def test_gateway_knows_every_api(gateway: Gateway, compose: dict[str, Any]) -> None:
    servers = {server for servers in gateway.upstreams.values() for server in servers}
    for svc in SERVICES:
        service(compose, f"{svc.name}-api")
        assert f"{svc.name}-api:8000" in servers, f"no upstream for {svc.name}-api"


@pytest.mark.parametrize(
    ("svc", "route"),
    [(svc, route) for svc in SERVICES for route in svc.routes],
    ids=lambda v: getattr(v, "name", v),
)
def test_gateway_routes_each_prefix_to_its_service(gateway: Gateway, svc: Svc, route: str) -> None:
    for uri in (route, f"{route}/", f"{route}/0a1b2c3d", f"{route}/0a1b2c3d/history"):
        assert gateway.route(uri) == (f"{svc.name}-api", ""), f"{uri} -> {gateway.route(uri)}"


@pytest.mark.parametrize("svc", SERVICES, ids=lambda s: s.name)
def test_gateway_publishes_each_openapi_document(gateway: Gateway, svc: Svc) -> None:
    assert gateway.route(f"/openapi/{svc.name}.json") == (f"{svc.name}-api", "/openapi.json")
    assert gateway.route(f"/docs/{svc.name}/") == (f"{svc.name}-api", "/docs")


def test_gateway_does_not_publish_internal_or_unknown_paths(gateway: Gateway) -> None:
    for uri in ("/", "/metrics", "/readyz", "/healthz", "/attendancex", "/cmeabc", "/reportsx", "/admin"):
        assert gateway.route(uri) is None, f"{uri} -> {gateway.route(uri)}"
    assert gateway.route("/penalty-notices/1") == ("enforcement-api", "")


def test_gateway_limits_bodies_and_passes_request_ids(gateway: Gateway) -> None:
    assert gateway.http.value("client_max_body_size") or gateway.server.value("client_max_body_size")
    headers = {d.args[0].lower(): d.args[1] for d in gateway.server.children("proxy_set_header")}
    assert "x-request-id" in headers and "x-correlation-id" in headers
    assert gateway.server.value("listen") == ["8080"]


# ---------------------------------------------------------------------------------------------
# The image
# ---------------------------------------------------------------------------------------------
def test_dockerfile_builds_one_service_per_argument() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    instructions = re.sub(r"\\\n", " ", code)
    assert re.search(r"^ARG SERVICE=referral-api$", instructions, re.MULTILINE)
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.1[12]-slim", instructions, re.MULTILINE)
    assert re.search(r"pip install \"?uv[=\"]", instructions)
    sync = re.findall(r"uv sync ([^\n&|;]*)", instructions)
    assert sync and all("--frozen" in s and "--no-dev" in s and '--package "${SERVICE}"' in s for s in sync)
    assert "--mount=type=cache,target=/root/.cache/uv" in instructions
    users = re.findall(r"^USER (\S+)$", instructions, re.MULTILINE)
    assert users and users[-1].split(":")[0] not in ("root", "0"), "runtime runs as non-root"
    assert re.search(r'^ENTRYPOINT \["/app/entrypoint"\]$', instructions, re.MULTILINE)
    assert re.search(r'^CMD \["api"\]$', instructions, re.MULTILINE)
    assert re.search(r"^EXPOSE 8000$", instructions, re.MULTILINE)
    assert re.search(r"^HEALTHCHECK .*healthz", instructions, re.MULTILINE)
    ignored = set(DOCKERIGNORE.read_text(encoding="utf-8").split())
    assert {".git", ".venv", ".local", "var"} <= ignored


@pytest.mark.parametrize("svc", SERVICES, ids=lambda s: s.name)
def test_each_service_ships_the_console_script_the_image_runs(svc: Svc) -> None:
    pyproject = tomllib.loads((ROOT / "services" / svc.name / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["project"]["name"] == svc.name
    assert svc.name in pyproject["project"].get("scripts", {}), (
        f"services/{svc.name} has no `{svc.name}` script"
    )


PACKAGES = {
    "referral-api": "referral_api",
    "cme-tracker": "cme_tracker",
    "exclusions": "exclusions",
    "enforcement": "enforcement",
    "reporting": "reporting",
}


@pytest.mark.parametrize("svc", SERVICES, ids=lambda s: s.name)
def test_compose_environment_loads_as_production_settings(
    compose: dict[str, Any], svc: Svc, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What compose gives a service is accepted by that service's own settings in production mode
    (a secret or setting production requires but compose forgets would stop the stack)."""
    import importlib
    import os

    settings_class = importlib.import_module(f"{PACKAGES[svc.name]}.config").Settings
    for role in ("migrate", "api", "worker"):
        for variable in [v for v in os.environ if v.startswith(svc.prefix)]:
            monkeypatch.delenv(variable)
        for key, value in environment(service(compose, f"{svc.name}-{role}")).items():
            monkeypatch.setenv(key, value)
        settings = settings_class()
        assert settings.mode == "production" and settings.bus == "kafka"
        assert settings.database_url.endswith(f"/{svc.database}")


def test_no_path_prefix_belongs_to_two_services() -> None:
    """Behind one base URL a path prefix can only go to one service."""
    owners: dict[str, list[str]] = {}
    for svc in SERVICES:
        assert svc.routes, f"{svc.name} has no routes"
        for route in svc.routes:
            owners.setdefault(route, []).append(svc.name)
    assert {route: names for route, names in owners.items() if len(names) > 1} == {}


# ---------------------------------------------------------------------------------------------
# The portal: one process from the same image, behind the gateway's second server
# ---------------------------------------------------------------------------------------------
PORTAL_BACKENDS = {
    "referral": "referral-api",
    "cme": "cme-tracker",
    "exclusions": "exclusions",
    "enforcement": "enforcement",
    "reporting": "reporting",
}


@functools.cache
def portal_routes() -> tuple[str, ...]:
    """The first path segments of the portal's pages, forms and assets, read from its app."""
    from portal.config import PortalSettings
    from portal.entrypoints.app import create_app as create_portal_app

    def paths(routes: Any) -> Iterator[str]:
        for route in routes:
            if hasattr(route, "original_router"):  # an included router (the portal's have no prefix)
                yield from paths(route.original_router.routes)
            elif getattr(route, "path", ""):
                yield route.path

    found = {"/" + p.split("/")[1] for p in paths(create_portal_app(PortalSettings(mode="test")).routes)}
    assert len(found) > 10, found
    return tuple(sorted(found))


def test_portal_runs_from_the_one_image_in_production(compose: dict[str, Any]) -> None:
    portal = service(compose, "portal")
    assert command(portal)[0] == "serve" and command(portal)[-1] == "8000"
    build = portal["build"]
    assert (ROOT / build.get("context", ".") / build["dockerfile"]).resolve() == DOCKERFILE
    assert build["args"]["SERVICE"] == "portal" and "portal" in portal["image"]
    assert "entrypoint" not in portal and "ports" not in portal, "published only through the gateway"
    test = portal.get("healthcheck", {}).get("test")
    assert test and "/healthz" in " ".join(test), "the portal has no /readyz: it holds no state"
    env = environment(portal)
    assert [k for k in env if not k.startswith("PORTAL_")] == []
    assert env["PORTAL_MODE"] == "production"
    assert env["PORTAL_LOCAL_SIGN_IN"] == "false" and env["PORTAL_COOKIE_SECURE"] == "true"
    for key, name in PORTAL_BACKENDS.items():
        url = urlsplit(env[f"PORTAL_SERVICES__{key.upper()}"])
        assert (url.scheme, url.hostname, url.port) == ("http", f"{name}-api", 8000), key
        service(compose, f"{name}-api")
        assert depends_on(portal).get(f"{name}-api"), f"the portal starts after {name}-api"
    pyproject = tomllib.loads((ROOT / "services" / "portal" / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["project"]["name"] == "portal" and "portal" in pyproject["project"]["scripts"]


def test_compose_environment_loads_as_the_portals_production_settings(
    compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from portal.config import PortalSettings

    for variable in [v for v in os.environ if v.startswith("PORTAL_")]:
        monkeypatch.delenv(variable)
    for key, value in environment(service(compose, "portal")).items():
        monkeypatch.setenv(key, value)
    settings = PortalSettings()  # production refuses local sign-in, a weak secret, no OIDC, http
    assert settings.mode == "production" and not settings.local_sign_in_allowed
    assert settings.oidc is not None and settings.oidc.client_secret is not None
    assert (
        settings.oidc.api_audience
        == environment(service(compose, "referral-api-api"))["REFERRAL_AUTH__AUDIENCE"]
    )
    assert settings.public_url == TEST_VARIABLES["PORTAL_PUBLIC_URL"]


def test_the_portal_is_a_server_of_its_own(gateway: Gateway, portal_gateway: Gateway) -> None:
    """The portal's pages share prefixes with the APIs (/referrals, /exclusions, ...): behind one
    base URL they would collide, so port 8081 sends everything to the portal and 8080 nothing."""
    api_routes = {route for svc in SERVICES for route in svc.routes}
    assert set(portal_routes()) & api_routes, "no overlap: the portal could share the APIs' server"
    assert portal_gateway.upstreams["portal"] == ["portal:8000"]
    for route in portal_routes():
        if route == "/healthz":
            continue  # the gateway's own liveness on both servers
        for uri in (route, f"{route}/x", f"{route}/x/y?z=1".split("?")[0]):
            assert portal_gateway.route(uri) == ("portal", ""), f"{uri} -> {portal_gateway.route(uri)}"
            assert (gateway.route(uri) or ("",))[0] != "portal", f"{uri} reaches the portal on 8080"
    for route in api_routes:
        assert portal_gateway.route(route) == ("portal", ""), f"{route} reaches an API on 8081"
    assert portal_gateway.route("/healthz") is None and gateway.route("/") is None
    headers = {d.args[0].lower() for d in portal_gateway.server.children("proxy_set_header")}
    assert {"host", "x-forwarded-proto", "x-request-id"} <= headers
