#!/usr/bin/env bash
# Elasticsearch from Maven Central's integ-test-zip, run as an unprivileged user: fetch | up | down | status
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ARTIFACT="org.elasticsearch.distribution.integ-test-zip:elasticsearch:$ES_VERSION:zip"
HOME_DIR="$WIREWATCH_CACHE/elasticsearch-$ES_VERSION"
RUN="$WIREWATCH_STACK_HOME/elasticsearch"
PIDFILE="$RUN/es.pid"
LOG="$RUN/stdout.log"

fetch() {
  [ -x "$HOME_DIR/bin/elasticsearch" ] && return 0
  command -v mvn >/dev/null || die "Maven (mvn) is needed to fetch Elasticsearch from Maven Central"
  say "fetching $ARTIFACT from Maven Central"
  mvn -q -B dependency:get -Dartifact="$ARTIFACT" -Dtransitive=false >&2 || die "mvn could not fetch $ARTIFACT"
  local zip="$HOME/.m2/repository/org/elasticsearch/distribution/integ-test-zip/elasticsearch/$ES_VERSION/elasticsearch-$ES_VERSION.zip"
  [ -f "$zip" ] || die "downloaded zip not found at $zip"
  local tmp; tmp=$(mktemp -d "$WIREWATCH_CACHE/es-unzip.XXXX")
  unzip -q "$zip" -d "$tmp" || die "cannot unzip $zip (is unzip installed?)"
  mv "$tmp/elasticsearch-$ES_VERSION" "$HOME_DIR"; rmdir "$tmp"
}

# Elasticsearch refuses to run as root: run it as $ES_USER, created here when needed.
as_es_user() {
  if [ "$(id -u)" = 0 ]; then
    id "$ES_USER" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$ES_USER"
    runuser -u "$ES_USER" -- "$@"
  else
    "$@"
  fi
}

healthy() {
  curl -fsS --max-time 3 "http://127.0.0.1:$ES_PORT/_cluster/health?wait_for_status=yellow&timeout=2s" \
    | grep -Eq '"status":"(green|yellow)"'
}

up() {
  if pid_alive "$PIDFILE"; then say "Elasticsearch already running (pid $(cat "$PIDFILE"))"; return 0; fi
  require_free_port Elasticsearch "$ES_PORT" ES_PORT
  require_free_port "Elasticsearch transport" "$ES_TRANSPORT_PORT" ES_TRANSPORT_PORT
  fetch
  local java_home
  java_home=$(java_home_at_least 21) || die "Elasticsearch $ES_VERSION needs a JDK 21+; none found in JAVA_HOME or /usr/lib/jvm"
  mkdir -p "$RUN/data" "$RUN/logs" "$RUN/config"
  cp -r "$HOME_DIR/config/." "$RUN/config/"
  cat > "$RUN/config/elasticsearch.yml" <<YML
cluster.name: wirewatch-local
node.name: local-1
network.host: 127.0.0.1
http.port: $ES_PORT
transport.port: $ES_TRANSPORT_PORT
discovery.type: single-node
xpack.security.enabled: false
xpack.ml.enabled: false
path.data: $RUN/data
path.logs: $RUN/logs
action.destructive_requires_name: false
cluster.routing.allocation.disk.threshold_enabled: false
YML
  [ "$(id -u)" = 0 ] && { id "$ES_USER" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$ES_USER"; chown -R "$ES_USER" "$RUN" "$HOME_DIR"; }
  chmod o+x "$WIREWATCH_STACK_HOME" "$WIREWATCH_CACHE" 2>/dev/null || true
  say "starting Elasticsearch $ES_VERSION on 127.0.0.1:$ES_PORT (java: $java_home)"
  : > "$LOG"; [ "$(id -u)" = 0 ] && chown "$ES_USER" "$LOG"
  as_es_user env ES_JAVA_HOME="$java_home" ES_PATH_CONF="$RUN/config" \
    ES_JAVA_OPTS="-Xms$ES_HEAP -Xmx$ES_HEAP" "$HOME_DIR/bin/elasticsearch" -d -p "$PIDFILE.es" >> "$LOG" 2>&1 \
    || { tail -n 30 "$LOG" >&2; tail -n 30 "$RUN/logs/wirewatch-local.log" >&2 2>/dev/null; die "Elasticsearch failed to start"; }
  for _ in $(seq 1 30); do [ -s "$PIDFILE.es" ] && break; sleep 0.5; done
  cp "$PIDFILE.es" "$PIDFILE"
  wait_until 180 "$RUN/logs/wirewatch-local.log" Elasticsearch healthy \
    || { stop_pid Elasticsearch "$PIDFILE"; die "Elasticsearch did not come up"; }
}

down() { stop_pid Elasticsearch "$PIDFILE"; rm -f "$PIDFILE.es"; }
status() { if pid_alive "$PIDFILE" && healthy; then echo "elasticsearch: up http://127.0.0.1:$ES_PORT"; else echo "elasticsearch: down"; return 1; fi; }
wipe() { down; rm -rf "$RUN"; }

"${1:-up}"
