#!/usr/bin/env bash
# The browser side of the candidates' terminals: xterm.js and its fit addon, pinned,
# fetched with npm (by package name, integrity checked by npm) and copied into the
# package's static files. The result is committed (about 300 KB); run this to change the
# versions, then commit tai_lab/stations/static/vendor/. `--check` (CI): the committed
# files are exactly those of the pinned packages.
set -euo pipefail
cd "$(dirname "$0")/.."
XTERM=@xterm/xterm@5.5.0
FIT=@xterm/addon-fit@0.10.0
DEST=tai_lab/stations/static/vendor
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "$XTERM" "$FIT" >/dev/null)
mkdir -p "$tmp/x" "$tmp/f" "$tmp/out"
tar -xzf "$tmp"/xterm-xterm-*.tgz -C "$tmp/x"
tar -xzf "$tmp"/xterm-addon-fit-*.tgz -C "$tmp/f"
cp "$tmp/x/package/lib/xterm.js" "$tmp/x/package/css/xterm.css" "$tmp/out/"
cp "$tmp/x/package/LICENSE" "$tmp/out/xterm.LICENSE"
cp "$tmp/f/package/lib/addon-fit.js" "$tmp/out/"
cp "$tmp/f/package/LICENSE" "$tmp/out/addon-fit.LICENSE"
printf '%s\n%s\n' "$XTERM" "$FIT" > "$tmp/out/VERSIONS"
if [ "${1:-}" = "--check" ]; then
  diff -r "$tmp/out" "$DEST" && echo "vendored xterm.js matches $XTERM, $FIT"
  exit
fi
rm -rf "$DEST"
mkdir -p "$DEST"
cp "$tmp"/out/* "$DEST/"
echo "vendored into $DEST:"; ls -la "$DEST"
