"""macvlan-testbed: Multus macvlan networks with per-node ranges, pinned test pods and checks."""
