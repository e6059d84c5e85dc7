"""Mapping hot reload: an edited mapping is validated before it replaces the running one.

The daemon asks `current()` at the start of every cycle. The files' bytes are hashed (mtime has a
one-second grain and editors rewrite files in place), and only a changed hash triggers a load. A
load that fails is logged once per distinct bad content with every `path:line:col` problem, and
the last good mapping stays in force, so a typo in a pull request never stops the funnel.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Generic, TypeVar

T = TypeVar("T")
log = logging.getLogger(__name__)


class MappingRefusedError(Exception):
    """The first load failed: there is no last good mapping to fall back on."""


def fingerprint(paths: Sequence[Path]) -> str:
    """A hash over the files' names and bytes; a missing file hashes as such (and will fail to load)."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(str(path).encode() + b"\0")
        try:
            digest.update(path.read_bytes())
        except OSError as exc:
            digest.update(f"<unreadable: {exc.strerror}>".encode())
        digest.update(b"\0")
    return digest.hexdigest()


class MappingHolder(Generic[T]):
    """Holds the last good result of `load(paths)`; `errors` are the loader's validation exceptions."""

    def __init__(
        self,
        paths: Sequence[Path],
        load: Callable[[Sequence[Path]], T],
        errors: tuple[type[Exception], ...],
        on_reload: Callable[[str], None] | None = None,
    ) -> None:
        self.paths = tuple(paths)
        self._load = load
        self._errors = errors
        self._on_reload = on_reload or (lambda _outcome: None)
        self._good: T | None = None
        self._seen: str | None = None  # hash of the content last tried (good or bad)
        self.good_hash: str | None = None
        self.last_error: str | None = None

    def current(self) -> T:
        """The mapping to use now: reloaded if the files changed and the new content is valid."""
        digest = fingerprint(self.paths)
        if digest != self._seen:
            self._seen = digest
            try:
                loaded = self._load(self.paths)
            except self._errors as exc:
                self._refuse(str(exc))
            else:
                first = self._good is None
                self._good, self.good_hash, self.last_error = loaded, digest, None
                self._on_reload("ok")
                if not first:
                    log.info("mapping reloaded (%s) from %s", digest[:12], ", ".join(map(str, self.paths)))
        assert self._good is not None  # the first failure raised in _refuse
        return self._good

    def _refuse(self, problems: str) -> None:
        self.last_error = problems
        self._on_reload("refused")
        if self._good is None:
            raise MappingRefusedError(f"mapping refused, nothing to fall back on:\n{problems}")
        log.error(
            "mapping edit refused; still running on the last good mapping (%s):\n%s",
            (self.good_hash or "")[:12],
            problems,
        )
