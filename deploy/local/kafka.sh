#!/usr/bin/env bash
# Apache Kafka 4.x in KRaft mode from Maven Central jars: fetch | up | down | status
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

LIBS="$WIREWATCH_CACHE/kafka-$KAFKA_VERSION/libs"
RUN="$WIREWATCH_STACK_HOME/kafka"
PIDFILE="$RUN/kafka.pid"
LOG="$RUN/kafka.log"

fetch() {
  [ -f "$LIBS/.complete" ] && return 0
  command -v mvn >/dev/null || die "Maven (mvn) is needed to fetch Kafka from Maven Central"
  say "fetching Kafka $KAFKA_VERSION jars from Maven Central into $LIBS"
  rm -rf "$LIBS"; mkdir -p "$LIBS"
  mvn -q -B -f "$HERE/kafka/pom.xml" -Dkafka.version="$KAFKA_VERSION" \
    dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$LIBS" >&2 \
    || die "mvn could not fetch org.apache.kafka:kafka_2.13:$KAFKA_VERSION"
  touch "$LIBS/.complete"
}

healthy() { "$PY" "$HERE/kafka_ready.py" "127.0.0.1:$KAFKA_PORT"; }

up() {
  if pid_alive "$PIDFILE"; then say "Kafka already running (pid $(cat "$PIDFILE"))"; return 0; fi
  # WIREWATCH_STACK_FRESH=1 (make test): a stopped broker's topics are only earlier runs' leftovers.
  # Kept, they pile up (~20,000 partitions after a day of runs: the broker ran out of file handles).
  if [ "${WIREWATCH_STACK_FRESH:-0}" = 1 ] && [ -d "$RUN" ]; then
    say "fresh Kafka storage: removing $RUN/data and its log"
    rm -rf "$RUN/data" "$LOG"
  fi
  require_free_port Kafka "$KAFKA_PORT" KAFKA_PORT
  require_free_port "Kafka controller" "$KAFKA_CONTROLLER_PORT" KAFKA_CONTROLLER_PORT
  fetch
  local java_home; java_home=$(java_home_at_least 17) || die "Kafka needs Java 17 or newer"
  mkdir -p "$RUN/data"
  sed -e "s#@KAFKA_PORT@#$KAFKA_PORT#g" -e "s#@KAFKA_CONTROLLER_PORT@#$KAFKA_CONTROLLER_PORT#g" \
      -e "s#@DATA@#$RUN/data#g" "$HERE/kafka/server.properties.in" > "$RUN/server.properties"
  local java=("$java_home/bin/java" -cp "$LIBS/*" "-Dlog4j2.configurationFile=$HERE/kafka/log4j2.properties")
  if [ ! -f "$RUN/data/meta.properties" ]; then
    say "formatting Kafka storage in $RUN/data"
    "${java[@]}" kafka.tools.StorageTool format -t "$("${java[@]}" kafka.tools.StorageTool random-uuid 2>/dev/null)" \
      -c "$RUN/server.properties" >> "$LOG" 2>&1 || { tail -n 20 "$LOG" >&2; die "Kafka storage format failed"; }
  fi
  say "starting Kafka $KAFKA_VERSION on 127.0.0.1:$KAFKA_PORT"
  nohup "${java[@]}" -Xms256m -Xmx768m -XX:+UseG1GC kafka.Kafka "$RUN/server.properties" >> "$LOG" 2>&1 &
  echo $! > "$PIDFILE"
  wait_until 120 "$LOG" Kafka healthy || { stop_pid Kafka "$PIDFILE"; die "Kafka did not come up"; }
}

down() { stop_pid Kafka "$PIDFILE"; }
status() { if pid_alive "$PIDFILE" && healthy; then echo "kafka: up 127.0.0.1:$KAFKA_PORT"; else echo "kafka: down"; return 1; fi; }
wipe() { down; rm -rf "$RUN"; }

"${1:-up}"
