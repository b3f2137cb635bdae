"""The deployment files users start from stay true: every setting they give a worker is a real one,
with a valid value, and no secret is written in them."""

import re

import yaml

from tests.support.data import ROOT
from tracker.config import load_config, parse_config

SAMPLE = {"FACETRACK__GALLERY__URL": "postgresql://facetrack:pw@postgres:5432/facetrack",
          "FACETRACK__HTTP__TOKEN": "t", "FACETRACK__WORKERS__WORKER_ID": "pod-1"}


def worker_env(name: str) -> list[dict[str, str]]:
    """Each worker's environment, substituted as compose or Kubernetes would (secrets by sample values)."""
    if name == "docker-compose.yml":
        services = yaml.safe_load((ROOT / name).read_text())["services"]
        return [{k: SAMPLE.get(k, v) for k, v in s["environment"].items()} for k, s in services.items()
                if k.startswith("worker")]
    documents = list(yaml.safe_load_all((ROOT / name).read_text()))
    deployment = next(d for d in documents if d["kind"] == "Deployment")
    env = deployment["spec"]["template"]["spec"]["containers"][0]["env"]
    return [{e["name"]: e.get("value", SAMPLE.get(e["name"])) for e in env}]


def test_every_worker_setting_in_the_deployment_files_is_a_valid_one():
    for name in ("docker-compose.yml", "deploy/kubernetes/facetrack.yaml"):
        for env in worker_env(name):
            config = parse_config({}, name, environ=env)
            assert config.workers.enabled and config.redis.url and config.gallery.url.startswith("postgresql://")
            assert config.http.host == "0.0.0.0"


def test_no_secret_is_written_in_them():
    compose = (ROOT / "docker-compose.yml").read_text()
    assert re.findall(r"postgresql://facetrack:([^@]+)@", compose) == ["${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD}"]
    assert "${FACETRACK_TOKEN:?set FACETRACK_TOKEN}" in compose
    kubernetes = (ROOT / "deploy/kubernetes/facetrack.yaml").read_text()
    assert "secretKeyRef: {name: facetrack, key: gallery-url}" in kubernetes
    assert "secretKeyRef: {name: facetrack, key: token}" in kubernetes


def test_the_cameras_file_the_workers_mount_is_a_valid_config():
    assert load_config(ROOT / "deploy/cameras.toml", environ={}).cameras == []
