"""Realize the lab stack without the Pulumi CLI: the real program, its real dynamic providers.

The program runs in-process against a mock monitor whose `new_resource` does what the
engine would: deserialize the resource's provider, `check` its inputs, then `create` it.
Registration order follows the program's dependencies (the SDK registers a resource only
after its `depends_on` resources), so namespaces exist before wires, wires before pods and
pods before the checks. What was created is recorded in a state file so `down` deletes it
in reverse with the very same providers; a failing `up` deletes what it made.
"""
from __future__ import annotations

import base64
import json
import os
import threading
from dataclasses import asdict, dataclass
from typing import Any, Callable, Optional

import pulumi

from components.inprocess import run_program
from components.values import plain

DYNAMIC_PREFIX = "pulumi-python:dynamic"
PROVIDER_KEY = "__provider"
STATE_ROOT = "/run/macvlan-testbed"


class StandaloneError(RuntimeError):
    """The lab could not be realized; the message says which resource and why."""


@dataclass
class Created:
    """One realized resource: enough to delete it later with its own provider."""

    type: str
    name: str
    id: str
    provider: str
    outputs: dict[str, Any]


def _provider(blob: str) -> Any:
    """The provider exactly as the engine's provider server would load it."""
    import dill

    return dill.loads(base64.b64decode(blob))


class RealizingMocks(pulumi.runtime.Mocks):
    """Mocks that really create dynamic resources; anything else is refused (lab target only)."""

    def __init__(self, log: Callable[[str], None]) -> None:
        self.created: list[Created] = []
        self._lock = threading.Lock()
        self._log = log

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        if not args.typ.startswith(DYNAMIC_PREFIX):
            if args.typ.startswith("macvlan-testbed:"):
                return "", {}
            raise StandaloneError(f"{args.typ} {args.name}: the CLI-less runner realizes the lab target only")
        blob = plain(args.inputs[PROVIDER_KEY])  # the SDK marks `__provider` secret
        provider = _provider(blob)
        inputs = {k: v for k, v in args.inputs.items()}
        checked = provider.check({}, inputs)
        if checked.failures:
            reasons = "; ".join(f"{f.property}: {f.reason}" for f in checked.failures)
            raise StandaloneError(f"{args.name}: invalid inputs: {reasons}")
        props = dict(checked.inputs or inputs)
        result = provider.create(props)
        outputs = plain({**props, **(result.outs or {})})
        outputs.pop(PROVIDER_KEY, None)
        with self._lock:
            self.created.append(Created(args.typ, args.name, result.id, blob, outputs))
        self._log(f"created {args.typ.rsplit(':', 1)[-1]} {args.name}")
        return result.id, outputs

    def call(self, args: pulumi.runtime.MockCallArgs):
        return {}


def state_path(lab_id: str) -> str:
    """Where `up` records what it created, for `check` and `down`."""
    return os.path.join(STATE_ROOT, f"standalone-{lab_id}.json")


def save(lab_id: str, created: list[Created], outputs: dict[str, Any]) -> None:
    os.makedirs(STATE_ROOT, exist_ok=True)
    with open(state_path(lab_id), "w", encoding="utf-8") as handle:
        json.dump({"created": [asdict(c) for c in created], "outputs": outputs}, handle)


def load(lab_id: str) -> Optional[dict[str, Any]]:
    try:
        with open(state_path(lab_id), encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        return None


def delete_all(created: list[Created], log: Callable[[str], None]) -> list[str]:
    """Delete in reverse creation order; keep going on errors and return them."""
    errors = []
    for resource in reversed(created):
        try:
            _provider(resource.provider).delete(resource.id, dict(resource.outputs))
            log(f"deleted {resource.type.rsplit(':', 1)[-1]} {resource.name}")
        except Exception as error:  # noqa: BLE001 - report every failed delete, then go on
            errors.append(f"{resource.name}: {error}")
    return errors


def up(config: dict[str, Any], stack: str, lab_id: str, log: Callable[[str], None]) -> dict[str, Any]:
    """Create the lab stack and run its checks; returns the stack outputs. Cleans up on failure."""
    from components.lab.leaks import find_leftovers
    from components.lab.names import Lab

    # Another lab with this id (e.g. `pulumi up -s lab`) would be adopted, then torn down by
    # our cleanup: refuse instead, before touching anything.
    existing = find_leftovers(Lab(lab_id))
    if existing:
        raise StandaloneError(f"lab {lab_id!r} already exists on this host ({existing.describe()}); "
                              "remove it first (`scripts/lab down`, or `pulumi destroy` for a Pulumi-managed "
                              "lab) or use another stack name")
    mocks = RealizingMocks(log)
    try:
        outputs = run_program(mocks, config, stack)
    except BaseException as error:
        leftovers = delete_all(mocks.created, log)
        detail = f" (and cleanup failed: {'; '.join(leftovers)})" if leftovers else ""
        raise StandaloneError(f"lab up failed: {error}{detail}") from None
    outputs = plain(outputs)
    save(lab_id, mocks.created, outputs)
    return outputs


def recheck(lab_id: str, log: Callable[[str], None]) -> dict[str, Any]:
    """Run the checks of a lab that is up again (what a changed `trigger` does under pulumi)."""
    from components.testbed import CHECK_EXPORTS

    state = load(lab_id)
    if state is None:
        raise StandaloneError(f"lab {lab_id!r} is not up; run `scripts/lab up` first")
    created = [Created(**c) for c in state["created"]]
    check = next((c for c in created if c.type.endswith(":ConnectivityCheck")), None)
    if check is None:
        raise StandaloneError(f"lab {lab_id!r} has no checks (checks.enabled is false)")
    result = _provider(check.provider).update(check.id, dict(check.outputs), dict(check.outputs))
    check.outputs.update(plain(result.outs or {}))
    outputs = dict(state["outputs"])
    for stack_output, check_output in CHECK_EXPORTS.items():
        outputs[stack_output] = check.outputs.get(check_output)
    save(lab_id, created, outputs)
    log(f"re-ran {check.name}")
    return outputs


def down(lab_id: str, log: Callable[[str], None]) -> list[str]:
    """Delete what `up` created, then sweep anything else the lab id left behind."""
    from components.lab.down import down as sweep
    from components.lab.names import Lab

    state = load(lab_id)
    errors = delete_all([Created(**c) for c in state["created"]], log) if state else []
    sweep(Lab(lab_id))
    try:
        os.remove(state_path(lab_id))
    except FileNotFoundError:
        pass
    return errors
