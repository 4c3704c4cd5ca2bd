#!/usr/bin/env bash
# Throwaway Redis for the limiter tests (test/limits). Used by .ci/run on Debian 12 as root.
#   eval "$(.ci/services/redis.sh start)"   # stdout is exactly: export TEST_REDIS_URL=redis://127.0.0.1:PORT
#   .ci/services/redis.sh stop
# No systemd and no persistence: a daemonized redis-server whose pid file, log and port live in one
# state directory, so `stop` finds it again and removes every trace.
set -euo pipefail

STATE_DIR="${CI_REDIS_STATE_DIR:-${TMPDIR:-/tmp}/completions-subgraph-ci-redis}"
FIRST_PORT="${CI_REDIS_PORT:-56379}"

log() { echo "redis.sh: $*" >&2; }

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

running_pid() {
  local pid
  [[ -f "$STATE_DIR/redis.pid" ]] || return 1
  pid="$(cat "$STATE_DIR/redis.pid")"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

install_redis() {
  command -v redis-server >/dev/null && command -v redis-cli >/dev/null && return 0
  log "installing redis-server from the Debian packages"
  # The package's postinst would start a system-wide instance on 6379; we want only our own. Docker
  # images usually ship this guard already; otherwise add it for the install and take it away again.
  local guard=""
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    guard=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' >"$guard"
    chmod 755 "$guard"
  fi
  local status=0
  {
    DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server
  } >&2 || status=$?
  [[ -n "$guard" ]] && rm -f "$guard"
  return "$status"
}

start() {
  if running_pid >/dev/null; then
    log "already running (pid $(running_pid))"
    echo "export TEST_REDIS_URL=redis://127.0.0.1:$(cat "$STATE_DIR/port")"
    return 0
  fi
  install_redis
  rm -rf "$STATE_DIR"
  mkdir -p "$STATE_DIR"

  local port="$FIRST_PORT"
  while port_in_use "$port"; do
    port=$((port + 1))
    if ((port > FIRST_PORT + 50)); then
      log "no free port in $FIRST_PORT..$((FIRST_PORT + 50))"
      return 1
    fi
  done

  redis-server --port "$port" --bind 127.0.0.1 --protected-mode yes \
    --save '' --appendonly no --daemonize yes \
    --dir "$STATE_DIR" --pidfile "$STATE_DIR/redis.pid" --logfile "$STATE_DIR/redis.log" >&2
  echo "$port" >"$STATE_DIR/port"

  local attempt
  for attempt in $(seq 1 50); do
    if [[ "$(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null)" == "PONG" ]]; then
      log "ready on 127.0.0.1:$port ($(redis-server --version | awk '{print $3}'))"
      echo "export TEST_REDIS_URL=redis://127.0.0.1:$port"
      return 0
    fi
    sleep 0.1
  done
  log "no PONG on port $port after 5 s; log follows"
  cat "$STATE_DIR/redis.log" >&2 || true
  stop
  return 1
}

stop() {
  local pid
  if ! pid="$(running_pid)"; then
    log "not running"
    rm -rf "$STATE_DIR"
    return 0
  fi
  redis-cli -h 127.0.0.1 -p "$(cat "$STATE_DIR/port")" shutdown nosave >/dev/null 2>&1 || kill "$pid" 2>/dev/null || true
  local attempt
  for attempt in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "pid $pid ignored shutdown; killing it"
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -rf "$STATE_DIR"
  log "stopped"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
