#!/usr/bin/env bash
# Fails with a clear message unless the given interpreter is Python 3.11 or 3.12.
set -euo pipefail
py="${1:-}"
if [ -z "$py" ] || ! "$py" -c 'import sys; sys.exit(0 if (3, 11) <= sys.version_info[:2] <= (3, 12) else 1)' 2>/dev/null; then
  echo "BranchOps needs Python 3.11 or 3.12 (Django 5.2 LTS); found: ${py:-none}." >&2
  echo "Install it (e.g. apt-get install python3.11 python3.11-venv) or run: make PYTHON=/path/to/python3.11" >&2
  exit 1
fi
