#!/usr/bin/env bash
# The Python client's checks (npm run test:python, part of npm test): installs the package as a
# user would (pip install, which generates the gRPC stubs from engine/proto) into a virtualenv of
# its own, type-checks the installed package, then runs pytest against real engines (the
# repository's built engine: npm ci first). Needs python3 with venv; grpcio, protobuf, numpy and
# grpcio-tools (at build time) come from PyPI.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="$(realpath -m "${ENGRAM_PYTHON_VENV:-.venv}")"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check ".[test]"
# from outside the source tree, so the checks see the installed package, not src/
(cd tests && "$venv/bin/python" -m mypy --config-file ../pyproject.toml -p engram_stream)
exec "$venv/bin/python" -m pytest "$@"
