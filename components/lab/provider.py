"""pulumi.dynamic resources for the netns lab, so `pulumi up`/`destroy` create and remove it for real."""

from __future__ import annotations

import json
from typing import Any, Callable, ClassVar, Dict, List, Mapping, Optional, Sequence, Tuple

import pulumi
import pulumi.dynamic as dynamic

from components.values import is_unknown, plain

# Providers are pickled by dill into the state: module level holds only classes and plain constants.
_PROVIDER_KEY = "__provider"


class _LabProvider(dynamic.ResourceProvider):
    """Shared behaviour: JSON-able inputs, CheckFailure for bad ones, replace on any input change."""

    required: ClassVar[Tuple[str, ...]] = ()
    defaults: ClassVar[Dict[str, Any]] = {}

    @classmethod
    def input_names(cls) -> Tuple[str, ...]:
        """Keys that are inputs (everything else in the state is an output)."""
        return cls.required + tuple(cls.defaults)

    def inputs(self, props: Mapping[str, Any]) -> Dict[str, Any]:
        """Just the inputs, with defaults filled and numbers restored."""
        found = {k: props.get(k, d) for k, d in self.defaults.items()}
        found.update({k: props.get(k) for k in self.required})
        return plain(found)

    def validators(self) -> Sequence[Tuple[str, Callable[[Dict[str, Any]], None]]]:
        """(property, validator) pairs; a validator raises ValueError naming the bad value."""
        return ()

    def check(self, _olds: Dict[str, Any], news: Dict[str, Any]) -> dynamic.CheckResult:
        """Validate every input in one pass; unknown (preview) values are checked later."""
        inputs = self.inputs(news)
        failures = [
            dynamic.CheckFailure(key, f"{key} is required") for key in self.required if inputs.get(key) in (None, "")
        ]
        if not failures:
            for prop, validate in self.validators():
                if is_unknown(inputs.get(prop)):
                    continue
                try:
                    validate(inputs)
                except ValueError as exc:
                    failures.append(dynamic.CheckFailure(prop, str(exc)))
        if _PROVIDER_KEY in news:
            inputs[_PROVIDER_KEY] = news[_PROVIDER_KEY]
        return dynamic.CheckResult(inputs, failures)

    def diff(self, _id: str, olds: Dict[str, Any], news: Dict[str, Any]) -> dynamic.DiffResult:
        """Compare inputs only; every change replaces, deleting first because names are reused."""
        old, new = self.inputs(olds), self.inputs(news)
        changed = [
            k for k in self.input_names()
            if is_unknown(new[k]) or json.dumps(old[k], sort_keys=True) != json.dumps(new[k], sort_keys=True)
        ]
        return dynamic.DiffResult(
            changes=bool(changed), replaces=changed, stables=[], delete_before_replace=True
        )

    def exists(self, props: Dict[str, Any]) -> bool:
        """Whether the live object is still there, for refresh."""
        raise NotImplementedError

    def read(self, id_: str, props: Dict[str, Any]) -> dynamic.ReadResult:
        """Keep the stored outputs while the object lives; an empty id tells the engine it is gone."""
        if not self.exists(plain(props)):
            return dynamic.ReadResult("", {})
        return dynamic.ReadResult(id_, plain({k: v for k, v in props.items() if k != _PROVIDER_KEY}))


def _lab(inputs: Mapping[str, Any]) -> Any:
    """The Lab named by the inputs."""
    from components.lab.names import Lab

    return Lab(inputs["lab_id"], inputs.get("state_dir") or "")


def _check_lab(inputs: Dict[str, Any]) -> None:
    """lab_id and state_dir must name a valid lab."""
    _lab(inputs)


class LabNodeProvider(_LabProvider):
    """A node netns and its private host-local lease store."""

    required = ("lab_id", "node")
    defaults = {"state_dir": ""}

    def validators(self) -> Sequence[Tuple[str, Callable[[Dict[str, Any]], None]]]:
        from components.lab.names import validate_member

        return (("lab_id", _check_lab), ("node", lambda i: validate_member(i["node"], "node")))

    def _outs(self, inputs: Dict[str, Any]) -> Dict[str, Any]:
        lab = _lab(inputs)
        return {**inputs, "netns": lab.node_netns(inputs["node"]), "data_dir": lab.node_data_dir(inputs["node"])}

    def create(self, props: Dict[str, Any]) -> dynamic.CreateResult:
        from components.lab.nodes import create_node

        inputs = self.inputs(props)
        create_node(_lab(inputs), inputs["node"])
        outs = self._outs(inputs)
        return dynamic.CreateResult(outs["netns"], outs)

    def exists(self, props: Dict[str, Any]) -> bool:
        from components.lab import netns

        return netns.exists(_lab(props).node_netns(props["node"]))

    def delete(self, _id: str, props: Dict[str, Any]) -> None:
        from components.lab.nodes import delete_node

        inputs = self.inputs(props)
        delete_node(_lab(inputs), inputs["node"])


class LabWireProvider(_LabProvider):
    """The link between node namespaces: a veth for two nodes, a bridge in a switch netns for more."""

    required = ("lab_id", "nodes", "master")
    defaults = {"mtu": None}

    def validators(self) -> Sequence[Tuple[str, Callable[[Dict[str, Any]], None]]]:
        from components.lab.wire import validate_master, validate_mtu, validate_nodes

        return (
            ("lab_id", _check_lab),
            ("nodes", lambda i: validate_nodes(i["nodes"])),
            ("master", lambda i: validate_master(i["master"])),
            ("mtu", lambda i: validate_mtu(i["mtu"])),
        )

    def create(self, props: Dict[str, Any]) -> dynamic.CreateResult:
        from components.lab.wire import create_wire

        inputs = self.inputs(props)
        lab = _lab(inputs)
        wire = create_wire(lab, inputs["nodes"], inputs["master"], inputs["mtu"])
        outs = {
            **inputs,
            "kind": wire.kind,
            "switch_netns": wire.switch_netns or "",
            "node_netns": [lab.node_netns(n) for n in wire.nodes],
        }
        return dynamic.CreateResult(f"{lab.prefix}wire-{wire.master}", outs)

    def exists(self, props: Dict[str, Any]) -> bool:
        from components.lab import netns

        lab = _lab(props)
        return any(netns.link_exists(lab.node_netns(n), props["master"]) for n in props["nodes"])

    def delete(self, _id: str, props: Dict[str, Any]) -> None:
        from components.lab.wire import delete_wire

        inputs = self.inputs(props)
        delete_wire(_lab(inputs), inputs["nodes"], inputs["master"])


def _check_config(inputs: Dict[str, Any]) -> None:
    """The NAD config must be a JSON object (or its text) a plugin can be handed."""
    from components.lab import netconf

    netconf.prepare(inputs["config"], inputs.get("nad_name") or "check", "/nonexistent")


class LabPodProvider(_LabProvider):
    """A pod netns attached to its node's NAD by CNI ADD; DEL on delete."""

    required = ("lab_id", "pod", "node", "nad_name", "config")
    defaults = {"ifname": "net1", "state_dir": ""}

    def validators(self) -> Sequence[Tuple[str, Callable[[Dict[str, Any]], None]]]:
        from components.lab.names import validate_ifname, validate_member

        return (
            ("lab_id", _check_lab),
            ("pod", lambda i: validate_member(i["pod"], "pod")),
            ("node", lambda i: validate_member(i["node"], "node")),
            ("ifname", lambda i: validate_ifname(i["ifname"], "ifname")),
            ("config", _check_config),
        )

    def create(self, props: Dict[str, Any]) -> dynamic.CreateResult:
        from components.lab.pods import create_pod

        inputs = self.inputs(props)
        lab = _lab(inputs)
        att = create_pod(
            lab, inputs["pod"], inputs["node"], inputs["nad_name"], inputs["config"], ifname=inputs["ifname"]
        )
        outs = {**inputs, **att.to_dict(), "node_netns": lab.node_netns(inputs["node"])}
        return dynamic.CreateResult(att.netns, outs)

    def exists(self, props: Dict[str, Any]) -> bool:
        from components.lab import netns

        return netns.exists(_lab(props).pod_netns(props["pod"]))

    def delete(self, _id: str, props: Dict[str, Any]) -> None:
        from components.lab.pods import delete_pod

        inputs = self.inputs(props)
        prev = props.get("result")
        delete_pod(
            _lab(inputs),
            inputs["pod"],
            inputs["node"],
            inputs["nad_name"],
            inputs["config"],
            ifname=inputs["ifname"],
            prev_result=plain(prev) if isinstance(prev, Mapping) and prev else None,
        )


class LabNode(dynamic.Resource, module="lab", name="LabNode"):
    """A lab node: netns `mvtb-<lab_id>-<node>` with its own host-local dataDir."""

    netns: pulumi.Output[str]
    data_dir: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        lab_id: pulumi.Input[str],
        node: pulumi.Input[str],
        state_dir: pulumi.Input[str] = "",
        opts: Optional[pulumi.ResourceOptions] = None,
    ) -> None:
        props = {"lab_id": lab_id, "node": node, "state_dir": state_dir, "netns": None, "data_dir": None}
        super().__init__(LabNodeProvider(), name, props, opts)


class LabWire(dynamic.Resource, module="lab", name="LabWire"):
    """The lab's "DAC link": every node gets an interface named `master` on one L2 segment."""

    kind: pulumi.Output[str]
    switch_netns: pulumi.Output[str]
    node_netns: pulumi.Output[List[str]]

    def __init__(
        self,
        name: str,
        lab_id: pulumi.Input[str],
        nodes: pulumi.Input[Sequence[pulumi.Input[str]]],
        master: pulumi.Input[str],
        mtu: Optional[pulumi.Input[int]] = None,
        opts: Optional[pulumi.ResourceOptions] = None,
    ) -> None:
        props = {
            "lab_id": lab_id, "nodes": nodes, "master": master, "mtu": mtu,
            "kind": None, "switch_netns": None, "node_netns": None,
        }
        super().__init__(LabWireProvider(), name, props, opts)


class LabPod(dynamic.Resource, module="lab", name="LabPod"):
    """A lab pod attached with the real macvlan + host-local plugins run inside its node netns."""

    netns: pulumi.Output[str]
    node_netns: pulumi.Output[str]
    container_id: pulumi.Output[str]
    addresses: pulumi.Output[List[str]]
    ipv4: pulumi.Output[List[str]]
    ipv6: pulumi.Output[List[str]]
    mac: pulumi.Output[str]
    result: pulumi.Output[Dict[str, Any]]

    def __init__(
        self,
        name: str,
        lab_id: pulumi.Input[str],
        pod: pulumi.Input[str],
        node: pulumi.Input[str],
        nad_name: pulumi.Input[str],
        config: pulumi.Input[Any],
        ifname: pulumi.Input[str] = "net1",
        state_dir: pulumi.Input[str] = "",
        opts: Optional[pulumi.ResourceOptions] = None,
    ) -> None:
        props = {
            "lab_id": lab_id, "pod": pod, "node": node, "nad_name": nad_name, "config": config,
            "ifname": ifname, "state_dir": state_dir,
            "netns": None, "node_netns": None, "container_id": None, "addresses": None,
            "ipv4": None, "ipv6": None, "mac": None, "result": None,
        }
        super().__init__(LabPodProvider(), name, props, opts)
