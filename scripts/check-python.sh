#!/usr/bin/env bash
# The lock (uv.lock) is made for one interpreter version, named in .python-version: refuse any other.
set -eu
python="${1:-python3}"
want="$(tr -d '[:space:]' < "$(dirname "$0")/../.python-version")"
if ! have="$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)"; then
  echo "Tandem needs Python $want: '$python' was not found (make PYTHON=/path/to/python$want ...)" >&2
  exit 1
fi
if [ "$have" != "$want" ]; then
  echo "Tandem's lock (uv.lock) is made for Python $want; '$python' is Python $have." >&2
  echo "Run with that version: make PYTHON=python$want ..." >&2
  exit 1
fi
