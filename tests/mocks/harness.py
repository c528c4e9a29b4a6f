"""Run the real program under Pulumi's mocks and record what it registers."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import pulumi
from pulumi.runtime.mocks import MockMonitor

from components.inprocess import run_program as run_in_process


@dataclass
class Registered:
    """One resource as the engine would have seen it."""

    type: str
    name: str
    inputs: dict[str, Any]
    provider: str | None
    urn: str = ""
    parent: str = ""
    dependencies: tuple[str, ...] = ()


class RecordingMonitor(MockMonitor):
    """The SDK's mock monitor, also keeping each request's parent and dependencies."""

    def __init__(self, mocks: "RecordingMocks") -> None:
        super().__init__(mocks)
        self.recorder = mocks

    def RegisterResource(self, request):
        response = super().RegisterResource(request)
        for resource in reversed(self.recorder.resources):
            if resource.name == request.name and resource.type == request.type:
                resource.urn = response.urn
                resource.parent = request.parent
                resource.dependencies = tuple(request.dependencies)
                break
        return response


class RecordingMocks(pulumi.runtime.Mocks):
    """Echo inputs back as outputs, and remember every registration."""

    def __init__(self) -> None:
        self.resources: list[Registered] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        self.resources.append(Registered(args.typ, args.name, dict(args.inputs), args.provider))
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs):
        return {}


@dataclass
class ProgramRun:
    resources: list[Registered]
    outputs: dict[str, Any] = field(default_factory=dict)

    def of_type(self, type_token: str) -> list[Registered]:
        return [r for r in self.resources if r.type == type_token]

    def named(self, name: str) -> Registered:
        return next(r for r in self.resources if r.name == name)


def run_program(config: Mapping[str, Any], stack: str = "dev", preview: bool = False) -> ProgramRun:
    """Execute __main__.py with `config` (keys without the project prefix) under recording mocks."""
    mocks = RecordingMocks()
    run = ProgramRun(resources=mocks.resources)
    run.outputs = run_in_process(mocks, config, stack, monitor=RecordingMonitor(mocks), preview=preview)
    return run
