#!/usr/bin/env bash
# Start PostgreSQL, RabbitMQ and Redis when they are not answering, with this machine's own
# commands; fail with a clear message when one cannot be reached. Used by `make` and `.ci/run`.
set -u

pg_up() { pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null || (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; }
rabbit_up() { (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null; }
redis_up() { [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = "PONG" ]; }

wait_for() {  # name, check function, seconds
  local name=$1 check=$2 seconds=$3
  for _ in $(seq 1 "$seconds"); do
    $check && return 0
    sleep 1
  done
  echo "✘ $name is not answering after ${seconds}s." >&2
  return 1
}

status=0
if ! pg_up; then
  echo "• starting PostgreSQL"
  if command -v pg_ctlcluster >/dev/null; then
    version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n1)
    pg_ctlcluster --skip-systemctl-redirect "${version:-15}" main start || true
  fi
  wait_for PostgreSQL pg_up 30 || { echo "  start it (or run 'docker compose up -d postgres')" >&2; status=1; }
fi
if ! rabbit_up; then
  echo "• starting RabbitMQ"
  command -v rabbitmq-server >/dev/null && rabbitmq-server -detached || true
  wait_for RabbitMQ rabbit_up 60 || { echo "  start it (or run 'docker compose up -d rabbitmq')" >&2; status=1; }
fi
if ! redis_up; then
  echo "• starting Redis"
  command -v redis-server >/dev/null && \
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no || true
  wait_for Redis redis_up 15 || { echo "  start it (or run 'docker compose up -d redis')" >&2; status=1; }
fi
# RabbitMQ accepts TCP before its AMQP app is ready; wait for the app when we can ask it.
if [ $status -eq 0 ] && command -v rabbitmqctl >/dev/null; then
  rabbitmqctl await_startup --timeout 60 >/dev/null 2>&1 || true
fi
[ $status -eq 0 ] && echo "✔ PostgreSQL, RabbitMQ and Redis are answering"
exit $status
