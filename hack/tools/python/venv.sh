#!/usr/bin/env bash
# Creates (once) a virtualenv with hack/tools/python/requirements.txt installed (pinned, hashed) and
# prints its python. Cached under ~/.cache/partner-center-operator/python/msal-<key>, the key being
# the requirements file's content (and the Python version), so a changed pin builds a new one; a
# second run is a no-op.
#   PCO_CACHE  cache root (default ~/.cache/partner-center-operator)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${PCO_CACHE:-$HOME/.cache/partner-center-operator}
command -v python3 >/dev/null || { echo "python3 (>= 3.9) is required for the MSAL tests" >&2; exit 1; }
key=$( (cat "$here/requirements.txt"; python3 -c 'import sys; print(sys.version)') | sha256sum | cut -c1-12)
venv="$cache/python/msal-$key"
mkdir -p "$cache/python"
# Concurrent test binaries may ask at once: one creates, the others wait.
exec 9>"$cache/python/.lock"
flock 9
if [ ! -f "$venv/.complete" ]; then
  echo "creating $venv ..." >&2
  rm -rf "$venv"
  python3 -m venv "$venv" >&2
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
    --require-hashes --only-binary :all: -r "$here/requirements.txt" >&2
  touch "$venv/.complete"
fi
echo "$venv/bin/python"
