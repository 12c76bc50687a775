"""`python -m crawler.sandbox`: run the sandbox in its own process until interrupted."""

from __future__ import annotations

import argparse

from crawler.sandbox import SandboxConfig, run_forever


def main(argv: list[str] | None = None) -> None:
    """Parse arguments and serve."""
    parser = argparse.ArgumentParser(prog="python -m crawler.sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--instances", type=int, default=None)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--truth", default=None, help="write the ground truth JSON here")
    parser.add_argument("--scale", action="store_true", help="benchmark profile (25k/100k)")
    parser.add_argument("--hostile", action="store_true", help="mount the hostile hosts")
    parser.add_argument("--latency", default=None, help="added latency range in ms, e.g. 20,300")
    parser.add_argument(
        "--extra-dead-names", type=int, default=None, help="names that never answer"
    )
    parser.add_argument("--max-peers", type=int, default=None, help="cap on the largest list")
    parser.add_argument("--epoch", type=int, default=0, help="serve the world at this epoch")
    parser.add_argument(
        "--pace", type=float, default=1.0, help="scale of the Crawl-delay and Retry-After asked"
    )
    args = parser.parse_args(argv)
    config = SandboxConfig.scale(seed=args.seed) if args.scale else SandboxConfig(seed=args.seed)
    if args.instances is not None:
        config.instances = args.instances
    config.hostile = args.hostile
    config.pace = args.pace
    if args.extra_dead_names is not None:
        config.extra_dead_names = args.extra_dead_names
    if args.max_peers is not None:
        config.max_peers = args.max_peers
    if args.latency is not None:
        lo, _, hi = args.latency.partition(",")
        config.latency_ms = (int(lo), int(hi or lo))
    run_forever(config, args.host, args.port, args.truth, args.epoch)


if __name__ == "__main__":
    main()
