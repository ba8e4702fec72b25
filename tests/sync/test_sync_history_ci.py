"""`history` names the CI job that applied (GitHub Actions, GitLab CI) and `apply` warns, without
failing, when git refuses to read the config's commit (e.g. "dubious ownership" in a container
job whose checkout belongs to another uid)."""

from __future__ import annotations

import json
import subprocess


def ci_free(env: dict[str, str]) -> dict[str, str]:
    """The environment without any CI's variables (the suite itself may run in CI)."""
    return {
        k: v
        for k, v in env.items()
        if not k.startswith(("GITHUB_", "GITLAB_", "CI_")) and k not in ("CI", "RUNNER_NAME")
    }


def history(ws) -> tuple[list[dict], str]:
    as_json = ws.run("history", "-c", "leadsync.yaml", "--json", check=(0,))
    text = ws.run("history", "-c", "leadsync.yaml", check=(0,))
    return json.loads(as_json.stdout), text.stdout


def test_history_records_the_github_and_gitlab_jobs(workspace, kit):
    ws = workspace(apply=False)
    ws.env = {
        **ci_free(ws.env),
        "GITHUB_ACTIONS": "true",
        "GITHUB_ACTOR": "octocat",
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_REPOSITORY": "acme/crm-config",
        "GITHUB_RUN_ID": "4242",
        "GITHUB_SHA": "f" * 40,
    }
    ws.apply()
    ws.env = {
        **ci_free(ws.env),
        "GITLAB_CI": "true",
        "GITLAB_USER_LOGIN": "alice",
        "CI_JOB_URL": "https://gitlab.example.com/acme/crm-config/-/jobs/77",
        "CI_COMMIT_SHA": "e" * 40,
    }
    ws.write_config(kit.config_yaml().replace("lead_status: New", "lead_status: Working"))
    ws.apply()
    ws.env = ci_free(ws.env)
    ws.write_config(kit.config_yaml())
    ws.apply()  # from a laptop: no CI identity

    rows, text = history(ws)
    assert [r["serial"] for r in rows] == [3, 2, 1]
    assert rows[2]["ci"] == {
        "system": "github",
        "actor": "octocat",
        "run_url": "https://github.com/acme/crm-config/actions/runs/4242",
        "commit": "f" * 40,
    }
    assert rows[1]["ci"] == {
        "system": "gitlab",
        "actor": "alice",
        "run_url": "https://gitlab.example.com/acme/crm-config/-/jobs/77",
        "commit": "e" * 40,
    }
    assert rows[0]["ci"] is None
    lines = text.splitlines()
    assert lines[2].endswith(
        "ci github octocat https://github.com/acme/crm-config/actions/runs/4242"
    )
    assert lines[1].endswith("ci gitlab alice https://gitlab.example.com/acme/crm-config/-/jobs/77")
    assert " ci " not in lines[0]


def test_apply_warns_when_git_refuses_to_read_the_commit(workspace):
    """git's own ownership check, triggered by its GIT_TEST_ASSUME_DIFFERENT_OWNER switch: the
    same refusal a container job gets for a checkout owned by another uid, on any machine and
    without root. No global or system git config, so no `safe.directory = *` can hide it."""
    ws = workspace(apply=False)
    ws.env = {**ci_free(ws.env), "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1"}
    git = ["git", "-C", str(ws.root), "-c", "user.email=t@example.com", "-c", "user.name=t"]
    for args in (["init", "-q"], ["add", "leadsync.yaml"], ["commit", "-q", "-m", "config"]):
        subprocess.run([*git, *args], check=True, env=ws.env)
    ws.env["GIT_TEST_ASSUME_DIFFERENT_OWNER"] = "1"

    proc = ws.run("apply", "-c", "leadsync.yaml", "--auto-approve", check=(0,))
    assert "Apply complete!" in proc.stdout
    [warning] = [line for line in proc.stderr.splitlines() if "git commit" in line]
    assert warning.startswith(f"warning: cannot read the git commit of {ws.root}: ")
    assert "detected dubious ownership in repository" in warning
    assert f"git config --global --add safe.directory {ws.root}" in warning

    [row], text = history(ws)
    assert row["git_commit"] is None and "dubious ownership" in row["git_error"]
    assert " git unreadable " in text


def test_a_config_outside_any_repository_needs_no_warning(workspace, tmp_path):
    ws = workspace(apply=False)
    ws.env = {**ci_free(ws.env), "GIT_CEILING_DIRECTORIES": str(tmp_path)}
    proc = ws.run("apply", "-c", "leadsync.yaml", "--auto-approve", check=(0,))
    assert "warning" not in proc.stderr
    [row], _ = history(ws)
    assert (row["git_commit"], row["git_error"], row["ci"]) == (None, None, None)
