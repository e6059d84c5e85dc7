"""One cycle-runner per database: an OS file lock beside the SQLite file.

Why a file lock rather than a lease row with heartbeats: `flock` is released by the kernel the
moment its holder dies (even on `kill -9`), so there is no expiry to tune, no clock to trust and
no stale lease to break by hand; and taking it touches nothing in the mirror, so a refused second
daemon has no side effects at all. The daemon holds it for its whole life; a one-off
`revops-sync sync` holds it for one cycle, so it never overlaps a running daemon either.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import socket
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

from connector.errors import ConfigError


class LeaseHeldError(ConfigError):
    """Another process runs cycles on this database; the message says which."""


def lock_path_for(database_url: str) -> Path:
    """`sqlite:///var/x.db` -> `var/x.db.lock`; other URLs get a lock in the temp dir keyed by URL."""
    prefix = "sqlite:///"
    if database_url.startswith(prefix) and database_url != prefix + ":memory:":
        return Path(database_url[len(prefix) :] + ".lock")
    digest = hashlib.sha256(database_url.encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"revops-sync-{digest}.lock"


class Lease:
    """`with Lease(url, wait=False):` — exclusive for this database, or LeaseHeldError naming the holder."""

    def __init__(self, database_url: str, *, wait: bool = False, poll_seconds: float = 0.5) -> None:
        self.path = lock_path_for(database_url)
        self.wait = wait
        self.poll_seconds = poll_seconds
        self._fd: int | None = None

    def acquire(self, timeout: float | None = None) -> None:
        """Take the lock; with `wait`, poll until it is free (or `timeout` seconds pass)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not self.wait or (deadline is not None and time.monotonic() >= deadline):
                    holder = self.holder()
                    os.close(fd)
                    raise LeaseHeldError(
                        f"another revops-sync process holds {self.path} ({holder}); "
                        "only one may run cycles on a database. Stop it, or pass --wait to queue."
                    ) from None
                time.sleep(self.poll_seconds)
        info = {"pid": os.getpid(), "host": socket.gethostname(), "since": datetime.now(UTC).isoformat()}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def holder(self) -> str:
        """Who holds the lock, as written by them: 'pid 123 on host since ...'."""
        try:
            info = json.loads(self.path.read_text(encoding="utf-8") or "{}")
        except (OSError, ValueError):
            return "holder unknown"
        return f"pid {info.get('pid')} on {info.get('host')} since {info.get('since')}"

    def __enter__(self) -> Lease:
        self.acquire()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()
