#!/bin/sh
# Refresh the vendored NHS.UK frontend (npm nhsuk-frontend, MIT) from the
# npm registry: its compiled CSS and JavaScript and the images its CSS
# refers to. The CSS is rewritten so that no request leaves the hub: the
# @font-face rules that load Frutiger from assets.nhs.uk are removed and
# the Frutiger family is replaced by a system font stack.
#
# Usage (from anywhere): batch/console/assets/refresh.sh [VERSION]
# Then review the diff, run the console's tests and commit.
set -eu

version=${1:-$(cat "$(dirname "$0")/nhsuk/VERSION")}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

(cd "$work" && npm pack --silent "nhsuk-frontend@$version" >/dev/null && tar xzf "nhsuk-frontend-$version.tgz")
pkg=$work/package
license=$(node -p "require('$pkg/package.json').license")
if [ "$license" != "MIT" ]; then
	echo "nhsuk-frontend $version is licensed $license, not MIT: not vendored" >&2
	exit 1
fi

dist=$pkg/dist/nhsuk
out=$here/nhsuk
rm -rf "$out" "$here/images"
mkdir -p "$out" "$here/images"

stack='system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",arial,sans-serif'
sed -e 's/@font-face{font-family:Frutiger W01;[^}]*}//g' \
	-e "s/font-family:Frutiger W01,arial,sans-serif/font-family:$stack/g" \
	-e "s/font-family:Frutiger W01/font-family:$stack/g" \
	-e 's#/\*\# sourceMappingURL=[^*]*\*/##' \
	"$dist/nhsuk-frontend.min.css" >"$out/nhsuk-frontend.min.css"
sed -e 's#//\# sourceMappingURL=.*$##' "$dist/nhsuk-frontend.min.js" >"$out/nhsuk-frontend.min.js"

# The images the CSS refers to (url(/assets/images/...)), and the favicon.
for img in $(grep -o 'url(/assets/images/[^)]*)' "$out/nhsuk-frontend.min.css" | sed 's#url(/assets/images/##; s#)##' | sort -u) favicon.ico favicon.svg; do
	cp "$dist/assets/images/$img" "$here/images/$img"
done

if grep -n 'https\?://' "$out/nhsuk-frontend.min.css"; then
	echo "the CSS still refers to another origin (above): fix this script" >&2
	exit 1
fi

echo "$version" >"$out/VERSION"
# The npm package carries no licence file; the repository's is kept here.
cat >"$out/LICENSE" <<'LICENSE'
MIT License

Copyright (c) 2019 NHS.UK

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
LICENSE
echo "nhsuk-frontend $version vendored into $out"
