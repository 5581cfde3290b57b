#!/usr/bin/env bash
# Build the wheel, install it into a fresh venv and run it from another directory:
# the bundled data must be found inside the installed package, not in this checkout.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3 -m pip wheel --quiet --no-deps --wheel-dir "$work/dist" "$repo"
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet "$work"/dist/tariffcalc-*.whl
cd "$work"
"$work/venv/bin/tariffcalc" validate
out="$("$work/venv/bin/tariffcalc" rate --date 2025-04-12 --format json)"
echo "$out" | "$work/venv/bin/python" -c '
import json, sys
data = json.load(sys.stdin)
heads = {d["imposer"]: d["headline_rate"] for d in data["directions"]}
assert heads == {"US": 145.0, "CN": 125.0}, heads
print("wheel ok: headline US 145, CN 125 on 2025-04-12 from", sys.prefix)
'
"$work/venv/bin/python" -c 'import tariffcalc.loader as l; p = l.bundled_data_dir(); assert "site-packages" in str(p), p; print("data at", p)'
