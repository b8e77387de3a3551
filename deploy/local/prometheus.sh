#!/usr/bin/env bash
# Prometheus from Debian's package, scraping whatever the tests register: fetch | up | down | status
# Targets are file_sd JSON files in $WIREWATCH_STACK_HOME/prometheus/targets/ (picked up live).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RUN="$WIREWATCH_STACK_HOME/prometheus"
PIDFILE="$RUN/prometheus.pid"
LOG="$RUN/prometheus.log"

fetch() {
  command -v prometheus >/dev/null && command -v promtool >/dev/null && return 0
  [ "$(id -u)" = 0 ] || die "Prometheus is missing: run 'sudo apt-get install -y prometheus'"
  say "installing Debian's prometheus package"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q --no-install-recommends prometheus >/dev/null 2>&1 \
    || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q --no-install-recommends prometheus >/dev/null; } \
    || die "apt-get install prometheus failed"
  # The package's own service (if an init system started it) is not ours.
  (service prometheus stop || systemctl stop prometheus) >/dev/null 2>&1 || true
}

healthy() { curl -fsS --max-time 2 "http://127.0.0.1:$PROMETHEUS_PORT/-/ready" >/dev/null; }

up() {
  if pid_alive "$PIDFILE"; then say "Prometheus already running (pid $(cat "$PIDFILE"))"; return 0; fi
  require_free_port Prometheus "$PROMETHEUS_PORT" PROMETHEUS_PORT
  fetch
  # the test stack's samples are throwaway: replaying an old WAL took 52 s on a busy machine
  rm -rf "$RUN/data"
  mkdir -p "$RUN/targets" "$RUN/data"
  cat > "$RUN/prometheus.yml" <<YML
global:
  scrape_interval: 2s
  evaluation_interval: 2s
scrape_configs:
  - job_name: wirewatch
    file_sd_configs:
      - files: ["$RUN/targets/*.json"]
        refresh_interval: 2s
YML
  say "starting Prometheus on 127.0.0.1:$PROMETHEUS_PORT"
  nohup prometheus --config.file="$RUN/prometheus.yml" --storage.tsdb.path="$RUN/data" \
    --web.listen-address="127.0.0.1:$PROMETHEUS_PORT" --storage.tsdb.retention.time=1d >> "$LOG" 2>&1 &
  echo $! > "$PIDFILE"
  wait_until 60 "$LOG" Prometheus healthy || { stop_pid Prometheus "$PIDFILE"; die "Prometheus did not come up"; }
}

down() { stop_pid Prometheus "$PIDFILE"; }
status() { if pid_alive "$PIDFILE" && healthy; then echo "prometheus: up http://127.0.0.1:$PROMETHEUS_PORT"; else echo "prometheus: down"; return 1; fi; }
wipe() { down; rm -rf "$RUN"; }

"${1:-up}"
