"""docker-compose.yml can't run here (no Docker engine): check what can be checked."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from wirewatch.cli import build_parser
from wirewatch.core.config import ENV_PREFIX, Settings

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


@pytest.mark.parametrize("name", sorted(WIREWATCH))
def test_service_commands_are_real_subcommands(name: str, tmp_path: Path) -> None:
    command = WIREWATCH[name]["command"]
    assert command[0] == "wirewatch"
    args = build_parser().parse_args(command[1:])
    assert args.command == name
    for arg in command[1:]:
        if arg.startswith("/config/"):
            assert (REPO / "examples" / arg.removeprefix("/config/")).is_file(), arg


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
