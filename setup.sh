#!/usr/bin/env bash
# Sets isodemo up on Debian 12+ / Ubuntu 22.04+: the packages its demos use, a virtual environment, and
# the `isodemo` command in /usr/local/bin so that `sudo isodemo ...` works. Safe to run again.
#
#   sudo ./setup.sh          what the demos need
#   sudo ./setup.sh --dev    also the test, lint and type-check tools (what tests/run needs)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
venv=${ISODEMO_VENV:-/opt/isodemo/venv}
command=${ISODEMO_COMMAND:-/usr/local/bin/isodemo}  # on sudo's PATH; tests point this at a scratch file
# The distribution's python3, not a per-user one (pyenv under /root): the venv must work for every user.
python=${ISODEMO_PYTHON:-/usr/bin/python3}
extras=""
[ "${1:-}" = "--dev" ] && extras="[dev]"

if [ "$(id -u)" -ne 0 ]; then
  echo "setup.sh installs packages: run it with sudo ./setup.sh $*" >&2
  exit 77
fi

packages=(python3 python3-venv busybox-static iproute2 util-linux procps nftables libseccomp2)
# runc: the reference container of tests/runcref.py; podman (with conmon): the real pod tests/root/test_inspect_podman.py
# compares `isodemo inspect` with; gettext: msgfmt -c checks the Korean catalog (tests/unit/test_translations.py).
[ -n "$extras" ] && packages+=(shellcheck vagrant strace runc podman gettext)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if [ ! -x "$venv/bin/python" ]; then
  echo "creating $venv with $python"
  mkdir -p "$(dirname "$venv")"
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install -q --upgrade pip
fi
# Install only when needed, so that running this again changes nothing and needs no network.
source_dir=$("$venv/bin/python" -c 'import isodemo, os; print(os.path.dirname(os.path.dirname(isodemo.__file__)))' \
  2>/dev/null || true)
dev_tools=yes
[ -n "$extras" ] && ! "$venv/bin/python" -c 'import pytest, hypothesis, mypy, ruff' 2>/dev/null && dev_tools=no
# A changed pyproject.toml (a new dependency after a git pull) or translation (the build compiles the .po
# files into the catalogs gettext reads) also means: install again.
stamp="$venv/.isodemo-pyproject.sha256"
wanted_stamp=$(cat "$here/pyproject.toml" "$here"/src/isodemo/locale/*/LC_MESSAGES/*.po 2>/dev/null | sha256sum | cut -d' ' -f1)
if [ "$source_dir" != "$here/src" ] || [ "$dev_tools" = no ] || [ "$(cat "$stamp" 2>/dev/null)" != "$wanted_stamp" ]; then
  "$venv/bin/python" -m pip install -q -e "$here$extras"
  printf '%s\n' "$wanted_stamp" > "$stamp"
fi
# The command: not a link to the venv's console script, which starts Python with site (~1 ms of a run: the
# venv's .pth files, sitecustomize), but a launcher that starts it without, with the directory holding isodemo on
# sys.path (src/isodemo/launcher.py says why and writes it). Replaced whole (mv), and only when it differs.
launcher=$("$venv/bin/python" -m isodemo.launcher)
if [ -L "$command" ] || [ "$(cat "$command" 2>/dev/null)" != "$launcher" ]; then
  new=$(mktemp "$(dirname "$command")/.isodemo.XXXXXX")
  printf '%s\n' "$launcher" > "$new"
  chmod 755 "$new"
  mv -f "$new" "$command"
fi
echo "isodemo is ready: $command ($("$venv/bin/python" --version))"
