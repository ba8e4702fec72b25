"""Who applied, and from what: the OS user and host, the CI job, the git commit of the config.

On a CI runner the OS user is `runner` or `root` and names nobody, so `history` also records the
CI job that ran the apply, from the variables the CI sets (GitHub Actions: GITHUB_ACTOR and the
run's URL; GitLab CI: GITLAB_USER_LOGIN and CI_JOB_URL). None of these values is secret.

The git commit comes from `git rev-parse HEAD` next to the config. A config outside any
repository simply has no commit; a repository git refuses to read (most often "detected dubious
ownership" in container jobs, where the checkout belongs to another uid) is a problem worth a
warning: the history would otherwise silently lose the link to the reviewed change.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from dataclasses import dataclass

GIT_TIMEOUT_SECONDS = 10


@dataclass(frozen=True, slots=True)
class GitCommit:
    commit: str | None
    problem: str | None = None  # why git could not read it, when the config is in a repository

    def warning(self, directory: str) -> str | None:
        """One line for stderr, or None when there is nothing to say."""
        if self.problem is None:
            return None
        fix = ""
        if "dubious ownership" in self.problem:
            fix = f" (fix: git config --global --add safe.directory {directory})"
        return (
            f"warning: cannot read the git commit of {directory}: {self.problem}{fix}; "
            "the history records no commit for this apply"
        )


def ci_identity(env: Mapping[str, str]) -> dict[str, str] | None:
    """The CI job running this process, or None outside CI. Only keys with a value are kept."""
    if env.get("GITHUB_ACTIONS") == "true" or env.get("GITHUB_RUN_ID"):
        server = env.get("GITHUB_SERVER_URL", "https://github.com").rstrip("/")
        repo, run_id = env.get("GITHUB_REPOSITORY"), env.get("GITHUB_RUN_ID")
        found = {
            "system": "github",
            "actor": env.get("GITHUB_ACTOR", ""),
            "run_url": f"{server}/{repo}/actions/runs/{run_id}" if repo and run_id else "",
            "commit": env.get("GITHUB_SHA", ""),
        }
    elif env.get("GITLAB_CI") == "true" or env.get("CI_JOB_URL"):
        found = {
            "system": "gitlab",
            "actor": env.get("GITLAB_USER_LOGIN", ""),
            "run_url": env.get("CI_JOB_URL", ""),
            "commit": env.get("CI_COMMIT_SHA", ""),
        }
    else:
        return None
    return {key: value for key, value in found.items() if value}


def git_commit(directory: str) -> GitCommit:
    """HEAD of the repository holding `directory`; the reason when git refuses to say."""
    try:
        out = subprocess.run(
            ["git", "-C", directory, "rev-parse", "--verify", "-q", "HEAD"],
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return GitCommit(None)  # no git on this machine: nothing to link, nothing to warn
    commit = out.stdout.strip()
    if out.returncode == 0 and commit:
        return GitCommit(commit)
    return GitCommit(None, _problem(out.stderr))


def _problem(stderr: str) -> str | None:
    """git's first complaint, without its "fatal: " prefix; None for "not a repository" and
    for a repository without commits (`-q` makes git silent then)."""
    for line in stderr.splitlines():
        text = line.strip()
        if not text:
            continue
        text = text.removeprefix("fatal: ").removeprefix("error: ")
        if "not a git repository" in text:
            return None
        return text
    return None
