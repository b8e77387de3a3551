"""docker-compose.yml can't run here (no Docker engine): check what can be checked."""

from __future__ import annotations

import ipaddress
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from wirewatch.cli import build_parser
from wirewatch.core.config import ENV_PREFIX, Settings
from wirewatch.sinks.destinations import load_destinations

REPO = Path(__file__).resolve().parents[2]
COMPOSE: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.yml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
WIREWATCH = {name: svc for name, svc in SERVICES.items() if svc.get("image", "").startswith("wirewatch:")}


def test_compose_has_the_whole_stack() -> None:
    assert {"kafka", "elasticsearch", "kibana", "kibana-setup", "prometheus", "grafana"} <= set(SERVICES)
    assert set(WIREWATCH) == {"poller", "processor", "indexer", "notifier"}


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_images_are_pinned(name: str) -> None:
    image = SERVICES[name]["image"]
    assert ":" in image, f"{name}: image {image} has no tag"
    tag = image.rsplit(":", 1)[1]
    assert tag != "latest" and re.search(r"\d", tag), f"{name}: image {image} is not pinned to a version"


@pytest.mark.parametrize("name", sorted(set(SERVICES) - {"kibana-setup"}))
def test_long_running_services_have_healthchecks(name: str) -> None:
    assert SERVICES[name]["healthcheck"]["test"]


def test_named_volumes_are_declared() -> None:
    declared = set(COMPOSE["volumes"])
    used = {
        v.split(":", 1)[0]
        for svc in SERVICES.values()
        for v in svc.get("volumes", [])
        if not v.startswith((".", "/"))
    }
    assert used <= declared and used


def test_bind_mounts_exist_in_the_repo() -> None:
    for name, svc in SERVICES.items():
        for volume in svc.get("volumes", []):
            if volume.startswith("./"):
                assert (REPO / volume.split(":", 1)[0]).exists(), f"{name}: {volume}"
    dockerfile = WIREWATCH["poller"]["build"]["dockerfile"]
    assert (REPO / dockerfile).is_file()


@pytest.mark.parametrize("name", sorted(WIREWATCH))
def test_service_environment_matches_the_settings_the_code_reads(name: str) -> None:
    fields = {f"{ENV_PREFIX}{f.upper()}" for f in Settings.model_fields}
    env = WIREWATCH[name]["environment"]
    ours = {k for k in env if k.startswith(ENV_PREFIX)}
    assert ours <= fields, f"{name}: unknown settings {ours - fields}"
    # And the values parse.
    Settings(**{k[len(ENV_PREFIX):].lower(): v for k, v in env.items() if k in ours})


def repo_path(service: dict[str, Any], container_path: str) -> Path | None:
    """The repo file a container path reads through the service's bind mounts, or None."""
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith("./") and (container_path == target or container_path.startswith(target + "/")):
            return REPO / source / container_path[len(target):].lstrip("/")
    return None


@pytest.mark.parametrize("name", sorted(WIREWATCH))
def test_service_commands_are_real_subcommands(name: str, tmp_path: Path) -> None:
    command = WIREWATCH[name]["command"]
    assert command[0] == "wirewatch"
    args = build_parser().parse_args(command[1:])
    assert args.command == name
    for arg in command[1:]:
        if arg.startswith("/") and arg.endswith(".yaml"):
            path = repo_path(WIREWATCH[name], arg)
            assert path is not None and path.is_file(), f"{name}: {arg} is no file of the repo mounted in the container"


LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


def reachable_from(service: dict[str, Any], host: str) -> bool:
    """Whether a container of ``service`` reaches ``host`` as the user means it (not itself)."""
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        if host.lower() in LOOPBACK_NAMES:
            return False
        extra = dict(entry.split(":", 1) for entry in service.get("extra_hosts", []))
        if host in extra:
            return extra[host] == "host-gateway" or reachable_from(service, extra[host])
        return host in SERVICES or "." in host  # a compose service, or a real DNS name
    return not (address.is_loopback or address.is_unspecified or address.is_link_local)


def test_notifier_destinations_are_reachable_from_its_container() -> None:
    """``127.0.0.1:9999`` in a container is the container itself, not the receiver the user runs."""
    notifier = WIREWATCH["notifier"]
    args = build_parser().parse_args(notifier["command"][1:])
    path = repo_path(notifier, str(args.destinations))
    assert path is not None
    destinations = load_destinations(path, environ={})
    assert destinations
    for name, destination in destinations.items():
        host = urlsplit(destination.url).hostname or ""
        assert reachable_from(notifier, host), f"{path}: destination {name} ({destination.url}) is not reachable"
    assert not reachable_from(notifier, "127.0.0.1") and not reachable_from(notifier, "localhost")


def final_stage(dockerfile: str) -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` of the Dockerfile's last stage, continuation lines joined."""
    text = re.sub(r"\\\n", " ", dockerfile)
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    stages: list[list[tuple[str, str]]] = []
    for line in lines:
        instruction, _, rest = line.partition(" ")
        if instruction.upper() == "FROM":
            stages.append([])
        stages[-1].append((instruction.upper(), rest.strip()))
    return stages[-1]


DOCKERFILE = REPO / WIREWATCH["poller"]["build"]["dockerfile"]


def test_image_creates_the_data_volume_owned_by_its_user_before_switching_to_it() -> None:
    """A named volume on a missing directory is root-owned: the processor could not write its dedupe memory."""
    stage = final_stage(DOCKERFILE.read_text("utf-8"))
    users = [i for i, (instruction, _) in enumerate(stage) if instruction == "USER"]
    assert users, "the image runs as root"
    user = stage[users[-1]][1].split(":")[0]
    before = " && ".join(args for instruction, args in stage[: users[-1]] if instruction == "RUN")
    mounted = {v.split(":")[1] for svc in WIREWATCH.values() for v in svc.get("volumes", []) if not v.startswith(".")}
    assert mounted == {"/data"} and WIREWATCH["processor"]["environment"]["WIREWATCH_DATA_DIR"] == "/data"
    for path in mounted:
        owned = re.search(rf"install\s+-d\s+(?:-\S+\s+\S+\s+)*?-o\s+{user}\b[^&;]*\s{re.escape(path)}(\s|$)", before)
        made = re.search(rf"mkdir\s+(-p\s+)?[^&;]*{re.escape(path)}(\s|$)", before) and re.search(
            rf"chown\s+(-R\s+)?{user}(:{user})?\s+[^&;]*{re.escape(path)}(\s|$)", before)
        assert owned or made, f"{path} is not created owned by {user} before USER {user}"


def test_image_installs_every_runtime_extra() -> None:
    """The compose stack tags entities as the demo does: spaCy/natasha come with the ``ner`` extra."""
    extras = set(tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))["project"]["optional-dependencies"])
    runtime = extras - {"dev"}
    assert runtime == {"ner"}
    dockerfile = DOCKERFILE.read_text("utf-8")
    for command in ("pip wheel", "pip install"):
        installs = [line for line in dockerfile.splitlines() if command in line]
        assert installs, command
        named = set(re.findall(r"(?:\.|wirewatch)\[([a-z0-9_,-]+)\]", " ".join(installs)))
        assert {extra for group in named for extra in group.split(",")} == runtime, f"{command}: {installs}"
    assert WIREWATCH["processor"]["command"][-2:] == ["--ner", "on"]  # fails in one line if the model were missing


def test_service_addresses_point_at_compose_services() -> None:
    for name, svc in WIREWATCH.items():
        env = svc["environment"]
        host = env["WIREWATCH_KAFKA_BOOTSTRAP"].split(":")[0]
        assert host in SERVICES and "kafka" in svc["depends_on"], name
        if "WIREWATCH_ELASTICSEARCH_URL" in env:
            es_host = env["WIREWATCH_ELASTICSEARCH_URL"].split("//")[1].split(":")[0]
            assert es_host in SERVICES and es_host in svc["depends_on"], name


def test_prometheus_scrapes_every_service_on_its_metrics_port() -> None:
    prom = yaml.safe_load((REPO / "deploy/prometheus/prometheus.yml").read_text())
    targets = {t for job in prom["scrape_configs"] for sc in job["static_configs"] for t in sc["targets"]}
    for name, svc in WIREWATCH.items():
        port = svc["environment"]["WIREWATCH_METRICS_PORT"]
        assert f"{name}:{port}" in targets, f"prometheus.yml does not scrape {name}:{port}"
        assert svc["environment"]["WIREWATCH_METRICS_HOST"] == "0.0.0.0"


def test_kibana_setup_imports_the_saved_objects_file() -> None:
    command = SERVICES["kibana-setup"]["command"]
    joined = shlex.join(command)
    assert "/api/saved_objects/_import" in joined
    assert "file=@/kibana/saved_objects.ndjson" in command
    assert (REPO / "deploy/kibana/saved_objects.ndjson").is_file()


def test_grafana_provisioning_is_mounted() -> None:
    assert (REPO / "deploy/grafana/provisioning").is_dir()
    assert any((REPO / "deploy/grafana/dashboards").glob("*.json"))
