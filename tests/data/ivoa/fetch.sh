#!/usr/bin/env bash
# The official IVOA UWS 1.1 schema (UWS.xsd, 1.1-REC-20161024) and the xlink schema it
# imports, as Debian ships them in python3-gavo (GAVO DaCHS). Only the two schema files
# are taken from the package: nothing is installed. The UWS tests validate every
# document the server emits against them.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
[ -s "$here/UWS.xsd" ] && [ -s "$here/xlink.xsd" ] && exit 0
command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null || {
    echo "fetch.sh: needs Debian's apt-get and dpkg-deb" >&2; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && apt-get download python3-gavo >/dev/null 2>&1) || {
    [ "$(id -u)" = 0 ] && apt-get update -qq >/dev/null 2>&1 &&
        (cd "$work" && apt-get download python3-gavo >/dev/null 2>&1); } || {
    echo "fetch.sh: could not download python3-gavo (apt-get update first?)" >&2; exit 1; }
dpkg-deb -x "$work"/python3-gavo_*.deb "$work/x"
schemata="$(find "$work/x" -type d -path '*gavo/resources/schemata' | head -1)"
cp "$schemata/UWS.xsd" "$schemata/xlink.xsd" "$here/"
echo "fetch.sh: UWS.xsd and xlink.xsd from $(basename "$work"/python3-gavo_*.deb)"
