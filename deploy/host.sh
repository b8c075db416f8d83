#!/usr/bin/env bash
# Starts this host's flagagg member: `server` (a job's aggregator, with the WebSocket gateway and dashboard),
# `shard-host` (serves no job: runs the shards a sharded job's server places on it) or `worker` (simulated
# workers that join the job over the cluster), as a member of a Hazelcast cluster that joins over TCP/IP from
# a fixed member list (no multicast), on this host's own address.
#
#   deploy/host.sh server|shard-host|worker [FLAGS...]
#       FLAGS go to 'flagagg server' / 'flagagg server --shard-host' / 'flagagg worker' after the cluster
#       flags this script adds (a later flag wins). Start the shard hosts before the job's server
#       ('server --shards S'): it looks them up once, at its start. 'server --standby' (or FLAGAGG_STANDBY=true)
#       on two hosts of the same job: the first one up serves it, the other waits and takes it over when the
#       first one's member leaves the cluster (deploy/README.md, "A standby server").
#
# It reads the env file FLAGAGG_ENV_FILE (default /etc/flagagg/flagagg.env when it exists; see
# flagagg.env.example) and needs, from it or the environment:
#   FLAGAGG_CLUSTER_HOST     this host's address: Hazelcast, the event bus and the data link bind to it
#   FLAGAGG_CLUSTER_MEMBERS  the members to join, host[:port] comma-separated (every aggregator host at least)
# Every other FLAGAGG_* variable of the file is configuration (FLAGAGG_CLUSTER__NAME, FLAGAGG_CLUSTER__PORT,
# FLAGAGG_HTTP__HOST, ...) or the launcher's (FLAGAGG_HEAP, FLAGAGG_JAR, ...): see deploy/flagagg.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

role="${1:-}"
case "$role" in
  server | worker) shift; command=("$role") ;;
  shard-host) shift; command=(server --shard-host) ;;
  *)
    echo "host.sh: usage: host.sh server|shard-host|worker [FLAGS...]" >&2
    exit 2
    ;;
esac

env_file="${FLAGAGG_ENV_FILE:-/etc/flagagg/flagagg.env}"
if [ -n "${FLAGAGG_ENV_FILE:-}" ] || [ -f "$env_file" ]; then
  [ -r "$env_file" ] || { echo "host.sh: cannot read the env file $env_file" >&2; exit 2; }
  set -a
  # shellcheck disable=SC1090
  . "$env_file"
  set +a
fi
for key in FLAGAGG_CLUSTER_HOST FLAGAGG_CLUSTER_MEMBERS; do
  if [ -z "${!key:-}" ]; then
    echo "host.sh: $key is not set (in $env_file or the environment)" >&2
    exit 2
  fi
done

exec "$here/flagagg" "${command[@]}" --cluster --cluster-host "$FLAGAGG_CLUSTER_HOST" \
  --cluster-members "$FLAGAGG_CLUSTER_MEMBERS" "$@"
