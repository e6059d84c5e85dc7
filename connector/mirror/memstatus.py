"""Turn SQLite's memory statistics off for this process, at start-up, when that is safe.

SQLite counts every allocation under a process-wide mutex unless it was built with
SQLITE_DEFAULT_MEMSTATUS=0, which SQLite recommends but Debian's and python.org's builds do not
use. Nothing here reads the statistics, and counting them is ~5 % of the instructions the mirror
spends on a pulled record (cachegrind, replay of a full pull). The setting only changes while
SQLite is shut down, that is with no connection open in the process, so the CLI calls this first
thing, and it checks that nothing is open: with the statistics on, SQLite's memory in use is 0
exactly when no connection or statement is alive. Anything unexpected leaves SQLite as it was.
"""

from __future__ import annotations

import ctypes
import sqlite3

_CONFIG_MEMSTATUS = 9  # SQLITE_CONFIG_MEMSTATUS


def _library() -> ctypes.CDLL | None:
    """The SQLite library the sqlite3 module runs on (its symbols, through the extension's handle)."""
    try:
        import _sqlite3  # noqa: PLC0415 - the extension module; its file names the linked library

        lib = ctypes.CDLL(_sqlite3.__file__)
        lib.sqlite3_memory_used.restype = ctypes.c_int64
        for name in ("sqlite3_shutdown", "sqlite3_config", "sqlite3_initialize"):
            getattr(lib, name)
    except (ImportError, OSError, AttributeError):  # built in, statically linked, not CPython...
        return None
    return lib


def memory_statistics_off() -> bool:
    """True when this call turned the statistics off; False when it changed nothing (a connection
    is open, the statistics were already off, or the library is not reachable)."""
    lib = _library()
    if lib is None or lib.sqlite3_memory_used() != 0:
        return False  # something is alive (or the statistics are off already: nothing to gain)
    probe = sqlite3.connect(":memory:")
    try:
        counting = lib.sqlite3_memory_used() > 0
    finally:
        probe.close()
    if not counting or lib.sqlite3_memory_used() != 0 or lib.sqlite3_shutdown() != 0:
        return False
    try:
        return bool(lib.sqlite3_config(_CONFIG_MEMSTATUS, ctypes.c_int(0)) == 0)
    finally:
        lib.sqlite3_initialize()
