"""Open a report in a real headless Chromium and check its charts rendered without script errors.

Run: `python -m connector.report.browser_check report.html [--screenshot out.png]`
(exit 0 when the page rendered; Debian: `apt-get install chromium`).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--enable-logging=stderr",
    "--v=0",
)
JS_ERROR = re.compile(r"Uncaught|CONSOLE\(\d+\).*(?:Error|error)")


@dataclass(frozen=True, slots=True)
class BrowserResult:
    dom: str
    errors: tuple[str, ...]
    charts: int
    rendered: bool

    @property
    def ok(self) -> bool:
        return self.rendered and not self.errors


def find_chromium() -> str | None:
    """The first installed Chromium, or None (callers skip with that reason)."""
    return next((c for c in CHROMIUM_CANDIDATES if Path(c).exists()), shutil.which("chromium"))


def _run(chromium: str, args: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory(prefix="revops-chromium-") as profile:
        cmd = [chromium, *FLAGS, f"--user-data-dir={profile}", *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)  # noqa: S603


def check_report(
    html: Path, chromium: str, *, screenshot: Path | None = None, timeout: float = 60
) -> BrowserResult:
    """Dump the DOM after scripts ran; optionally write a full-page PNG."""
    if not html.is_file():
        msg = f"{html}: no such report file"
        raise FileNotFoundError(msg)
    url = html.resolve().as_uri()
    done = _run(chromium, ["--dump-dom", url], timeout)
    errors = tuple(line for line in done.stderr.splitlines() if JS_ERROR.search(line))
    if done.returncode != 0:
        errors += (f"chromium exited {done.returncode}: {done.stderr[-500:]}",)
    if screenshot is not None:
        _run(chromium, [f"--screenshot={screenshot.resolve()}", "--window-size=1280,2600", url], timeout)
    body = re.search(r"<body[^>]*>", done.stdout)
    rendered = bool(body and 'data-rendered="ok"' in body.group(0))
    return BrowserResult(
        done.stdout, errors, len(re.findall(r'<svg[^>]*class="chart"', done.stdout)), rendered
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("html", type=Path)
    parser.add_argument("--screenshot", type=Path)
    args = parser.parse_args(argv)
    chromium = find_chromium()
    if chromium is None:
        print("chromium not found (Debian: apt-get install chromium)", file=sys.stderr)  # noqa: T201
        return 2
    result = check_report(args.html, chromium, screenshot=args.screenshot)
    print(f"charts={result.charts} rendered={result.rendered} errors={len(result.errors)}")  # noqa: T201
    for e in result.errors:
        print(f"  {e}", file=sys.stderr)  # noqa: T201
    return 0 if result.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
