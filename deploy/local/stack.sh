#!/usr/bin/env bash
# The local stack without Docker: Kafka (KRaft), Elasticsearch, Prometheus on 127.0.0.1.
#   stack.sh up|down|status|fetch|wipe [kafka|elasticsearch|prometheus ...]
# Ports: KAFKA_PORT, KAFKA_CONTROLLER_PORT, ES_PORT, ES_TRANSPORT_PORT, PROMETHEUS_PORT (see env.sh).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
action=${1:-up}; shift || true
services=("$@"); [ ${#services[@]} -gt 0 ] || services=(kafka elasticsearch prometheus)
case "$action" in
  up|fetch) ;;
  down|wipe) services=($(printf '%s\n' "${services[@]}" | tac)) ;;
  status) rc=0; for s in "${services[@]}"; do "$HERE/$s.sh" status || rc=1; done; exit $rc ;;
  *) echo "usage: stack.sh up|down|status|fetch|wipe [kafka|elasticsearch|prometheus]" >&2; exit 2 ;;
esac
if [ "$action" = up ]; then
  # Fetch everything first (downloads are cached), then start Elasticsearch and Kafka side by side.
  for s in "${services[@]}"; do "$HERE/$s.sh" fetch; done
  pids=()
  for s in "${services[@]}"; do "$HERE/$s.sh" up & pids+=($!); done
  rc=0; for p in "${pids[@]}"; do wait "$p" || rc=1; done
  exit $rc
fi
for s in "${services[@]}"; do "$HERE/$s.sh" "$action"; done
