# Sourced by the scripts in this directory: everything a fresh Debian/Ubuntu machine needs.
# Idempotent and quiet when all is in place already.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${VENV:-$ROOT/.venv}
PYTHON=${PYTHON:-python3}

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

need_apt=()
command -v pebble >/dev/null 2>&1 || need_apt+=(pebble)
# The examples' tests check shell scripts and systemd units with these.
command -v shellcheck >/dev/null 2>&1 || need_apt+=(shellcheck)
command -v systemd-analyze >/dev/null 2>&1 || need_apt+=(systemd)
"$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1 || need_apt+=(python3-venv)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "== installing Debian packages: ${need_apt[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "== creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi
stamp="$VENV/.installed-$(cat "$ROOT/setup.cfg" "$ROOT/pyproject.toml" | sha256sum | cut -c1-16)"
if [ ! -e "$stamp" ]; then
  echo "== installing the project and its test dependencies into $VENV"
  # uv installs in seconds what takes pip a minute, and makes the other Pythons' virtualenvs
  # (scripts/python-tests); pip only fetches uv itself. --compile-bytecode as pip does: with
  # PYTHONDONTWRITEBYTECODE set, every certbot and hook process would compile its libraries
  # again (certbot --version: 1.5 s instead of 0.6 s).
  "$VENV/bin/python" -m pip install -q uv
  "$VENV/bin/uv" pip install -q --compile-bytecode --python "$VENV/bin/python" -e "${ROOT}[test]"
  rm -f "$VENV"/.installed-*
  touch "$stamp"
fi
export PATH="$VENV/bin:$PATH"
