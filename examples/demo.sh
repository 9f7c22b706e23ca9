#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# nftgate in two minutes: a throwaway network of namespaces (a client, a node, five pods),
# the basic-tcp and basic-udp examples applied on the node, real connections and datagrams
# landing on the pods (TCP and UDP on the same port 8080, to different pods), the nftables
# table it made, the Gateway API status, and a rollback.
#
#   usage: examples/demo.sh [path/to/nftgate]      (as root; `make demo` runs it)
#
# Nothing on the host changes: every interface, address, route, sysctl and nftables table
# lives in namespaces named ngt-demo-<pid>-*, deleted on exit (also on failure or Ctrl-C).
# Exits non-zero if traffic did not flow as expected.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
example=$repo/examples/basic-tcp
example_udp=$repo/examples/basic-udp
echo_server=$repo/tests/e2e/echo_server.py
udp_server=$repo/tests/e2e/udp_server.py
nftgate=$(realpath "${1:-$repo/build/nftgate}")
python=/usr/bin/python3
[ -x "$python" ] || python=$(command -v python3)

if [ "$(id -u)" != 0 ]; then echo "demo: needs root (network namespaces)" >&2; exit 2; fi
for tool in ip nft "$python"; do
	command -v "$tool" >/dev/null || { echo "demo: '$tool' not found" >&2; exit 2; }
done
[ -x "$nftgate" ] || { echo "demo: $nftgate is not built (run make)" >&2; exit 2; }

# The topology (addresses exist only inside the namespaces):
#   client 198.51.100.2, fd00:c::2  --  node 198.51.100.1, fd00:c::1  --  pods
# The pods are the ones the examples' EndpointSlices name (basic-tcp: TCP, basic-udp: UDP).
pods=(  "foo-1 10.244.1.10 fd00:244:1::10 7000 tcp"
	"foo-2 10.244.1.11 fd00:244:1::11 7000 tcp"
	"bar-1 10.244.2.10 fd00:244:2::10 7001 tcp"
	"baz-1 10.244.3.10 fd00:244:3::10 7002 udp"
	"baz-2 10.244.3.11 fd00:244:3::11 7002 udp" )
node_v4=198.51.100.1 node_v6=fd00:c::1

prefix=ngt-demo-$$-
client=${prefix}client node=${prefix}node
made=() pids=()
tmp=$(mktemp -d /tmp/nftgate-demo.XXXXXX)

cleanup() {
	local rc=$?
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
	for ns in "${made[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
	rm -rf "$tmp"
	if [ "$rc" = 0 ]; then
		printf '\n== Removed the demo namespaces. All as expected.\n'
	else
		printf '\n== Removed the demo namespaces. The demo FAILED (exit %s).\n' "$rc" >&2
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { printf '\n== %s\n' "$*"; }
in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
addns() { ip netns add "$1"; made+=("$1"); }

# One connection from namespace $1 to $2 port $3; prints the pod's greeting or what happened.
connect() {
	in_ns "$1" "$python" - "$2" "$3" <<'PY'
import socket, sys
try:
    s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3)
    print(s.makefile().readline().strip() or "closed without a word")
except ConnectionRefusedError:
    print("connection refused (TCP reset)")
except OSError as e:
    print("failed: %s" % e)
PY
}

# One datagram from namespace $1 to $2 port $3; prints the pod's answer or what happened.
datagram() {
	in_ns "$1" "$python" - "$2" "$3" <<'PY'
import socket, sys
host, port = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
try:
    s.connect((host, port))
    s.send(b"hello")
    print(s.recv(512).decode().strip())
except ConnectionRefusedError:
    print("ICMP port unreachable")
except OSError as e:
    print("failed: %s" % e)
PY
}

say "Building the sandbox: client, node and pod namespaces"
addns "$client"
addns "$node"
in_ns "$node" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
ip -n "$node" -batch - <<-EOF
	link set lo up
	link add cl0 type veth peer name eth0 netns $client
	link set cl0 up
	addr add $node_v4/24 dev cl0
	addr add $node_v6/64 dev cl0 nodad
EOF
ip -n "$client" -batch - <<-EOF
	link set lo up
	link set eth0 up
	addr add 198.51.100.2/24 dev eth0
	addr add fd00:c::2/64 dev eth0 nodad
	route add default via $node_v4
	route add default via $node_v6
EOF
i=0
for p in "${pods[@]}"; do
	read -r name v4 v6 port proto <<<"$p"
	ns=$prefix$name
	addns "$ns"
	ip -n "$node" -batch - <<-EOF
		link add p$i type veth peer name eth0 netns $ns
		link set p$i up
		addr add 10.244.0.1/32 dev p$i
		addr add fd00:244::1/128 dev p$i nodad
		route add $v4/32 dev p$i
		route add $v6/128 dev p$i
	EOF
	ip -n "$ns" -batch - <<-EOF
		link set lo up
		link set eth0 up
		addr add $v4/32 dev eth0
		addr add $v6/128 dev eth0 nodad
		route add 10.244.0.1/32 dev eth0
		route add default via 10.244.0.1 dev eth0 onlink
		route add fd00:244::1/128 dev eth0
		route add default via fd00:244::1 dev eth0
	EOF
	# Not through in_ns: $! must be the server itself (ip netns exec execs it), not a subshell.
	server=$echo_server
	[ "$proto" = udp ] && server=$udp_server
	ip netns exec "$ns" "$python" "$server" --name "$name" --port "$port" >/dev/null &
	pids+=("$!")
	printf '  pod %-6s %-12s %-15s listening on %s/%s\n' "$name" "$v4" "$v6" "$port" "$proto"
	i=$((i + 1))
done
printf '  node   %s, %s    client 198.51.100.2, fd00:c::2\n' "$node_v4" "$node_v6"

# Ready when each pod accepts a connection or answers a datagram from the node (bounded: 10 s).
deadline=$((SECONDS + 10))
for p in "${pods[@]}"; do
	read -r name v4 v6 port proto <<<"$p"
	if [ "$proto" = udp ]; then
		ready() { case "$(datagram "$node" "$v4" "$port")" in pod=*) ;; *) false ;; esac; }
	else
		ready() { in_ns "$node" bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$v4" "$port" 2>/dev/null; }
	fi
	until ready; do
		if [ "$SECONDS" -ge "$deadline" ]; then echo "pod $name never listened" >&2; exit 1; fi
		sleep 0.1
	done
done

say "Before nftgate: the client connects to the node on 8080"
echo "  $(connect "$client" "$node_v4" 8080)"

say "nftgate apply -f examples/basic-tcp/ -f examples/basic-udp/   (in the node namespace)"
in_ns "$node" "$nftgate" apply -f "$example" -f "$example_udp" --state-dir "$tmp/state"
echo "  exit status 0"

failures=0
# try NS ADDR PORT WANT [udp]: one connection (or datagram), must land on a pod whose name
# starts with WANT.
try() {
	local got proto=${5:-tcp}
	if [ "$proto" = udp ]; then got=$(datagram "$1" "$2" "$3"); else got=$(connect "$1" "$2" "$3"); fi
	case "$got" in
	"pod=$4"*) printf '  %-26s -> %s\n' "$(fmt "$2" "$3" "$proto")" "$got" ;;
	*) printf '  %-26s -> %s   <-- expected a %s pod\n' "$(fmt "$2" "$3" "$proto")" "$got" "$4"
	   failures=$((failures + 1)) ;;
	esac
}
fmt() { case "$1" in *:*) echo "[$1]:$2/$3" ;; *) echo "$1:$2/$3" ;; esac; }

say "Connections from the client (the pods print who they are and the peer they saw)"
for _ in 1 2 3 4; do try "$client" "$node_v4" 8080 foo-; done
for _ in 1 2; do try "$client" "$node_v6" 8080 foo-; done
for _ in 1 2; do try "$client" "$node_v4" 8090 bar-; done
try "$client" "$node_v6" 8090 bar-
say "Datagrams from the client to UDP 8080: the UDP listener, other pods than TCP 8080's"
for _ in 1 2 3 4; do try "$client" "$node_v4" 8080 baz- udp; done
for _ in 1 2; do try "$client" "$node_v6" 8080 baz- udp; done
say "From the node itself, to its own address"
try "$node" "$node_v4" 8080 foo-
try "$node" "$node_v4" 8080 baz- udp

say "nft list table inet nftgate   (in the node namespace)"
in_ns "$node" nft list table inet nftgate

say "nftgate status -f examples/basic-tcp/ -f examples/basic-udp/"
"$nftgate" status -f "$example" -f "$example_udp"

say "nftgate rollback"
in_ns "$node" "$nftgate" rollback --state-dir "$tmp/state"
echo "  exit status 0"
got=$(connect "$client" "$node_v4" 8080)
case "$got" in
pod=*) printf '  %s:8080 -> %s   <-- still forwarded after rollback\n' "$node_v4" "$got"
       failures=$((failures + 1)) ;;
*) printf '  %s:8080 -> %s   (not forwarded any more)\n' "$node_v4" "$got" ;;
esac

if [ "$failures" -ne 0 ]; then
	echo "demo: $failures connection(s) did not go where they should" >&2
	exit 1
fi
