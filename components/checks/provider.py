"""pulumi.dynamic resource that runs the connectivity suite on create/update; its outputs are the results.

The provider is pickled by dill into the state (`__provider`) and unpickled by the SDK's
provider server (`python -m pulumi.dynamic`): module level holds only classes and plain
constants, and clients are built inside the methods. That server has no engine
connection (pulumi.log.info falls back to stderr there), and the engine shows every
line a provider plugin writes to stderr, so progress goes to stderr, one line per pair.
"""
from __future__ import annotations

import json
import sys
import uuid
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Sequence

import pulumi
import pulumi.dynamic as dynamic

from components.values import is_unknown, plain

PROVIDER_KEY = "__provider"
INPUT_KEYS = ("endpoints", "families", "settings", "executor", "trigger", "failOnError")
"""Inputs; a change to any of them re-runs the checks (an update, never a replace)."""
OUTPUT_KEYS = ("results", "passed", "summary")
DEFAULT_EXECUTOR: Mapping[str, Any] = {"kind": "kubernetes"}
"""Ambient kubeconfig and context, the API server's default container."""
LOG_PREFIX = "connectivity-check"


class ConnectivityCheckFailed(Exception):
    """failOnError is set and at least one check failed; the message lists every failure."""


def _without_nulls(value: Any) -> Any:
    """Drop None-valued keys (absent = not measured): the SDK's Read drops them, so Create must too."""
    if isinstance(value, Mapping):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_without_nulls(v) for v in value]
    return value


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _log(line: str) -> None:
    """A progress line the engine shows (it forwards provider plugin stderr as diagnostics)."""
    print(f"{LOG_PREFIX}: {line}", file=sys.stderr, flush=True)


def failure_message(results: Mapping[str, Any]) -> str:
    """Every failure, one per line, for the error that fails `pulumi up`."""
    failures = list(results.get("failures") or [])
    lines = [f"connectivity check failed: {len(failures)} problem{'s' if len(failures) != 1 else ''}:"]
    lines += [f"  - {failure}" for failure in failures]
    return "\n".join(lines)


class ConnectivityCheckProvider(dynamic.ResourceProvider):
    """Runs the suite (components/checks/suite.py) through the executor the inputs describe."""

    def inputs(self, props: Mapping[str, Any]) -> dict[str, Any]:
        """Just the inputs, with defaults filled and gRPC numbers/secrets undone."""
        # Null-valued keys count as absent, on every path (the SDK drops them on Read).
        found = {key: _without_nulls(plain(props.get(key))) for key in INPUT_KEYS}
        if found["settings"] is None:
            found["settings"] = {}
        if found["executor"] is None:
            found["executor"] = dict(DEFAULT_EXECUTOR)
        if found["trigger"] is None:
            found["trigger"] = ""
        if found["failOnError"] is None:
            found["failOnError"] = True
        return found

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> dynamic.CheckResult:
        """Validate every input in one pass; unknown (preview) values are validated when known."""
        from components.checks.executors import executor_spec_problems
        from components.checks.suite import FAMILIES, endpoint_problems, family_problems, settings_from_data

        inputs = self.inputs(news)
        problems: list[tuple[str, str]] = []
        families = inputs["families"]
        if not is_unknown(families):
            problems += [("families", p) for p in family_problems(families)]
        known_families = [] if is_unknown(families) or not isinstance(families, list) else [
            f for f in families if f in FAMILIES]
        endpoints = inputs["endpoints"]
        if not is_unknown(endpoints):
            problems += [("endpoints", p) for p in endpoint_problems(endpoints, known_families)]
        settings = inputs["settings"]
        if not is_unknown(settings):
            checked, setting_problems = settings_from_data(settings)
            problems += [("settings", p) for p in setting_problems]
            if not setting_problems:
                inputs["settings"] = checked.to_data()
        executor = inputs["executor"]
        if not is_unknown(executor):
            problems += [("executor", p) for p in executor_spec_problems(executor)]
            if (isinstance(executor, Mapping) and executor.get("kind") == "netns"
                    and isinstance(endpoints, list) and not is_unknown(endpoints)):
                problems += [
                    ("endpoints", f"endpoints[{i}].netns: got {e.get('netns')!r}; the netns executor needs"
                                  f" the pod's network namespace name")
                    for i, e in enumerate(endpoints)
                    if isinstance(e, Mapping) and not (isinstance(e.get("netns"), str) and e.get("netns"))
                ]
        if not is_unknown(inputs["trigger"]) and not isinstance(inputs["trigger"], str):
            problems.append(("trigger", f"trigger: got {inputs['trigger']!r}; must be a string"))
        if not is_unknown(inputs["failOnError"]) and not isinstance(inputs["failOnError"], bool):
            problems.append(("failOnError", f"failOnError: got {inputs['failOnError']!r}; must be true or false"))
        return dynamic.CheckResult(inputs, [dynamic.CheckFailure(prop, reason) for prop, reason in problems])

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.DiffResult:
        """Update (re-run) when an input changed; outputs and the serialized provider do not count."""
        old, new = self.inputs(olds), self.inputs(news)
        changed = [key for key in INPUT_KEYS if is_unknown(new[key]) or _canonical(old[key]) != _canonical(new[key])]
        return dynamic.DiffResult(
            changes=bool(changed), replaces=[], stables=[k for k in INPUT_KEYS if k not in changed],
            delete_before_replace=False,
        )

    def _run(self, inputs: dict[str, Any]) -> dict[str, Any]:
        from components.checks.executors import executor_from_spec
        from components.checks.suite import progress_line, run_suite

        pods = len(inputs["endpoints"])
        _log(f"checking {pods} pods, {pods * (pods - 1)} pairs, {'/'.join(inputs['families'])}")
        results = run_suite(
            inputs["endpoints"], inputs["families"], inputs["settings"], executor_from_spec(inputs["executor"]),
            on_pair=lambda pair, done, total: _log(progress_line(pair, done, total)),
        )
        summary = results.pop("summary")
        outs = {**inputs, "results": _without_nulls(results), "passed": results["passed"], "summary": summary}
        if results["passed"]:
            _log(f"passed: {len(results['checks'])} checks")
        else:
            _log(failure_message(results).replace("\n", f"\n{LOG_PREFIX}: "))
            if inputs["failOnError"]:
                raise ConnectivityCheckFailed(failure_message(results))
        return outs

    def create(self, props: dict[str, Any]) -> dynamic.CreateResult:
        return dynamic.CreateResult(f"connectivity-{uuid.uuid4().hex[:12]}", self._run(self.inputs(props)))

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> dynamic.UpdateResult:
        return dynamic.UpdateResult(self._run(self.inputs(news)))

    def read(self, id_: str, props: dict[str, Any]) -> dynamic.ReadResult:
        """The stored results: re-running checks on refresh would be a new measurement, not a read."""
        return dynamic.ReadResult(id_, plain({k: v for k, v in props.items() if k != PROVIDER_KEY}))

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """Nothing to remove: the checks leave nothing behind."""


@dataclass
class ConnectivityCheckArgs:
    """Inputs of ConnectivityCheck (plain JSON-able values or Outputs of them)."""

    endpoints: pulumi.Input[Sequence[Mapping[str, Any]]]
    """Per pod: {"pod", "node", "nad", "namespace", "ranges": {"ipv4": ["first-last"], ...}, "netns"?}."""
    families: pulumi.Input[Sequence[str]] = field(default_factory=lambda: ["ipv4", "ipv6"])
    """Address families to check, a subset of ipv4, ipv6."""
    settings: pulumi.Input[Mapping[str, Any]] = field(default_factory=dict)
    """CheckSettings.to_data(): pingCount, iperfSeconds, thresholds, parallelism... (defaults fill gaps)."""
    executor: pulumi.Input[Mapping[str, Any]] = field(default_factory=lambda: dict(DEFAULT_EXECUTOR))
    """{"kind": "kubernetes", "kubeconfig": secret str|None, "context", "container"} or {"kind": "netns"}."""
    trigger: pulumi.Input[str] = ""
    """Change it to re-run the checks without changing anything else."""
    fail_on_error: pulumi.Input[bool] = True
    """Fail `pulumi up` (naming every failure) when a check fails."""


class ConnectivityCheck(dynamic.Resource, module="checks", name="ConnectivityCheck"):
    """Runs ping, iperf3 and the net1 path proof between every pair of test pods."""

    results: pulumi.Output[dict]
    """Per pod addresses with in-range/unique verdicts; per pair and family ping, iperf3, tx-bytes."""
    passed: pulumi.Output[bool]
    summary: pulumi.Output[list]
    """One line per pair and family, then one `FAIL ...` line per failure."""

    def __init__(self, name: str, args: ConnectivityCheckArgs,
                 opts: Optional[pulumi.ResourceOptions] = None) -> None:
        props = {
            "endpoints": args.endpoints,
            "families": args.families,
            "settings": args.settings,
            "executor": args.executor,
            "trigger": args.trigger,
            "failOnError": args.fail_on_error,
            "results": None,
            "passed": None,
            "summary": None,
        }
        # The executor carries the kubeconfig: keep it secret in the outputs (state) as well.
        secret = pulumi.ResourceOptions(additional_secret_outputs=["executor"])
        super().__init__(ConnectivityCheckProvider(), name, props, pulumi.ResourceOptions.merge(secret, opts))
