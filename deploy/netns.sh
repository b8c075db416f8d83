#!/usr/bin/env bash
# A test bed of N "hosts" on one Linux machine: N network namespaces, each with one veth link to a bridge and
# its own address, so flagagg members talk over real interfaces (Hazelcast TCP-IP, the event bus, the data
# link, WebSockets) and a host's link can be cut. Needs root (or CAP_NET_ADMIN) and iproute2.
#
#   deploy/netns.sh up N [ID]      lay out hosts 1..N (idempotent); prints one line per host:
#                                  NAMESPACE ADDRESS VETH (VETH: the host's link, as seen from the root namespace)
#   deploy/netns.sh down [ID]      delete the namespaces, veths and bridge of ID (safe to call twice)
#   deploy/netns.sh link ID I up|down   bring host I's link up or down (down = the host is cut off)
#   deploy/netns.sh exec ID I CMD...    run CMD in host I's namespace
#
# ID (default: this shell's pid) keeps parallel runs and leftovers apart: namespaces fa<ID>-<I>, host-side
# veths fav<ID>-<I>, bridge fab<ID>, subnet 10.<ID/256 mod 256>.<ID mod 256>.0/24 with host I at .I and the
# bridge (the root namespace's way in) at .254. ID is a number below 10^7 (interface names are 15 chars at most).
set -euo pipefail

die() {
  echo "netns.sh: $*" >&2
  exit 2
}

command -v ip >/dev/null 2>&1 || die "the 'ip' command (iproute2) is missing"

id_of() {
  local id="${1:-$$}"
  [[ "$id" =~ ^[0-9]{1,7}$ ]] || die "ID must be a number below 10000000, got '$id'"
  echo "$id"
}

subnet() { # the first three octets of ID's /24
  echo "10.$(( ($1 / 256) % 256 )).$(( $1 % 256 ))"
}

has_ns() { ip netns list | awk '{print $1}' | grep -qx "$1"; }
has_link() { ip link show "$1" >/dev/null 2>&1; }

up() {
  local n="$1" id="$2"
  [[ "$n" =~ ^[0-9]+$ ]] && [ "$n" -ge 1 ] && [ "$n" -le 250 ] || die "N must be 1..250, got '$n'"
  local net bridge
  net="$(subnet "$id")"
  bridge="fab$id"
  if ! has_link "$bridge"; then
    ip link add "$bridge" type bridge
    # Bridged frames must not go through the host's iptables (Docker's FORWARD DROP would eat them).
    ip link set "$bridge" type bridge nf_call_iptables 0 nf_call_ip6tables 0 nf_call_arptables 0 2>/dev/null || true
  fi
  ip addr replace "$net.254/24" dev "$bridge"
  ip link set "$bridge" up
  local i ns veth peer
  for i in $(seq 1 "$n"); do
    ns="fa$id-$i"
    veth="fav$id-$i"
    peer="fap$id-$i"
    has_ns "$ns" || ip netns add "$ns"
    if ! has_link "$veth"; then
      ip link add "$veth" type veth peer name "$peer"
      ip link set "$peer" netns "$ns"
      ip -n "$ns" link set "$peer" name eth0
    fi
    ip link set "$veth" master "$bridge"
    ip link set "$veth" up
    ip -n "$ns" link set lo up
    ip -n "$ns" addr replace "$net.$i/24" dev eth0
    ip -n "$ns" link set eth0 up
    echo "$ns $net.$i $veth"
  done
}

down() {
  local id="$1" ns
  for ns in $(ip netns list | awk '{print $1}' | grep -E "^fa$id-[0-9]+\$" || true); do
    ip netns delete "$ns" 2>/dev/null || true # takes its end of the veth, and so the pair, with it
  done
  local veth
  for veth in $(ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 | grep -E "^fa[vp]$id-[0-9]+\$" || true); do
    ip link delete "$veth" 2>/dev/null || true
  done
  if has_link "fab$id"; then
    ip link delete "fab$id" type bridge 2>/dev/null || true
  fi
}

case "${1:-}" in
  up)
    [ $# -ge 2 ] || die "usage: netns.sh up N [ID]"
    up "$2" "$(id_of "${3:-}")"
    ;;
  down)
    down "$(id_of "${2:-}")"
    ;;
  link)
    [ $# -eq 4 ] && [[ "$4" =~ ^(up|down)$ ]] || die "usage: netns.sh link ID I up|down"
    ip link set "fav$(id_of "$2")-$3" "$4"
    ;;
  exec)
    [ $# -ge 4 ] || die "usage: netns.sh exec ID I CMD..."
    ns="fa$(id_of "$2")-$3"
    shift 3
    exec ip netns exec "$ns" "$@"
    ;;
  *)
    die "usage: netns.sh up N [ID] | down [ID] | link ID I up|down | exec ID I CMD..."
    ;;
esac
