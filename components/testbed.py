"""The MacvlanTestbed component: per-node NADs, pinned test pods, and the checks between them."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import pulumi
import pulumi_kubernetes as k8s

from components import cni
from components.checks.provider import ConnectivityCheck, ConnectivityCheckArgs
from components.settings import NodeSettings, Settings

TYPE_TOKEN = "macvlan-testbed:index:MacvlanTestbed"
# Stack output name -> ConnectivityCheck output it exports.
CHECK_EXPORTS = {"checks": "results", "passed": "passed", "summary": "summary"}
# ping opens raw ICMP sockets; everything else the test container needs is unprivileged.
POD_CAPABILITIES = ["NET_RAW"]


@dataclass(frozen=True)
class MacvlanTestbedArgs:
    """Inputs of MacvlanTestbed."""

    settings: Settings
    """Validated stack settings (see components/settings.py)."""


@dataclass(frozen=True)
class Endpoint:
    """What the checks need to reach one pod: identity, placement and planned ranges."""

    pod: str
    node: str
    nad: str
    namespace: str
    ranges: dict[str, list[str]]

    def to_data(self) -> dict[str, Any]:
        return {"pod": self.pod, "node": self.node, "nad": self.nad,
                "namespace": self.namespace, "ranges": self.ranges}


class MacvlanTestbed(pulumi.ComponentResource):
    """Multus macvlan NADs with a unique range per node and one pinned test pod per node."""

    plan: dict[str, Any]
    """Per node, per family: subnet, ranges and capacity."""
    nads: list[dict[str, Any]]
    """Per node: NAD name, namespace and the rendered config."""
    pods: list[dict[str, Any]]
    """Per node: pod name, node and NAD."""

    def __init__(self, name: str, args: MacvlanTestbedArgs,
                 opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        settings = args.settings
        self._name = name
        self._settings = settings
        self.provider: Optional[k8s.Provider] = None

        plan_data = settings.plan.to_data()
        configs = {node.name: self.nad_config(node) for node in settings.nodes}
        if settings.target == "lab":
            self.pod_resources = self._lab(configs)
        else:
            self.provider = self._kubernetes_provider()
            self.pod_resources = [self._pod(node, self._nad(node, configs[node.name]))
                                  for node in settings.nodes]

        nad_views = [{"name": node.nad, "node": node.name, "namespace": settings.namespace,
                      "config": configs[node.name]} for node in settings.nodes]
        pod_views = [{"name": node.pod, "node": node.name, "nad": node.nad,
                      "namespace": settings.namespace} for node in settings.nodes]
        self.endpoints = [Endpoint(
            pod=node.pod, node=node.name, nad=node.nad, namespace=settings.namespace,
            ranges={family: data["ranges"] for family, data in plan_data[node.name].items()})
            for node in settings.nodes]

        self.checks: Optional[ConnectivityCheck] = self._checks()

        # Plain data, known at plan time: it shows in `pulumi preview` and costs no Output
        # lifting per nested value (that lifting dominated large mocks runs).
        self.plan = plan_data
        self.nads = nad_views
        self.pods = pod_views
        self.register_outputs(exports(self))

    def nad_config(self, node: NodeSettings) -> dict[str, Any]:
        """The rendered NAD config of one node (the very dict the lab hands to the plugins)."""
        s = self._settings
        return cni.render_nad_config(node=node.name, families=s.plan.families, master=s.master,
                                     mode=s.mode, cni_version=s.cni_version, mtu=s.mtu)

    def _checks(self) -> Optional[ConnectivityCheck]:
        """The connectivity checks, after every pod; none when disabled or only rendering YAML."""
        s = self._settings
        if not s.checks.enabled or s.render_yaml_dir is not None:
            return None
        if s.target == "lab":
            executor: dict[str, Any] = {"kind": "netns"}
            endpoints = [dict(endpoint.to_data(), netns=pod.netns)  # type: ignore[attr-defined]
                         for endpoint, pod in zip(self.endpoints, self.pod_resources)]
        else:
            executor = {"kind": "kubernetes", "kubeconfig": s.kubeconfig, "context": s.context,
                        "container": s.container}
            endpoints = [endpoint.to_data() for endpoint in self.endpoints]
        return ConnectivityCheck(
            f"{self._name}-checks",
            ConnectivityCheckArgs(
                endpoints=endpoints, families=list(s.families), settings=s.checks.to_data(),
                executor=executor, trigger=s.checks.trigger, fail_on_error=s.checks.fail_on_error),
            opts=pulumi.ResourceOptions(parent=self, depends_on=self.pod_resources),
        )

    def _lab(self, configs: dict[str, dict[str, Any]]) -> list[pulumi.Resource]:
        """The netns lab: node namespaces, the wire between them, and pods via real CNI ADD."""
        from components.lab.provider import LabNode, LabPod, LabWire

        s = self._settings
        nodes = {node.name: LabNode(f"{self._name}-node-{node.name}", lab_id=s.lab_id, node=node.name,
                                    opts=pulumi.ResourceOptions(parent=self))
                 for node in s.nodes}
        wire = LabWire(f"{self._name}-wire", lab_id=s.lab_id, nodes=[node.name for node in s.nodes],
                       master=s.master, mtu=s.mtu,
                       opts=pulumi.ResourceOptions(parent=self, depends_on=list(nodes.values())))
        return [
            LabPod(f"{self._name}-pod-{node.name}", lab_id=s.lab_id, pod=node.pod, node=node.name,
                   nad_name=node.nad, config=configs[node.name],
                   opts=pulumi.ResourceOptions(parent=self, depends_on=[wire, nodes[node.name]]))
            for node in s.nodes
        ]

    def _child(self, **extra: Any) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, provider=self.provider, **extra)

    def _kubernetes_provider(self) -> Optional[k8s.Provider]:
        """An explicit provider when the stack names a kubeconfig, context or render directory."""
        s = self._settings
        if s.kubeconfig is None and s.context is None and s.render_yaml_dir is None:
            return None
        return k8s.Provider(
            f"{self._name}-k8s",
            kubeconfig=s.kubeconfig,
            context=s.context,
            render_yaml_to_directory=s.render_yaml_dir,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _nad(self, node: NodeSettings, config: dict[str, Any]) -> k8s.apiextensions.CustomResource:
        return k8s.apiextensions.CustomResource(
            f"{self._name}-nad-{node.name}",
            api_version=cni.NAD_API_VERSION,
            kind=cni.NAD_KIND,
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=node.nad, namespace=self._settings.namespace,
                labels={"app.kubernetes.io/managed-by": "macvlan-testbed"}),
            spec={"config": cni.config_json(config)},
            opts=self._child(),
        )

    def _pod(self, node: NodeSettings, nad: pulumi.Resource) -> k8s.core.v1.Pod:
        """A test pod pinned to its node; depends on its NAD so destroy removes pods first."""
        s = self._settings
        return k8s.core.v1.Pod(
            f"{self._name}-pod-{node.name}",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=node.pod,
                namespace=s.namespace,
                labels={"app.kubernetes.io/managed-by": "macvlan-testbed",
                        "macvlan-testbed/node": node.name},
                annotations={cni.NETWORKS_ANNOTATION: cni.networks_annotation(node.nad, s.namespace)},
            ),
            spec=k8s.core.v1.PodSpecArgs(
                node_name=node.name,
                termination_grace_period_seconds=1,
                containers=[k8s.core.v1.ContainerArgs(
                    name=s.container,
                    image=s.image,
                    command=["sleep", "infinity"],
                    security_context=k8s.core.v1.SecurityContextArgs(
                        privileged=False,
                        allow_privilege_escalation=False,
                        capabilities=k8s.core.v1.CapabilitiesArgs(drop=["ALL"], add=POD_CAPABILITIES),
                    ),
                )],
            ),
            opts=self._child(depends_on=[nad]),
        )


def exports(testbed: MacvlanTestbed) -> dict[str, Any]:
    """The stack outputs users read with `pulumi stack output`."""
    outputs: dict[str, Any] = {"plan": testbed.plan, "nads": testbed.nads, "pods": testbed.pods}
    if testbed.checks is not None:
        for stack_output, check_output in CHECK_EXPORTS.items():
            outputs[stack_output] = getattr(testbed.checks, check_output)
    return outputs

