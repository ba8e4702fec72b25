"""Named locks for the SQLite backend: flock(2) on one file per name in `<db>.locks/`.

Why flock and not a row in the database: a row outlives a process killed with SIGKILL and
then needs a human (or a TTL guess) to remove it. The kernel drops an flock the moment the
holder's last file descriptor closes, which includes death by any signal, so a crashed sync
never blocks the next one. flock (unlike POSIX fcntl record locks) belongs to the open file
description, so two stores in the same process also exclude each other.

The holder writes who it is into the lock file right after taking the lock; a waiter reads
it to name the holder. Names are percent-encoded into file names, so "account:uk" and
"account/uk" never share a file.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import socket
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from pathlib import Path
from urllib.parse import quote, unquote

from leadsync.state.holder import WaitNotice, lock_order, this_holder
from leadsync.state.model import LockHeld, LockInfo, LockLost

SUFFIX = ".lock"
POLL_SECONDS = 0.05
INFO_WAIT_SECONDS = 1.0  # how long a waiter waits for a fresh holder to write its details


def lock_file_name(name: str) -> str:
    encoded = quote(name, safe="")
    if encoded.startswith("."):
        encoded = "%2E" + encoded[1:]
    if len(encoded) > 200:  # file names are limited to 255 bytes
        digest = hashlib.sha256(name.encode()).hexdigest()[:16]
        encoded = f"{encoded[:180]}~{digest}"
    return encoded + SUFFIX


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class FileHeld:
    """The flocks a process holds. The kernel keeps an flock while its descriptor is open, so
    the one way to lose it is the lock file being removed or replaced (a cleanup job, a
    restored volume): then a new runner would lock a new file beside ours. `verify` checks
    each descriptor still is the file at its path."""

    def __init__(self, taken: list[tuple[str, int]], directory: Path) -> None:
        self._taken = taken
        self._directory = directory

    def verify(self) -> None:
        for name, fd in self._taken:
            path = self._directory / lock_file_name(name)
            try:
                same = os.stat(path).st_ino == os.fstat(fd).st_ino
            except OSError:
                same = False
            if not same:
                raise LockLost(
                    f"state lock {name!r} was lost: its lock file {path} was removed or "
                    "replaced while this run held it; stopped before writing. Check that no "
                    "cleanup job touches the state directory, then run the command again."
                )


class FileLocks:
    """Lock files live in one directory (mode 0700) beside the database file."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _ensure_dir(self) -> None:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)

    def _open(self, name: str) -> int:
        path = self.directory / lock_file_name(name)
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)

    @contextlib.contextmanager
    def hold(self, names: Sequence[str], *, timeout: float, purpose: str) -> Iterator[FileHeld]:
        """Take every named lock or none; poll until `timeout`, then raise LockHeld."""
        ordered = lock_order(names)
        self._ensure_dir()
        deadline = time.monotonic() + max(0.0, timeout)
        notice = WaitNotice(timeout)
        while True:
            taken, blocked = self._try_all(ordered)
            if blocked is None:
                break
            path = self.directory / lock_file_name(blocked)
            if time.monotonic() >= deadline:
                raise LockHeld(self._holder_at(path, blocked))
            notice.tick(lambda: self._holder_at(path, blocked))  # noqa: B023 (called at once)
            time.sleep(max(0.001, min(POLL_SECONDS, deadline - time.monotonic())))
        try:
            for name, fd in taken:
                info = json.dumps(asdict(this_holder(name, purpose))).encode()
                os.ftruncate(fd, 0)
                os.pwrite(fd, info, 0)
            yield FileHeld(taken, self.directory)
        finally:
            for _name, fd in reversed(taken):
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, 0)  # a clean release leaves no stale holder behind
                    fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)

    def _try_all(self, ordered: list[str]) -> tuple[list[tuple[str, int]], str | None]:
        taken: list[tuple[str, int]] = []
        for name in ordered:
            fd = self._open(name)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                for _n, held in reversed(taken):
                    fcntl.flock(held, fcntl.LOCK_UN)
                    os.close(held)
                return [], name
            except BaseException:
                os.close(fd)
                raise
            taken.append((name, fd))
        return taken, None

    def _is_held(self, path: Path) -> bool:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)  # closing drops the probe's shared lock, if it got one
        return False

    def _read_info(self, path: Path) -> LockInfo | None:
        try:
            raw = path.read_bytes()
            data = json.loads(raw)
            info = LockInfo(**data)
        except (OSError, ValueError, TypeError):
            return None
        if info.host == socket.gethostname() and not _pid_alive(info.pid):
            return None  # left by a killed holder; the new holder has not written yet
        return info

    def _holder_at(self, path: Path, name: str) -> LockInfo:
        deadline = time.monotonic() + INFO_WAIT_SECONDS
        while True:
            info = self._read_info(path)
            if info is not None:
                return info
            if not self._is_held(path) or time.monotonic() >= deadline:
                return LockInfo(name, "unknown", 0, "unknown", "unknown", "unknown")
            time.sleep(0.01)

    def holders(self) -> list[LockInfo]:
        if not self.directory.is_dir():
            return []
        found: list[LockInfo] = []
        for path in sorted(self.directory.glob("*" + SUFFIX)):
            if not self._is_held(path):
                continue
            found.append(self._holder_at(path, unquote(path.name[: -len(SUFFIX)])))
        return found
