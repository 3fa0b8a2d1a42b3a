#!/usr/bin/env bash
# Provisions the isodemo VM (Ubuntu 24.04; also works on Debian 12). Idempotent: run it again and nothing
# changes. Vagrant runs it as root with the synced repository as $1.
#
# 1. setup.sh: the packages, a venv in /opt/isodemo/venv with isodemo installed editable from the synced
#    folder (edits on the host take effect at once), /usr/local/bin/isodemo for `sudo isodemo`.
# 2. Unprivileged user namespaces for this teaching VM (see below).
# 3. A login message that says what to run first.
set -euo pipefail

repo=${1:-/isodemo}
etc=${ISODEMO_ETC:-/etc}  # tests point this at a scratch directory

bash "$repo/setup.sh"  # not ./setup.sh: some synced folders drop the exec bit

# Ubuntu 23.10+ lets unprivileged processes create user namespaces only under an AppArmor profile that
# allows it (kernel.apparmor_restrict_unprivileged_userns=1). `isodemo user` and the rootless demos show
# what user namespaces do, so this teaching VM turns the restriction off. Do not copy this to a server:
# it is there to reduce the attack surface that user namespaces open. `isodemo user` explains both sides.
sysctl_file="$etc/sysctl.d/60-isodemo-userns.conf"
mkdir -p "$(dirname "$sysctl_file")"
want="kernel.apparmor_restrict_unprivileged_userns = 0"
if [ "$(cat "$sysctl_file" 2>/dev/null)" != "$want" ]; then
  printf '%s\n' "$want" > "$sysctl_file"
fi
if [ "$etc" = /etc ] && [ -e /proc/sys/kernel/apparmor_restrict_unprivileged_userns ]; then
  sysctl -q -p "$sysctl_file"
fi

motd="$etc/motd"
message="Welcome to the isodemo VM: a Linux kernel of your own to take containers apart.

  isodemo list                       the demos, in learning order
  sudo isodemo pid                   the first one
  /isodemo/demos/walkthrough         the guided tour, chapter by chapter
  isodemo doctor                     what this machine supports

The repository is synced at /isodemo: edit on your host, run here."
if [ "$(cat "$motd" 2>/dev/null)" != "$message" ]; then
  printf '%s\n' "$message" > "$motd"
fi
echo "provisioned: $(command -v isodemo)"
