"""``branchops-agent [--config FILE] [--once | --print]``."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from branchops.agent.config import ConfigError, load

DEFAULT_CONFIG = Path("/etc/branchops-agent.toml")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="branchops-agent",
        description="Collect this server's health every interval and push it to BranchOps.",
    )
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        help=f"TOML settings (default {DEFAULT_CONFIG} when it exists; environment on top)",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--once", action="store_true", help="one cycle, then exit (1 if unsent)")
    mode.add_argument("--print", action="store_true", help="collect once, print JSON, send nothing")
    parser.add_argument("--verbose", "-v", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.print:
        return _print_once()
    path = args.config or (DEFAULT_CONFIG if DEFAULT_CONFIG.exists() else None)
    try:
        config = load(path)
    except ConfigError as exc:
        print(f"branchops-agent: {exc}", file=sys.stderr)  # noqa: T201
        return 2

    from branchops.agent.runner import Agent

    agent = Agent(config)
    if args.once:
        report = agent.run_once()
        agent.sender.close()
        return 0 if report.buffered == 0 else 1
    stop = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    logging.getLogger(__name__).info(
        "agent %s pushing to %s every %gs", agent.state.agent_id, config.push_url, config.interval_s
    )
    agent.run_forever(stop)
    return 0


def _print_once() -> int:
    import time

    from branchops.agent.collect import HostCollector, host_facts
    from branchops.agent.runner import agent_version

    collector = HostCollector()
    time.sleep(1.0)  # rates and CPU need two readings
    samples = collector.collect()
    out = {
        "facts": host_facts(agent_version()),
        "samples": [{"name": s.name, "labels": s.labels, "value": s.value} for s in samples],
    }
    print(json.dumps(out, indent=2, ensure_ascii=False))  # noqa: T201
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
