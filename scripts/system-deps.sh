#!/usr/bin/env bash
# Debian packages the tests need: Chromium (browser tests), PostGIS for PostgreSQL 15 (production storage path),
# a CJK font for readable screenshots.
# Installs only what is missing; needs root (CI runs as root). Safe to run again.
set -euo pipefail
need=()
[ -x /usr/bin/chromium ] || need+=(chromium chromium-driver)
[ -f /usr/share/postgresql/15/extension/postgis.control ] || need+=(postgresql-15-postgis-3)
command -v pg_ctlcluster >/dev/null || need+=(postgresql-15 postgresql-common)
command -v npm >/dev/null || need+=(npm)
# a small CJK font so that browser screenshots of the zh-CN pages are readable (phones bring their own fonts)
[ -d /usr/share/fonts/truetype/wqy ] || need+=(fonts-wqy-microhei)
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" != "0" ]; then
  echo "missing Debian packages: ${need[*]}; install them with: sudo apt-get install -y ${need[*]}" >&2
  exit 1
fi
echo "installing Debian packages: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq || true
apt-get install -y -qq "${need[@]}" >/dev/null
