#!/usr/bin/env python3
"""The main job without the Pulumi CLI: realize a lab stack, run its checks, tear it down.

    scripts/lab run   [--stack lab] [--json]   up, checks, down in one go (exit 1 if a check failed)
    scripts/lab up    [--stack lab] [--json]   create the lab and run the checks; keep it
    scripts/lab check [--stack lab] [--json]   re-run the checks against a lab that is up
    scripts/lab down  [--stack lab]            delete everything the lab created

It runs the same code as `pulumi up -s lab`: the program, the planner and renderer, the
lab resources' providers and the check provider, with Pulumi.<stack>.yaml as config.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from components.errors import ConfigError  # noqa: E402
from components.settings import parse_settings, stack_file_config  # noqa: E402


def log(message: str) -> None:
    print(f"lab: {message}", file=sys.stderr, flush=True)


def show(outputs: dict[str, Any], as_json: bool) -> None:
    """Print the stack outputs like `pulumi stack output` would, or a readable digest."""
    if as_json:
        print(json.dumps(outputs, indent=2, sort_keys=True))
        return
    for node, families in outputs.get("plan", {}).items():
        ranges = ", ".join(f"{family} {' '.join(data['ranges'])}" for family, data in families.items())
        print(f"plan {node}: {ranges}")
    for pod in (outputs.get("checks") or {}).get("pods") or []:
        seen = []
        for family, addresses in (pod.get("addresses") or {}).items():
            for entry in addresses:
                verdict = "ok" if entry.get("inRange") and entry.get("unique") else \
                    ("OUT OF RANGE" if not entry.get("inRange") else "DUPLICATE")
                seen.append(f"{family} {entry.get('address')} ({verdict})")
        print(f"pod {pod.get('pod')} on {pod.get('node')}: net1 " + (", ".join(seen) or "no address"))
    for line in outputs.get("summary") or []:
        print(line)
    if "passed" in outputs:
        print("PASSED" if outputs["passed"] else "FAILED")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="scripts/lab", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=("run", "up", "check", "down"))
    parser.add_argument("--stack", default="lab", help="stack whose Pulumi.<stack>.yaml to use (default: lab)")
    parser.add_argument("--json", action="store_true", help="print the stack outputs as JSON")
    args = parser.parse_args(argv)

    from components.lab import standalone

    stack_file = ROOT / f"Pulumi.{args.stack}.yaml"
    if not stack_file.exists():
        print(f"lab: no stack file {stack_file.name}", file=sys.stderr)
        return 2
    config = stack_file_config(str(stack_file))
    try:
        settings = parse_settings(config, stack=args.stack)
    except ConfigError as error:
        print(error.render(), file=sys.stderr)
        return 2
    if settings.target != "lab":
        print(f"lab: stack {args.stack!r} has target {settings.target!r}; scripts/lab runs target lab "
              "(use pulumi for a cluster)", file=sys.stderr)
        return 2
    if os.geteuid() != 0:
        print("lab: needs root (network namespaces and CNI plugins); try: sudo scripts/lab "
              + " ".join(argv), file=sys.stderr)
        return 2

    # The CLI reports failed checks itself (exit 1) instead of aborting, so results always print.
    config = {**config, "checks": {**(config.get("checks") or {}), "failOnError": False}}

    try:
        if args.command == "down":
            errors = standalone.down(settings.lab_id, log)
            for error in errors:
                log(f"delete failed: {error}")
            return 1 if errors else 0
        if args.command == "check":
            outputs = standalone.recheck(settings.lab_id, log)
        else:
            if standalone.load(settings.lab_id) is not None:
                log(f"lab {settings.lab_id!r} is already up; run `scripts/lab down` first")
                return 2
            outputs = standalone.up(config, args.stack, settings.lab_id, log)
        show(outputs, args.json)
        return 0 if outputs.get("passed", True) else 1
    except standalone.StandaloneError as error:
        log(str(error))
        return 1
    finally:
        if args.command == "run" and standalone.load(settings.lab_id) is not None:
            standalone.down(settings.lab_id, log)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
