#!/usr/bin/env bash
# Installs what the tests need (Python packages; Debian's chromium for the browser test and
# bubblewrap for the sandbox, when running as root), checks lint, format and types, then runs
# the whole suite. CI runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=""
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
command -v bwrap >/dev/null 2>&1 || missing="$missing bubblewrap"
if [ -n "$missing" ]; then
  if [ "$(id -u)" = 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null
    # shellcheck disable=SC2086
    apt-get install -y -q $missing >/dev/null
  else
    echo "missing:$missing; install these Debian packages (browser test, sandbox)" >&2
  fi
fi

# CI also installs the local-model extra (llama-cpp-python compiles from source, which takes a
# long time once per machine); elsewhere its tests skip unless it is installed.
extras="dev"
if [ -n "${CI:-}" ] || python -c "import llama_cpp" >/dev/null 2>&1; then
  extras="dev,local"
fi
# The JupyterLab extension: pip's build hook builds it when it is missing; rebuild it here when
# its source is newer than the build (the browser tests load the built one).
if command -v npm >/dev/null 2>&1 && [ -f agent_magic/labextension/package.json ] \
    && { [ ! -f agent_magic/ui/static/review.js ] \
      || [ -n "$(find js/src js/package.json -newer agent_magic/labextension/package.json)" ] \
      || [ -n "$(find js/src -newer agent_magic/ui/static/review.js)" ]; }; then
  (cd js && npm ci --no-audit --no-fund --loglevel=error && npm run build >/dev/null)
fi
python -m pip install -q --disable-pip-version-check -e ".[$extras]"

# Lint, format and types before the tests (seconds, not minutes): the first failure stops here
# and says which command to run.
check() {
  local what="$1"
  shift
  echo "scripts/test.sh: $what: $*" >&2
  if ! "$@"; then
    echo "scripts/test.sh: $what failed; run \`$*\` and fix what it reports (no test ran)" >&2
    exit 1
  fi
}
check "lint" python -m ruff check .
check "format" python -m ruff format --check .
check "types" python -m mypy agent_magic

# pytest exits 5 when it collected no test: that is a failure here, not a pass.
set +e
python -m pytest "$@"
status=$?
set -e
if [ "$status" = 5 ]; then
  echo "no tests were collected" >&2
  exit 1
fi
exit "$status"
