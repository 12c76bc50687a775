"""The sandbox in a child process: so the sandbox and a crawler each get a CPU core.

Used by `fediscope demo` and the benchmark scripts.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

_LISTENING = re.compile(r"listening on http://([\d.]+):(\d+) .*seeds: (.+)\)")


class SandboxStartError(RuntimeError):
    """The sandbox process did not come up."""


@dataclass(frozen=True)
class RunningSandbox:
    address: str  # HOST:PORT, for --via
    seeds: list[str]
    pid: int = 0

    def cpu_seconds(self) -> float:
        """CPU time the sandbox process has used so far (user + system; Linux /proc)."""
        try:
            fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def sandbox_process(arguments: list[str], cwd: Path | None = None) -> Iterator[RunningSandbox]:
    """Run `python -m crawler.sandbox --port 0 ARGUMENTS...` until the block ends."""
    command = [sys.executable, "-m", "crawler.sandbox", "--port", "0", *arguments]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=cwd)
    try:
        line = process.stdout.readline() if process.stdout else ""
        match = _LISTENING.search(line)
        if not match:
            raise SandboxStartError(f"the sandbox did not start: {line.strip() or 'no output'}")
        host, port, seeds = match.groups()
        yield RunningSandbox(
            f"{host}:{port}", [seed.strip() for seed in seeds.split(",")], process.pid
        )
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
