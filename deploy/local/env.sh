# Ports, folders and addresses of the local stack. Source it; every value can be
# overridden from the environment (e.g. KAFKA_PORT=29092 make test).
: "${WIREWATCH_CACHE:=$( [ -w /var/cache ] && echo /var/cache/wirewatch || echo "$HOME/.cache/wirewatch" )}"
: "${WIREWATCH_STACK_HOME:=/tmp/wirewatch-stack}"
: "${KAFKA_VERSION:=4.1.1}"
: "${ES_VERSION:=9.5.4}"
: "${KAFKA_PORT:=19092}"
: "${KAFKA_CONTROLLER_PORT:=19093}"
: "${ES_PORT:=19200}"
: "${ES_TRANSPORT_PORT:=19300}"
: "${ES_HEAP:=1g}"
: "${PROMETHEUS_PORT:=19090}"
: "${ES_USER:=wirewatch}"
export WIREWATCH_CACHE WIREWATCH_STACK_HOME KAFKA_VERSION ES_VERSION KAFKA_PORT KAFKA_CONTROLLER_PORT \
  ES_PORT ES_TRANSPORT_PORT ES_HEAP PROMETHEUS_PORT ES_USER
# What the tests read (the services themselves read WIREWATCH_KAFKA_BOOTSTRAP etc.,
# which tests set per process, so an embedded-mode test is not pointed at Kafka by accident).
export WIREWATCH_TEST_KAFKA="127.0.0.1:${KAFKA_PORT}"
export WIREWATCH_TEST_ELASTICSEARCH="http://127.0.0.1:${ES_PORT}"
export WIREWATCH_TEST_PROMETHEUS="http://127.0.0.1:${PROMETHEUS_PORT}"
export WIREWATCH_TEST_PROMETHEUS_TARGETS="${WIREWATCH_STACK_HOME}/prometheus/targets"
