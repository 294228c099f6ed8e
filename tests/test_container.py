"""The image, the compose stack and the deployment examples agree with the app and each other."""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from ticketbolt.bot.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
TICKETBOLT_SERVICES = ("web", "worker")
# Read by compose itself (interpolation in compose.yaml), not by ticketbolt.
COMPOSE_ONLY_VARIABLES = {"POSTGRES_PASSWORD"}
# The HTTP server may take this long to drain on SIGTERM (`start_http`'s shutdown_timeout),
# on top of the jobs' grace: a kill timeout must leave room for both.
HTTP_DRAIN_SECONDS = 10


def _setting_names() -> set[str]:
    return {
        field.validation_alias
        for field in Settings.model_fields.values()
        if isinstance(field.validation_alias, str)
    }


def _compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def _dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per instruction, continuation lines joined, comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.lstrip().startswith("#") or not line.strip():
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, arguments = (pending + line).strip().partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
        pending = ""
    return instructions


def _stages() -> list[list[tuple[str, str]]]:
    stages: list[list[tuple[str, str]]] = []
    for instruction in _dockerfile():
        if instruction[0] == "FROM":
            stages.append([])
        if stages:
            stages[-1].append(instruction)
    return stages


def _seconds(duration: str | int) -> float:
    if isinstance(duration, int):
        return float(duration)
    match = re.fullmatch(r"(\d+)(s|m)", duration)
    assert match, f"unexpected duration {duration!r}"
    return float(match[1]) * (60 if match[2] == "m" else 1)


def _interpolated(value: str) -> str:
    """`value` as compose sees it with no variable set: `${NAME:-default}` becomes `default`."""
    return re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", value)


def _grace(environment: dict[str, str]) -> float:
    default = Settings.model_fields["shutdown_grace"].default
    return float(environment.get("TICKETBOLT_SHUTDOWN_GRACE", default))


def _image_healthcheck() -> list[str]:
    (arguments,) = [args for keyword, args in _dockerfile() if keyword == "HEALTHCHECK"]
    # In compose's form: ["CMD", program, arguments…].
    return ["CMD", *json.loads(arguments.partition(" CMD ")[2])]


def _k8s_documents() -> list[dict[str, Any]]:
    text = (DEPLOY / "kubernetes" / "ticketbolt.yaml").read_text()
    return [doc for doc in yaml.safe_load_all(text) if doc]


def _k8s(kind: str, name: str) -> dict[str, Any]:
    (found,) = [d for d in _k8s_documents() if d["kind"] == kind and d["metadata"]["name"] == name]
    return found


def _binary(name: str) -> Path:
    """A tool installed by the dev extras beside this interpreter, else on PATH."""
    beside = Path(sys.executable).parent / name
    found = beside if beside.exists() else shutil.which(name)
    if not found:
        pytest.skip(f"{name} is not installed (pip install -e '.[dev]' brings it where it can)")
    return Path(found)


# --- compose.yaml


def test_compose_runs_web_worker_proxy_postgres_and_redis_each_with_a_healthcheck() -> None:
    """Every service of the stack says how to tell it is healthy."""
    services = _compose()["services"]
    assert {"web", "worker", "proxy", "postgres", "redis"} == set(services)
    for name, service in services.items():
        test = service.get("healthcheck", {}).get("test")
        assert test, f"{name} has no healthcheck"
        assert test[0] in {"CMD", "CMD-SHELL"}, name


def test_compose_keeps_state_in_named_volumes() -> None:
    """PostgreSQL, Redis and Caddy keep their data in declared named volumes, not bind mounts."""
    compose = _compose()
    declared = set(compose["volumes"])
    for name, target in [
        ("postgres", "/var/lib/postgresql/data"),
        ("redis", "/data"),
        ("proxy", "/data"),
    ]:
        sources = {
            volume.split(":")[0]
            for volume in compose["services"][name]["volumes"]
            if volume.split(":")[1] == target
        }
        assert len(sources) == 1, name
        assert sources <= declared, name


def test_compose_serves_two_web_replicas_behind_one_port_and_a_separate_worker() -> None:
    """web runs `ticketbolt run` twice without host ports; the proxy alone publishes one port."""
    services = _compose()["services"]
    assert services["web"]["deploy"]["replicas"] >= 2
    assert ["run"] == services["web"]["command"]
    assert "ports" not in services["web"]
    assert ["worker"] == services["worker"]["command"]
    assert 1 == len(services["proxy"]["ports"])
    caddyfile = (DEPLOY / "compose" / "Caddyfile").read_text()
    assert re.search(r"dynamic a web 3000\b", caddyfile)
    assert "3000" == services["web"]["environment"]["TICKETBOLT_PORT"]


def test_compose_points_ticketbolt_at_the_stacks_postgres_and_redis() -> None:
    """Both ticketbolt services use the stack's servers, wait for them to be healthy, and the
    URLs pass ticketbolt's own validation."""
    services = _compose()["services"]
    for name in TICKETBOLT_SERVICES:
        service = services[name]
        environment = service["environment"]
        assert environment["DATABASE_URL"].startswith("postgresql+asyncpg://")
        assert "@postgres:5432/" in environment["DATABASE_URL"]
        assert "redis://redis:6379/0" == environment["REDIS_URL"]
        assert "0.0.0.0" == environment["TICKETBOLT_HOST"]  # noqa: S104  # a container listens so
        for dependency in ("postgres", "redis"):
            assert "service_healthy" == service["depends_on"][dependency]["condition"]
        settings = load_settings({k: _interpolated(v) for k, v in environment.items()})
        assert "redis://redis:6379/0" == settings.redis_url


def test_every_variable_the_deployment_files_set_is_a_setting() -> None:
    """A misspelt variable would be ignored silently (extra="ignore"): compose, the image, the
    systemd units, the Kubernetes Secret and .env.example name only real settings."""
    settings = _setting_names()
    compose = _compose()["services"]
    found: dict[str, set[str]] = {
        f"compose {name}": set(compose[name]["environment"]) for name in TICKETBOLT_SERVICES
    }
    found["Dockerfile"] = {
        pair.split("=", 1)[0]
        for keyword, arguments in _dockerfile()
        if keyword == "ENV"
        for pair in arguments.split()
        if pair.startswith("TICKETBOLT_")
    }
    for unit in sorted((DEPLOY / "systemd").glob("*.service")):
        found[unit.name] = set(re.findall(r"^Environment=(\w+)=", unit.read_text(), re.MULTILINE))
    found["kubernetes Secret"] = set(_k8s("Secret", "ticketbolt")["stringData"])
    example = (ROOT / ".env.example").read_text()
    found[".env.example"] = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", example, re.MULTILINE))
    found[".env.example"] -= COMPOSE_ONLY_VARIABLES
    assert all(found.values())
    unknown = {
        where: sorted(names - settings) for where, names in found.items() if names - settings
    }
    assert {} == unknown


@pytest.mark.parametrize("service", TICKETBOLT_SERVICES)
def test_compose_stop_grace_outlasts_the_shutdown_grace(service: str) -> None:
    """docker stop waits long enough for in-flight jobs to finish or be released."""
    definition = _compose()["services"][service]
    grace = _grace(definition["environment"])
    assert _seconds(definition["stop_grace_period"]) >= grace + HTTP_DRAIN_SECONDS


def _compose_config(project: Path) -> dict[str, Any]:
    shutil.copy(ROOT / "compose.yaml", project / "compose.yaml")
    (project / "deploy" / "compose").mkdir(parents=True)
    shutil.copy(DEPLOY / "compose" / "Caddyfile", project / "deploy" / "compose" / "Caddyfile")
    result = subprocess.run(
        [str(_binary("docker-compose")), "config", "--format", "json"],
        cwd=project,
        env={"PATH": os.environ.get("PATH", ""), "HOME": str(project)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert 0 == result.returncode, result.stderr
    return dict(json.loads(result.stdout))


def test_docker_compose_accepts_the_stack_without_a_dotenv(tmp_path: Path) -> None:
    """`docker compose up` with no .env is valid: the sandbox, two replicas, default password."""
    config = _compose_config(tmp_path)
    web = config["services"]["web"]
    assert 2 == web["deploy"]["replicas"]
    assert "SLACK_BOT_TOKEN" not in web["environment"]
    expected = "postgresql+asyncpg://ticketbolt:ticketbolt@postgres:5432/ticketbolt"
    assert expected == web["environment"]["DATABASE_URL"]


def test_docker_compose_reads_dotenv_but_keeps_the_stacks_database(tmp_path: Path) -> None:
    """.env reaches both ticketbolt services, but compose's DATABASE_URL wins over the file's,
    and POSTGRES_PASSWORD in .env sets both the server's password and the URL's."""
    (tmp_path / ".env").write_text(
        "SLACK_BOT_TOKEN=xoxb-from-dotenv\n"
        "DATABASE_URL=sqlite+aiosqlite:///./elsewhere.db\n"
        "POSTGRES_PASSWORD=s3cret\n"
    )
    services = _compose_config(tmp_path)["services"]
    for name in TICKETBOLT_SERVICES:
        environment = services[name]["environment"]
        assert "xoxb-from-dotenv" == environment["SLACK_BOT_TOKEN"]
        expected = "postgresql+asyncpg://ticketbolt:s3cret@postgres:5432/ticketbolt"
        assert expected == environment["DATABASE_URL"]
    assert "s3cret" == services["postgres"]["environment"]["POSTGRES_PASSWORD"]


# --- Dockerfile


def test_dockerfile_builds_in_a_builder_stage_and_runs_as_a_user_in_a_slim_one() -> None:
    """Two stages from slim Python 3.11; the final one copies the virtualenv from the builder,
    installs nothing itself, and ends as a non-root user."""
    stages = _stages()
    assert len(stages) >= 2
    arguments = dict(_dockerfile())
    assert re.fullmatch(r"PYTHON_IMAGE=python:3\.11-slim\S*", arguments["ARG"])
    builder, runtime = stages[0], stages[-1]
    assert builder[0][1].endswith(" AS builder")
    builder_runs = " ".join(args for keyword, args in builder if keyword == "RUN")
    assert "pip wheel" in builder_runs
    assert "[dev]" not in builder_runs
    runtime_runs = " ".join(args for keyword, args in runtime if keyword == "RUN")
    assert "pip" not in runtime_runs
    assert any(
        keyword == "COPY" and "--from=builder" in args and "/opt/venv" in args
        for keyword, args in runtime
    )
    users = [args.split(":")[0] for keyword, args in runtime if keyword == "USER"]
    assert users
    assert users[-1] not in {"root", "0"}


def test_dockerfile_caches_the_fitted_intent_model_at_build_time() -> None:
    """The builder runs the classifier with TICKETBOLT_MODEL_CACHE_DIR set, and the image points
    the app at the same directory, copied from the builder."""
    builder, runtime = _stages()[0], _stages()[-1]
    cache_dirs = {
        pair.split("=", 1)[1]
        for keyword, args in [*builder, *runtime]
        if keyword == "ENV"
        for pair in args.split()
        if pair.startswith("TICKETBOLT_MODEL_CACHE_DIR=")
    }
    assert 1 == len(cache_dirs)
    (cache_dir,) = cache_dirs
    assert any(k == "RUN" and "ticketbolt classify" in args for k, args in builder)
    assert any(k == "COPY" and "--from=builder" in a and cache_dir in a for k, a in runtime)


def test_dockerfile_starts_ticketbolt_run_on_all_interfaces_port_3000() -> None:
    """ENTRYPOINT is the console script, `run` the default command; it binds 0.0.0.0:3000."""
    runtime = dict(_stages()[-1])
    assert ["ticketbolt"] == json.loads(runtime["ENTRYPOINT"])
    assert ["run"] == json.loads(runtime["CMD"])
    assert "3000" == runtime["EXPOSE"]
    assert "TICKETBOLT_HOST=0.0.0.0" in runtime["ENV"].split()
    assert "TICKETBOLT_PORT=3000" in runtime["ENV"].split()


def test_dockerignore_keeps_secrets_out_and_lets_every_copied_path_in() -> None:
    """.env and the virtualenv never reach the build context; what COPY needs always does."""
    patterns = [
        line.rstrip("/")
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for secret in (".env", ".env.local", "ticketbolt.db", ".venv"):
        assert any(fnmatch.fnmatch(secret, pattern) for pattern in patterns), secret
    copied = [
        source.rstrip("/")
        for keyword, args in _dockerfile()
        if keyword == "COPY" and "--from=" not in args
        for source in args.split()[:-1]
    ]
    assert "bot" in copied
    excluded = [s for s in copied if any(fnmatch.fnmatch(s, p) for p in patterns)]
    assert [] == excluded


def test_hadolint_finds_nothing_in_the_dockerfile() -> None:
    """The Dockerfile passes hadolint at its default threshold."""
    result = subprocess.run(
        [str(_binary("hadolint")), "--no-color", str(ROOT / "Dockerfile")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (0, "") == (result.returncode, result.stdout)


# --- health checks, run for real


class _Health(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status if self.path == "/healthz" else 404)
        self.end_headers()
        self.wfile.write(b'{"status": "ok"}')

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def health_server() -> Iterator[ThreadingHTTPServer]:
    """A loopback server answering GET /healthz with `_Health.status`."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        _Health.status = 200
        server.shutdown()
        server.server_close()


def _run_check(command: list[str], environment: dict[str, str]) -> int:
    assert "CMD" == command[0]
    assert "python" == command[1]
    result = subprocess.run(
        [sys.executable, *command[2:]],
        env={**os.environ, **environment},
        capture_output=True,
        timeout=30,
        check=False,
    )
    return result.returncode


def _web_checks() -> list[list[str]]:
    return [_image_healthcheck(), _compose()["services"]["web"]["healthcheck"]["test"]]


@pytest.mark.parametrize("which", [0, 1], ids=["image", "compose"])
def test_web_healthcheck_passes_on_200_from_healthz_and_fails_otherwise(
    which: int, health_server: ThreadingHTTPServer
) -> None:
    """The check GETs /healthz on TICKETBOLT_PORT: 200 is healthy; 503 or no server is not."""
    command = _web_checks()[which]
    port = {"TICKETBOLT_PORT": str(health_server.server_address[1])}
    assert 0 == _run_check(command, port)
    _Health.status = 503
    assert 0 != _run_check(command, port)
    health_server.shutdown()
    health_server.server_close()
    assert 0 != _run_check(command, port)


@pytest.mark.postgres
def test_worker_healthcheck_passes_while_postgresql_answers(postgres_url: str) -> None:
    """The worker's check connects to DATABASE_URL; a server that refuses makes it fail."""
    command = _compose()["services"]["worker"]["healthcheck"]["test"]
    assert 0 == _run_check(command, {"DATABASE_URL": postgres_url})
    refused = "postgresql+asyncpg://postgres@127.0.0.1:1/test"
    assert 0 != _run_check(command, {"DATABASE_URL": refused})


# --- systemd, Kubernetes, and the guide that shows them


def test_systemd_units_restart_on_failure_and_outlast_the_grace() -> None:
    """Each unit reads the environment file, restarts on failure, and waits past the grace."""
    units = sorted((DEPLOY / "systemd").glob("*.service"))
    assert {"ticketbolt-web@.service", "ticketbolt-worker@.service"} == {u.name for u in units}
    grace = _grace({})
    for unit in units:
        text = unit.read_text()
        assert re.search(r"^EnvironmentFile=/\S+$", text, re.MULTILINE), unit.name
        assert re.search(r"^Restart=on-failure$", text, re.MULTILINE), unit.name
        stop = re.search(r"^TimeoutStopSec=(\d+)$", text, re.MULTILINE)
        assert stop, unit.name
        assert int(stop[1]) >= grace + HTTP_DRAIN_SECONDS, unit.name
    assert "ticketbolt run" in units[0].read_text()
    assert "ticketbolt worker" in units[1].read_text()


def test_kubernetes_web_probes_readyz_and_healthz_and_outlasts_the_grace() -> None:
    """Readiness on /readyz, liveness on /healthz, and a termination grace period above the
    pre-stop pause plus the shutdown grace, for web and worker alike."""
    grace = _grace({})
    web = _k8s("Deployment", "ticketbolt-web")["spec"]["template"]["spec"]
    (container,) = web["containers"]
    assert ["run"] == container["args"]
    assert "/readyz" == container["readinessProbe"]["httpGet"]["path"]
    assert "/healthz" == container["livenessProbe"]["httpGet"]["path"]
    pause = float(container["lifecycle"]["preStop"]["exec"]["command"][-1])
    assert web["terminationGracePeriodSeconds"] >= pause + grace + HTTP_DRAIN_SECONDS
    worker = _k8s("Deployment", "ticketbolt-worker")["spec"]["template"]["spec"]
    assert ["worker"] == worker["containers"][0]["args"]
    assert worker["terminationGracePeriodSeconds"] >= grace + HTTP_DRAIN_SECONDS
    for spec in (web, worker):
        assert "ticketbolt" == spec["containers"][0]["envFrom"][0]["secretRef"]["name"]


def test_kubernetes_ingress_publishes_only_slack_and_gorgias_endpoints() -> None:
    """/metrics, /readyz and /admin/* are never routed from outside."""
    (rule,) = _k8s("Ingress", "ticketbolt")["spec"]["rules"]
    paths = {(p["path"], p["pathType"]) for p in rule["http"]["paths"]}
    assert {("/slack/events", "Exact"), ("/gorgias/webhook", "Exact")} == paths


@pytest.mark.parametrize(
    "example", sorted(p.relative_to(DEPLOY).as_posix() for p in DEPLOY.rglob("*") if p.is_file())
)
def test_deploy_guide_shows_each_example_file_as_it_is(example: str) -> None:
    """docs/deploy.md shows every file of deploy/ in full, so what readers copy is what is
    checked here."""
    guide = (ROOT / "docs" / "deploy.md").read_text()
    assert (DEPLOY / example).read_text() in guide
