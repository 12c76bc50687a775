"""The masnet anchor: the same sandbox walked by masnet (PyPI), for comparison.

masnet 0.3.6 (https://github.com/metebalci/masnet) walks `/api/v1/instance/peers` breadth
first from one start domain. It passes an integer session timeout, which aiohttp refuses since
3.9.2, so it gets its own virtual environment with aiohttp 3.9.1 (scripts/out/masnet-venv).
A small shim, loaded before masnet, sends every request to the sandbox's `--via` address with
the real Host header (masnet itself speaks HTTPS to port 443 through Google's DNS), and an
exclusion file that keeps only masnet's "no paths" rule (its defaults are meant for the real
network). Used by `scripts/bench.py --masnet`; runnable alone:

    .venv/bin/python scripts/masnet_anchor.py --via 127.0.0.1:PORT --seed DOMAIN
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out"
VENV = OUT / "masnet-venv"

SHIM = """
import os, aiohttp, yarl
VIA = os.environ["MASNET_VIA"]
_request = aiohttp.ClientSession._request

async def via_request(self, method, str_or_url, **kwargs):
    url = yarl.URL(str(str_or_url))
    headers = dict(kwargs.pop("headers", None) or {})
    headers["Host"] = url.host
    return await _request(self, method, f"http://{VIA}{url.path_qs}", headers=headers, **kwargs)

aiohttp.ClientSession._request = via_request
class NoResolver(aiohttp.resolver.ThreadedResolver):
    def __init__(self, *args, **kwargs):  # masnet passes Google's nameservers
        super().__init__()

aiohttp.resolver.AsyncResolver = NoResolver  # every request goes to the via address
import sys
from masnet.download import main
sys.argv = ["masnet.download", *sys.argv[1:]]
main()
"""


def ensure_venv() -> Path:
    python = VENV / "bin" / "python"
    if not python.exists():
        OUT.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "masnet==0.3.6", "aiohttp==3.9.1"],
            check=True,
        )
    return python


def run_masnet(
    via: str,
    seed: str,
    concurrency: int,
    workdir: Path,
    timeout: float = 30.0,
    tasks: int | None = None,
) -> dict[str, object]:
    """Walk the sandbox with masnet; return its time and what it found.

    `tasks` defaults to half the concurrency: masnet's connector allows two connections per
    task, so both crawlers then hold the same number of connections.
    """
    python = ensure_venv()
    data = workdir / "masnet"
    data.mkdir(parents=True, exist_ok=True)
    exclusions = workdir / "masnet-exclusions"
    exclusions.write_text("/\n")
    tasks = tasks or max(1, concurrency // 2)
    command = [
        str(python), "-c", SHIM, "-d", str(data), "-n", str(tasks),
        "-s", seed, "-t", str(int(timeout)), "-e", str(exclusions),
    ]  # fmt: skip
    started = time.perf_counter()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = subprocess.run(
        command, capture_output=True, text=True, env={**os.environ, "MASNET_VIA": via}
    )
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime
    visits = (data / "masnet.download.visits").read_text().split() if result.returncode == 0 else []
    return {
        "masnet_tasks": tasks,
        "masnet_seconds": round(seconds, 1),
        "masnet_cpu_seconds": round(cpu, 1),
        "masnet_nodes": len(visits),
        "masnet_exit": result.returncode,
        "masnet_tail": result.stdout.strip().splitlines()[-3:] if result.stdout else [],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--via", required=True)
    parser.add_argument("--seed", required=True)
    parser.add_argument("--concurrency", type=int, default=512)
    parser.add_argument("--tasks", type=int, help="masnet -n (default: concurrency / 2)")
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument("--workdir", default=str(OUT / "masnet-run"))
    args = parser.parse_args()
    result = run_masnet(
        args.via, args.seed, args.concurrency, Path(args.workdir), args.timeout, args.tasks
    )
    print(result)


if __name__ == "__main__":
    main()
