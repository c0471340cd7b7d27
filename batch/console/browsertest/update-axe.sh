#!/usr/bin/env bash
# Refreshes the vendored axe-core (npm axe-core, MPL-2.0) that the browser
# tests inject into every page: its minified script, its licences and its
# version, from the npm registry's tarball of the version given (or the
# latest). Review the diff, then run the browser tests.
#
#   batch/console/browsertest/update-axe.sh [VERSION]
set -euo pipefail
cd "$(dirname "$0")"
version="${1:-$(npm view axe-core version)}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "axe-core@$version" >/dev/null && tar xzf axe-core-*.tgz)
dst=testdata/axe-core
mkdir -p "$dst"
cp "$tmp/package/axe.min.js" "$tmp/package/LICENSE" "$tmp/package/LICENSE-3RD-PARTY.txt" "$dst/"
echo "$version" > "$dst/VERSION"
echo "axe-core $version in $dst"
