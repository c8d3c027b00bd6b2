#!/usr/bin/env bash
# Installs everything georeplica needs on a fresh Debian 12 machine, idempotently:
# Debian packages, Redis and NATS (started if not answering), npm packages (librdkafka built
# from source against Debian's libraries) and the JVM servers fetched from Maven Central.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[setup] %s\n' "$*"; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# 1. Debian packages. librdkafka's dynamic build needs the -dev libraries; Maven and a JDK
#    fetch and run Kafka; docker-compose (v1, client only) checks docker-compose.regions.yml;
#    chromium renders the router's status page in its test (driven by playwright-core).
APT_PACKAGES=(build-essential python3 pkg-config libssl-dev libsasl2-dev libzstd-dev liblz4-dev
  zlib1g-dev libcurl4-openssl-dev maven openjdk-17-jdk-headless redis-server redis-tools nats-server
  docker-compose chromium)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing Debian packages: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# OpenSearch 3 needs a JDK 21+; Debian 12 ships only 17, so one must already be under /usr/lib/jvm
# (this machine kind has Temurin) or be named by GEOREPLICA_OPENSEARCH_JAVA_HOME.
if [ -z "${GEOREPLICA_OPENSEARCH_JAVA_HOME:-}" ]; then
  found=""
  for home in /usr/lib/jvm/*; do
    v=$(sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$home/release" 2>/dev/null || true)
    if [ -n "$v" ] && [ "$v" -ge 21 ]; then found="$home"; fi
  done
  if [ -z "$found" ]; then
    echo "[setup] no JDK 21+ under /usr/lib/jvm for OpenSearch 3; install one or set GEOREPLICA_OPENSEARCH_JAVA_HOME" >&2
    exit 1
  fi
fi

# 2. Redis and NATS JetStream, as the machine image starts them, when they are not answering.
tcp_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }
if ! tcp_open 127.0.0.1 6379; then
  log 'starting redis-server on 127.0.0.1:6379'
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save '' --appendonly no --dir /var/lib/redis --logfile /var/log/redis/georeplica.log
fi
if ! tcp_open 127.0.0.1 4222; then
  log 'starting nats-server (JetStream) on 127.0.0.1:4222'
  mkdir -p /var/lib/nats-server
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log
fi
for i in $(seq 1 50); do tcp_open 127.0.0.1 6379 && tcp_open 127.0.0.1 4222 && break; sleep 0.2; done

# 3. npm packages. CKJS_LINKING=dynamic builds librdkafka against Debian's OpenSSL, zstd, lz4...
#    (the prebuilt download and the default static build both fail here). Skipped when the
#    lockfile has not changed since the last successful install.
lock_hash=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ "$(cat node_modules/.georeplica-lock 2>/dev/null || true)" != "$lock_hash" ]; then
  log 'npm ci (builds librdkafka, about a minute)'
  CKJS_LINKING=dynamic npm ci --no-audit --no-fund
  node -e "require('@confluentinc/kafka-javascript')" || { echo '[setup] the Kafka client failed to load' >&2; exit 1; }
  echo "$lock_hash" > node_modules/.georeplica-lock
fi

# 4. The JVM servers (Kafka 4, OpenSearch 3) from Maven Central, per the poms in jvm/.
./bin/georeplica fetch
log 'ready'
