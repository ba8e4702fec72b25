"""The scale-out examples users copy: the Kubernetes Indexed CronJob (examples/kubernetes/), the
GitHub Actions matrix (leadsync-sync-sharded.yml) and the Dockerfile both run.

No cluster, kubectl or container engine is needed: the manifests are checked field by field
against the Kubernetes API's own schema (the official client's models, generated from its
OpenAPI document), the config they carry is validated by leadsync itself, the matrix
workflow's sync step is run for every shard against the emulators, and the files the
Dockerfile copies are built into the wheel it installs. Building the image itself needs a
Docker engine: that test runs where one answers (GitHub's runners have one).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from leadsync import __version__
from leadsync.sync.shard import parse_shard

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "examples" / "kubernetes"
WORKFLOW = ROOT / ".github" / "workflows" / "leadsync-sync-sharded.yml"
DOCKERFILE = ROOT / "Dockerfile"
VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-[^}]*)?\}")


def _kit() -> Any:
    name = "leadsync_sync_e2e_kit"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "tests" / "sync" / "conftest.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def _manifest(name: str) -> dict[str, Any]:
    return yaml.safe_load((K8S / name).read_text())


# --- Kubernetes -----------------------------------------------------------------------------


def _check_fields(value: Any, kind: str, where: str) -> None:
    """Every key a known field of its Kubernetes type, every value of the field's type."""
    from kubernetes.client import models

    # container types are spelled list[X]/dict(str, X) or List[X]/Dict[str, X] by version
    if many := re.fullmatch(r"(?i)list\[(.+)\]", kind):
        assert isinstance(value, list), f"{where}: expected a list"
        for i, item in enumerate(value):
            _check_fields(item, many[1], f"{where}[{i}]")
        return
    if mapping := re.fullmatch(r"(?i)dict[\[(]str, (.+)[\])]", kind):
        assert isinstance(value, dict), f"{where}: expected a mapping"
        for key, item in value.items():
            _check_fields(item, mapping[1], f"{where}.{key}")
        return
    primitive = {"str": str, "int": int, "bool": bool, "object": object}.get(kind)
    if primitive is not None:
        assert isinstance(value, primitive), f"{where}: expected {kind}, got {value!r}"
        assert not (primitive is int and isinstance(value, bool)), f"{where}: {value!r}"
        return
    model = getattr(models, kind)
    assert isinstance(value, dict), f"{where}: expected a {kind} mapping"
    fields = {json_name: attr for attr, json_name in model.attribute_map.items()}
    for key, item in value.items():
        assert key in fields, f"{where}.{key}: not a field of {kind}"
        _check_fields(item, model.openapi_types[fields[key]], f"{where}.{key}")


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("cronjob.yaml", "V1CronJob"),
        ("configmap.yaml", "V1ConfigMap"),
        ("secret.example.yaml", "V1Secret"),
    ],
)
def test_kubernetes_manifests_follow_the_api_schema(name: str, kind: str) -> None:
    doc = _manifest(name)
    _check_fields(doc, kind, name)
    assert doc["kind"] == kind.removeprefix("V1")
    assert doc["apiVersion"] == ("batch/v1" if kind == "V1CronJob" else "v1")


def _cronjob() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    doc = _manifest("cronjob.yaml")
    job = doc["spec"]["jobTemplate"]["spec"]
    pod = job["template"]["spec"]
    (container,) = pod["containers"]
    return doc, job, container


def test_kubernetes_cronjob_runs_one_shard_per_completion_index() -> None:
    doc, job, container = _cronjob()
    assert doc["spec"]["concurrencyPolicy"] == "Forbid"
    assert len(doc["spec"]["schedule"].split()) == 5
    assert job["completionMode"] == "Indexed"
    n = job["completions"]
    assert job["parallelism"] == n >= 2
    assert job["template"]["spec"]["restartPolicy"] == "Never"
    args = container["args"]
    assert args[0] == "sync" and "--json" in args
    assert args[args.index("--log-format") + 1] == "json"
    shard = args[args.index("--shard") + 1]
    assert shard == f"$(JOB_COMPLETION_INDEX)/{n}"  # expanded by Kubernetes from the pod's env
    shards = [parse_shard(shard.replace("$(JOB_COMPLETION_INDEX)", str(k))) for k in range(n)]
    assert [s.index for s in shards] == list(range(n))
    assert container["image"].endswith(f":{__version__}")  # the pinned leadsync release


def test_kubernetes_config_comes_from_the_configmap_and_credentials_from_the_secret() -> None:
    _doc, job, container = _cronjob()
    pod = job["template"]["spec"]
    args = container["args"]
    config_path = Path(args[args.index("-c") + 1])
    (mount,) = container["volumeMounts"]
    (volume,) = pod["volumes"]
    assert volume["name"] == mount["name"] and mount["readOnly"] is True
    assert config_path.parent == Path(mount["mountPath"])
    configmap = _manifest("configmap.yaml")
    assert volume["configMap"]["name"] == configmap["metadata"]["name"]
    assert config_path.name in configmap["data"]
    (source,) = container["envFrom"]
    secret = _manifest("secret.example.yaml")
    assert source["secretRef"]["name"] == secret["metadata"]["name"]
    assert "env" not in container  # no credential written into the manifest itself
    # every ${VAR} the config reads is a key of the Secret, and nothing more
    variables = set(VAR.findall(configmap["data"][config_path.name]))
    assert variables == set(secret["stringData"])
    assert all("CHANGE-ME" in v or "PASSWORD" not in k for k, v in secret["stringData"].items())


def test_kubernetes_config_is_valid_for_leadsync(tmp_path: Path) -> None:
    """The config in the ConfigMap passes `leadsync validate` (offline) with the Secret's keys
    set, and its state is PostgreSQL: shards share one state, a pod's disk is gone at exit."""
    text = _manifest("configmap.yaml")["data"]["leadsync.yaml"]
    assert yaml.safe_load(text)["state"]["backend"] == "postgres"
    (tmp_path / "leadsync.yaml").write_text(text)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SF_", "DD_", "LEADSYNC_"))}
    env.update(_manifest("secret.example.yaml")["stringData"])
    proc = subprocess.run(
        [str(Path(sys.executable).with_name("leadsync")), "validate", "leadsync.yaml"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, (proc.stdout, proc.stderr)
    assert "warning" not in proc.stdout + proc.stderr


def test_kubernetes_pod_runs_as_the_images_non_root_user() -> None:
    _doc, job, container = _cronjob()
    pod = job["template"]["spec"]["securityContext"]
    user = _dockerfile_user()
    assert pod["runAsNonRoot"] is True and pod["runAsUser"] == user != 0
    security = container["securityContext"]
    assert security["allowPrivilegeEscalation"] is False
    assert security["readOnlyRootFilesystem"] is True
    assert security["capabilities"]["drop"] == ["ALL"]


def test_kustomization_lists_the_manifests_and_pins_the_image() -> None:
    doc = _manifest("kustomization.yaml")
    assert doc["kind"] == "Kustomization"
    assert all((K8S / name).is_file() for name in doc["resources"])
    assert "secret.example.yaml" not in doc["resources"]  # real credentials never in git
    _doc, _job, container = _cronjob()
    (image,) = doc["images"]
    assert container["image"] == f"{image['name']}:{image['newTag']}"
    assert image["newTag"] == __version__


# --- GitHub Actions matrix --------------------------------------------------------------------


def _workflow() -> dict[str, Any]:
    doc = yaml.safe_load(WORKFLOW.read_text())
    doc["on"] = doc.pop(True, doc.get("on"))
    return doc


def _sync_step(job: dict[str, Any]) -> dict[str, Any]:
    return next(s for s in job["steps"] if s.get("id") == "sync")


def test_matrix_workflow_runs_every_shard_once_and_independently() -> None:
    doc = _workflow()
    assert "schedule" in doc["on"] and doc["concurrency"]["cancel-in-progress"] is False
    job = doc["jobs"]["sync"]
    shards = job["strategy"]["matrix"]["shard"]
    assert shards == list(range(len(shards))) and len(shards) >= 2
    assert job["strategy"]["fail-fast"] is False  # one shard's failure never cancels another
    step = _sync_step(job)
    assert step["env"] == {"SHARD": "${{ matrix.shard }}", "SHARDS": "${{ strategy.job-total }}"}
    assert '--shard "$SHARD/$SHARDS"' in step["run"]
    assert "leadsync sync -c leadsync.yaml --json" in step["run"]
    upload = next(s for s in job["steps"] if "upload-artifact" in s.get("uses", ""))
    assert "${{ matrix.shard }}" in upload["with"]["name"]  # one report per shard, no clash


def test_matrix_workflow_sync_steps_cover_every_account_once(
    tmp_path: Path, emulator_factory: Any
) -> None:
    """The sync step as GitHub runs it (bash, $GITHUB_OUTPUT), once per matrix value, against
    the emulators; each shard's verdict step passes and the shards' reports name every account
    exactly once."""
    kit = _kit()
    names = ["uk", "us", "de", "fr"]
    ws = kit.Workspace(tmp_path, emulator_factory(kit.accounts_seed(names)))
    ws.write_config(kit.accounts_config(names))
    ws.apply()
    for name in names:
        kit.add_members(ws.emu, name, 1)
    job = _workflow()["jobs"]["sync"]
    shards = job["strategy"]["matrix"]["shard"]
    verdict = next(s for s in job["steps"] if s.get("id") == "verdict")
    env = {**ws.env, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    synced: list[str] = []
    for shard in shards:
        output = tmp_path / f"github_output_{shard}"
        output.write_text("")
        step_env = {"SHARD": str(shard), "SHARDS": str(len(shards)), "GITHUB_OUTPUT": str(output)}
        step = _bash(_sync_step(job)["run"], tmp_path, {**env, **step_env})
        assert step.returncode == 0, step.stderr
        code = dict(line.split("=", 1) for line in output.read_text().splitlines())["exitcode"]
        assert code == "0", (tmp_path / "sync-report.json").read_text()
        report = json.loads((tmp_path / "sync-report.json").read_text())
        assert report["shard"] == f"{shard}/{len(shards)}"
        synced += report["accounts"]
        assert verdict["env"] == {"SYNC_EXIT": "${{ steps.sync.outputs.exitcode }}"}
        judged = _bash(verdict["run"], tmp_path, {**env, "SYNC_EXIT": code})
        assert judged.returncode == 0, judged.stdout
    assert sorted(synced) == sorted(names)
    assert {e.split("-")[0] for e in ws.leads() if e.endswith("-0@example.com")} == set(names)


def _bash(script: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


# --- Dockerfile -------------------------------------------------------------------------------


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order; continuation lines joined, comments dropped."""
    lines: list[str] = []
    pending = ""
    for raw in DOCKERFILE.read_text().splitlines():
        if not pending and (not raw.strip() or raw.lstrip().startswith("#")):
            continue
        if raw.rstrip().endswith("\\"):
            pending += raw.rstrip()[:-1] + " "
            continue
        lines.append(pending + raw)
        pending = ""
    out = []
    for line in lines:
        word, _, rest = line.strip().partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


def _final_stage() -> list[tuple[str, str]]:
    steps = _instructions()
    last = max(i for i, (word, _) in enumerate(steps) if word == "FROM")
    return steps[last:]


def _dockerfile_user() -> int:
    users = [rest for word, rest in _final_stage() if word == "USER"]
    return int(users[-1].split(":")[0])


def test_dockerfile_is_slim_non_root_with_the_cli_as_entrypoint() -> None:
    steps = _instructions()
    base = next(rest for word, rest in steps if word == "ARG" and rest.startswith("PYTHON_IMAGE="))
    assert re.fullmatch(r"PYTHON_IMAGE=python:3\.11-slim-\w+", base)  # pinned minor, slim
    assert [rest.split()[0] for word, rest in steps if word == "FROM"] == ["${PYTHON_IMAGE}"] * 2
    final = _final_stage()
    assert _dockerfile_user() >= 1000  # numeric, so runAsNonRoot can check it
    last_run = max(i for i, (word, _) in enumerate(final) if word == "RUN")
    assert [word for word, _ in final].index("USER") > last_run  # the CLI never runs as root
    entry = next(rest for word, rest in final if word == "ENTRYPOINT")
    assert json.loads(entry) == ["leadsync"]  # exec form: signals reach leadsync itself
    installs = [rest for word, rest in final if word == "RUN" and "pip install" in rest]
    assert installs and all("--no-index" in r and '"leadsync[postgres]"' in r for r in installs)
    assert not any(word == "COPY" and "--from" not in rest for word, rest in final)  # no sources
    for word, rest in steps:  # no credentials baked into the image
        if word in ("ENV", "ARG"):
            assert not re.search(r"(?i)(SF_|DD_|DSN|PASSWORD|TOKEN|SECRET)", rest), rest


def test_dockerignore_keeps_state_and_credentials_out_of_the_build() -> None:
    ignored = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".leadsync", ".env", "*.env", ".git", ".venv"} <= ignored


def test_the_files_the_dockerfile_copies_build_the_wheel_it_installs(tmp_path: Path) -> None:
    """The build stage's COPY set, alone in a directory, builds a wheel with the `leadsync`
    command and the config schema (what `pip wheel .[postgres]` does in the image, offline)."""
    for word, rest in _instructions():
        if word == "COPY" and "--from" not in rest:
            *sources, _target = rest.split()
            for source in sources:
                path = ROOT / source
                if path.is_dir():
                    shutil.copytree(
                        path, tmp_path / source, ignore=shutil.ignore_patterns("__pycache__")
                    )
                else:
                    shutil.copy(path, tmp_path / source)
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", "dist", "."],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (wheel,) = (tmp_path / "dist").glob("leadsync-*.whl")
    assert wheel.name.startswith(f"leadsync-{__version__}-")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        entry_points = archive.read(
            next(n for n in names if n.endswith("entry_points.txt"))
        ).decode()
    assert "leadsync = leadsync.cli:main" in entry_points
    assert "leadsync/_schema/leadsync.schema.json" in names
    assert "leadsync/sync/shard.py" in names
