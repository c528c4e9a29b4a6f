#!/bin/bash
# Capture the real ping/iperf3/ip/sysfs fixtures: sudo ./capture-real-outputs.sh OUTDIR
# Traffic stays inside namespaces this script creates (random names) and removes on exit;
# nothing is added to the root namespace. Needs root, iputils ping, iperf3, iproute2, nft.
set -u
OUT=${1:?outdir}
mkdir -p "$OUT"
R=$RANDOM
W0=pt-w0-$R; W1=pt-w1-$R; P1=pt-p1-$R; P2=pt-p2-$R; P3=pt-p3-$R; LO=pt-lo-$R
ALL="$W0 $W1 $P1 $P2 $P3 $LO"
PIDDIR=$(mktemp -d)
cleanup() {
  for f in "$PIDDIR"/*.pid; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null; done
  for ns in $ALL; do ip netns del "$ns" 2>/dev/null; done
  rm -rf "$PIDDIR"
  echo "cleaned: $ALL" >&2
}
trap cleanup EXIT INT TERM
for ns in $ALL; do ip netns add "$ns"; ip -n "$ns" link set lo up; done
x() { local ns=$1; shift; timeout 30 ip netns exec "$ns" "$@"; }

# --- loopback-only namespace
x $LO ping -c 3 127.0.0.1 > "$OUT/ping-iputils-ipv4-loopback.txt" 2>&1
x $LO ping -c 3 ::1 > "$OUT/ping-iputils-ipv6-loopback.txt" 2>&1
x $LO ping -c 3 10.1.10.22 > "$OUT/ping-iputils-unreachable.txt" 2>&1
x $LO iperf3 -s -1 -D -I "$PIDDIR/lo.pid"; sleep 0.5
x $LO iperf3 -J -c 127.0.0.1 -t 1 > "$OUT/iperf3-tcp-loopback.json" 2>&1
x $LO iperf3 -J -c 127.0.0.1 -t 1 -p 5999 > "$OUT/iperf3-error-refused.json" 2>&1
x $LO cat /sys/class/net/lo/statistics/tx_bytes > "$OUT/sysfs-tx-bytes-lo.txt" 2>&1
x $LO cat /sys/class/net/net1/statistics/tx_bytes > "$OUT/sysfs-tx-bytes-missing.txt" 2>&1
x $LO ip -j addr show dev net1 > "$OUT/ip-addr-missing-device.txt" 2>&1

# --- seed topology: "DAC link" between two node namespaces, macvlan net1 in pods
ip link add ens16f0 netns $W0 type veth peer name ens16f0 netns $W1
ip -n $W0 link set ens16f0 up; ip -n $W1 link set ens16f0 up
ip -n $W0 link add net1 link ens16f0 type macvlan mode bridge; ip -n $W0 link set net1 netns $P1
ip -n $W1 link add net1 link ens16f0 type macvlan mode bridge; ip -n $W1 link set net1 netns $P2
ip -n $W1 link add net1 link ens16f0 type macvlan mode bridge; ip -n $W1 link set net1 netns $P3
ip -n $P1 addr add 10.1.10.14/24 dev net1; ip -n $P1 addr add fd10::12/64 dev net1
ip -n $P2 addr add 10.1.10.22/24 dev net1; ip -n $P2 addr add fd10::22/64 dev net1
ip -n $P3 addr add 10.1.10.23/24 dev net1
for p in $P1 $P2 $P3; do ip -n $p link set net1 up; done
x $P1 ip -j addr show dev net1 > "$OUT/ip-addr-net1-tentative.json" 2>&1
sleep 3
x $P1 ip -j addr show dev net1 > "$OUT/ip-addr-net1.json" 2>&1
x $P1 ip -j addr > "$OUT/ip-addr-all.json" 2>&1
x $W0 ip -j addr show dev ens16f0 > "$OUT/ip-addr-veth-ens16f0.json" 2>&1
# duplicate of P2's v6 address, DAD on: P3 ends dadfailed
ip -n $P3 addr add fd10::22/64 dev net1; sleep 3
x $P3 ip -j addr show dev net1 > "$OUT/ip-addr-net1-dadfailed.json" 2>&1

x $P1 cat /sys/class/net/net1/statistics/tx_bytes > "$OUT/sysfs-tx-bytes-net1-before.txt" 2>&1
x $P1 ip -j -s link show dev net1 > "$OUT/ip-stats-net1-before.json" 2>&1
x $P1 ping -c 3 10.1.10.22 > "$OUT/ping-iputils-ipv4.txt" 2>&1
x $P1 ping -c 3 fd10::22 > "$OUT/ping-iputils-ipv6.txt" 2>&1

x $P2 iperf3 -s -1 -D -I "$PIDDIR/p2a.pid"; sleep 0.5
x $P1 iperf3 -J -c fd10::22 -t 1 > "$OUT/iperf3-tcp-ipv6.json" 2>&1
x $P1 cat /sys/class/net/net1/statistics/tx_bytes > "$OUT/sysfs-tx-bytes-net1-after.txt" 2>&1
x $P1 ip -j -s link show dev net1 > "$OUT/ip-stats-net1-after.json" 2>&1
x $P2 iperf3 -s -1 -D -I "$PIDDIR/p2b.pid"; sleep 0.5
x $P1 iperf3 -J -c 10.1.10.22 -t 1 -P 2 > "$OUT/iperf3-tcp-ipv4-p2.json" 2>&1
x $P2 iperf3 -s -1 -D -I "$PIDDIR/p2c.pid"; sleep 0.5
x $P1 iperf3 -J -c 10.1.10.22 -t 1 -u -b 100M > "$OUT/iperf3-udp.json" 2>&1
# server dies mid-test: error JSON with partial results
x $P2 iperf3 -s -1 -D -I "$PIDDIR/p2d.pid"; sleep 0.5
( sleep 1.5; kill "$(cat "$PIDDIR/p2d.pid")" ) &
x $P1 iperf3 -J -c 10.1.10.22 -t 4 > "$OUT/iperf3-error-server-killed.json" 2>&1
wait

# lossy: P2 drops every third echo request -> 33.3333%
x $P2 nft add table inet pt
x $P2 nft add chain inet pt input '{ type filter hook input priority 0; }'
x $P2 nft add rule inet pt input icmp type echo-request numgen inc mod 3 == 0 drop
x $P1 ping -c 3 -W 1 10.1.10.22 > "$OUT/ping-iputils-loss-fractional.txt" 2>&1
x $P2 nft flush chain inet pt input
x $P2 nft add rule inet pt input icmp type echo-request drop
x $P1 ping -c 3 -W 1 10.1.10.22 > "$OUT/ping-iputils-loss-total.txt" 2>&1
x $P2 nft flush chain inet pt input
# P2 answers echo requests with ICMP host-unreachable -> "+N errors"
x $P2 nft add rule inet pt input icmp type echo-request reject with icmp type host-unreachable
x $P1 ping -c 3 -W 1 10.1.10.22 > "$OUT/ping-iputils-errors.txt" 2>&1
x $P2 nft delete table inet pt
# unassigned address on the link: neighbour resolution fails -> local errors
x $P1 ping -c 6 10.1.10.99 > "$OUT/ping-iputils-errors-neigh.txt" 2>&1
# P2 drops every tenth UDP datagram (not the first: the UDP handshake must pass)
x $P2 nft add table inet pt
x $P2 nft add chain inet pt input '{ type filter hook input priority 0; }'
x $P2 nft add rule inet pt input udp dport 5201 numgen inc mod 10 == 5 drop
x $P2 iperf3 -s -1 -D -I "$PIDDIR/p2e.pid"; sleep 0.5
x $P1 iperf3 -J -c 10.1.10.22 -t 1 -u -b 100M > "$OUT/iperf3-udp-loss.json" 2>&1
x $P2 nft delete table inet pt
# broadcast ping answered by P2 and P3 -> duplicates
x $P2 sysctl -qw net.ipv4.icmp_echo_ignore_broadcasts=0
x $P3 sysctl -qw net.ipv4.icmp_echo_ignore_broadcasts=0
x $P1 ping -b -c 3 10.1.10.255 > "$OUT/ping-iputils-duplicates.txt" 2>&1
echo done >&2
