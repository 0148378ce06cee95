#!/usr/bin/env bash
# Installs booksync as a systemd service:
#   /opt/booksync                      the built package with its production dependencies
#   /usr/local/bin/booksync            the CLI
#   /etc/systemd/system/booksync.service
#   /etc/booksync/booksync.yaml        an example config (kept if one is already there), mode 0644
#   /etc/booksync/credentials/         a folder (0700) for the secret files LoadCredential= passes
#
# Usage: sudo scripts/install.sh [--destdir DIR] [--no-systemctl]
#   --destdir DIR    install under DIR instead of / (packaging, tests)
#   --no-systemctl   do not run systemctl daemon-reload / enable
set -euo pipefail

destdir=""
run_systemctl=1
while [ $# -gt 0 ]; do
  case "$1" in
    --destdir) destdir="${2:?--destdir needs a folder}"; shift 2 ;;
    --no-systemctl) run_systemctl=0; shift ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown option $1" >&2; exit 64 ;;
  esac
done

src="$(cd "$(dirname "$0")/.." && pwd)"
prefix="$destdir/opt/booksync"

if [ ! -f "$src/dist/src/cli/main.js" ]; then
  echo "building booksync..."
  (cd "$src" && npm ci && npm run build)
fi

echo "installing to $prefix"
rm -rf "$prefix.new"
mkdir -p "$prefix.new"
cp -r "$src/dist" "$src/package.json" "$src/package-lock.json" "$src/README.md" "$prefix.new/"
mkdir -p "$prefix.new/config"
cp "$src/config/"*.yaml "$src/config/"*.json "$prefix.new/config/"
(cd "$prefix.new" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund >/dev/null)
rm -rf "$prefix.old"
[ -d "$prefix" ] && mv "$prefix" "$prefix.old"
mv "$prefix.new" "$prefix"
rm -rf "$prefix.old"

mkdir -p "$destdir/usr/local/bin"
cat > "$destdir/usr/local/bin/booksync" <<'SH'
#!/bin/sh
# As root, `{ file: NAME }` secrets are found where the unit's LoadCredential= lines take them from.
if [ -z "${CREDENTIALS_DIRECTORY:-}" ] && [ -r /etc/booksync/credentials ] && [ -x /etc/booksync/credentials ]; then
  CREDENTIALS_DIRECTORY=/etc/booksync/credentials
  export CREDENTIALS_DIRECTORY
fi
exec /usr/bin/node /opt/booksync/dist/src/cli/main.js "$@"
SH
chmod 0755 "$destdir/usr/local/bin/booksync"

mkdir -p "$destdir/etc/systemd/system"
install -m 0644 "$src/systemd/booksync.service" "$destdir/etc/systemd/system/booksync.service"

# The service's dynamic user must read the config; it holds no secrets (inline secrets are refused),
# those go into credentials/, which only root reads (systemd hands them over by LoadCredential=).
install -d -m 0755 "$destdir/etc/booksync"
install -d -m 0700 "$destdir/etc/booksync/credentials"
config="$destdir/etc/booksync/booksync.yaml"
if [ ! -f "$config" ]; then
  install -m 0644 "$src/config/booksync.example.yaml" "$config"
  echo "wrote an example config to /etc/booksync/booksync.yaml: edit it, then run: booksync check-config"
else
  echo "kept the existing /etc/booksync/booksync.yaml"
  if [ "$(( 0$(stat -c %a "$config") & 04 ))" = 0 ]; then
    chmod o+r "$config"
    echo "made /etc/booksync/booksync.yaml readable by the service's dynamic user (mode now $(stat -c %a "$config"))"
  fi
fi

if [ "$run_systemctl" = 1 ] && [ -z "$destdir" ] && command -v systemctl >/dev/null; then
  systemctl daemon-reload
  echo "installed. Start with: systemctl enable --now booksync   (logs: journalctl -u booksync -f)"
else
  echo "installed (systemctl not run)."
fi
