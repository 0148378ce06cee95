#!/usr/bin/env bash
# Makes the Debian 12 root that test/integration/systemd-real.test.ts boots with systemd-nspawn
# (systemd 252 as PID 1), once: a finished root is kept and reused.
#
# Usage (as root): scripts/make-test-rootfs.sh [DIR]     default DIR: .cache/debian-bookworm
set -euo pipefail

dest="${1:-$(cd "$(dirname "$0")/.." && pwd)/.cache/debian-bookworm}"
if [ -f "$dest/.complete" ]; then
  echo "test root: reusing $dest"
  exit 0
fi

missing=()
command -v debootstrap >/dev/null || missing+=(debootstrap)
command -v systemd-nspawn >/dev/null || missing+=(systemd-container)
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# The Debian mirror apt already uses (deb822 or one-line sources), else Debian's default.
mirror=$(sed -n 's#^URIs: *\(\S*/debian\)/*$#\1#p; s#^deb \(\[[^]]*\] \)\?\(\S*/debian\)/* bookworm .*#\2#p' \
  /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null | head -n1 || true)
mirror=${mirror:-http://deb.debian.org/debian}

mkdir -p "$(dirname "$dest")"
log="$dest.log"
for attempt in 1 2; do
  rm -rf "$dest.tmp"
  echo "test root: debootstrap bookworm from $mirror (attempt $attempt)"
  if debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus,procps bookworm "$dest.tmp" "$mirror" >"$log" 2>&1; then
    touch "$dest.tmp/.complete"
    rm -rf "$dest"
    mv "$dest.tmp" "$dest"
    echo "test root: ready at $dest"
    exit 0
  fi
done
tail -n 20 "$log" >&2
echo "test root: debootstrap failed (log: $log)" >&2
exit 1
