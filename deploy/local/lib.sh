# Helpers shared by the stack scripts.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
# shellcheck source=env.sh
source "$HERE/env.sh"
mkdir -p "$WIREWATCH_CACHE" "$WIREWATCH_STACK_HOME"

say() { printf '[stack] %s\n' "$*" >&2; }
die() { printf '[stack] error: %s\n' "$*" >&2; exit 1; }

# port_open PORT: something listens on 127.0.0.1:PORT
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# pid_alive PIDFILE
pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# require_free_port NAME PORT VAR: fail clearly when another process holds the port
require_free_port() {
  if port_open "$2"; then
    die "$1 cannot start: port $2 on 127.0.0.1 is already in use by another process (set $3 to another port)"
  fi
}

# wait_until SECONDS LOGFILE WHAT CMD...: poll CMD until it succeeds, else show the log tail
wait_until() {
  local limit=$1 log=$2 what=$3; shift 3
  local start=$SECONDS
  until "$@" >/dev/null 2>&1; do
    if (( SECONDS - start > limit )); then
      say "$what did not become healthy within ${limit}s; last lines of $log:"
      tail -n 30 "$log" >&2 || true
      return 1
    fi
    sleep 1
  done
  say "$what is up ($(( SECONDS - start ))s)"
}

# stop_pid NAME PIDFILE: TERM, wait, then KILL
stop_pid() {
  local name=$1 pidfile=$2
  if pid_alive "$pidfile"; then
    local pid; pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$pid" 2>/dev/null || true
    say "$name stopped"
  fi
  rm -f "$pidfile"
}

# java_home_at_least N: a JDK folder whose major version is >= N (default JDK first)
java_home_at_least() {
  local want=$1 candidate major
  for candidate in "${JAVA_HOME:-}" /usr/lib/jvm/*; do
    [ -n "$candidate" ] && [ -x "$candidate/bin/java" ] && [ -f "$candidate/release" ] || continue
    major=$(sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$candidate/release")
    if [ -n "$major" ] && [ "$major" -ge "$want" ]; then echo "$candidate"; return 0; fi
  done
  return 1
}

PY="$REPO/.venv/bin/python"
[ -x "$PY" ] || PY=python3
