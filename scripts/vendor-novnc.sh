#!/usr/bin/env bash
# The browser side of the candidates' desktops: noVNC's library (ES modules, with the
# inflate code it ships under vendor/), pinned, fetched with npm (by package name, integrity
# checked by npm) and copied into the package's static files. The result is committed
# (about 750 KB), like xterm.js (scripts/vendor-xterm.sh): an exam host needs no npm. Run
# this to change the version, then commit tai_lab/stations/static/vendor/novnc/.
# `--check` (CI): the committed files are exactly those of the pinned package.
set -euo pipefail
cd "$(dirname "$0")/.."
NOVNC=@novnc/novnc@1.7.0
DEST=tai_lab/stations/static/vendor/novnc
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "$NOVNC" >/dev/null)
mkdir -p "$tmp/n" "$tmp/out"
tar -xzf "$tmp"/novnc-novnc-*.tgz -C "$tmp/n"
cp -r "$tmp/n/package/core" "$tmp/n/package/vendor" "$tmp/out/"
find "$tmp/out/vendor" -type f ! -name '*.js' ! -name LICENSE -delete
cp "$tmp/n/package/LICENSE.txt" "$tmp/out/LICENSE.txt"
cp "$tmp"/n/package/docs/LICENSE.* "$tmp/out/"
printf '%s\n' "$NOVNC" > "$tmp/out/VERSION"
if [ "${1:-}" = "--check" ]; then
  diff -r "$tmp/out" "$DEST" && echo "vendored noVNC matches $NOVNC"
  exit
fi
rm -rf "$DEST"
mkdir -p "$DEST"
cp -r "$tmp"/out/* "$DEST/"
echo "vendored into $DEST:"; du -sh "$DEST"
