#!/usr/bin/env bash
# Checks (and, as root on Debian, installs) what Pulih needs on a machine without Docker:
# Python 3.11, Java 17 with Maven (Kafka from Maven Central), PostgreSQL 15 server binaries,
# Node's npm (region data, the dashboard's charts), Chromium (the dashboard's browser test) and a
# C compiler (suppression's loops, services/reporting/native.c, built by `pip install`).
set -euo pipefail

missing=()
python3 -c 'import sys; assert sys.version_info[:2] == (3, 11)' 2>/dev/null || missing+=(python3.11 python3.11-venv)
command -v java >/dev/null || missing+=(openjdk-17-jre-headless)
command -v mvn >/dev/null || missing+=(maven)
command -v npm >/dev/null || missing+=(nodejs npm)  # region data (registry), ECharts (dashboard)
# The browser test drives this Chromium through Playwright; `playwright install` cannot download.
command -v chromium >/dev/null || missing+=(chromium)
command -v cc >/dev/null || missing+=(gcc libc6-dev)
if ! { command -v pg_config >/dev/null && [ -x "$(pg_config --bindir)/initdb" ]; } \
   && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  missing+=(postgresql-15)
fi

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
  echo "bootstrap: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
else
  echo "bootstrap: please install: ${missing[*]} (or point KAFKA_BOOTSTRAP_SERVERS and" \
       "PULIH_TEST_POSTGRES_URL at existing servers, or use Docker)" >&2
  exit 1
fi
