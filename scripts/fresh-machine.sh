#!/usr/bin/env bash
# The fresh machine, without a container daemon: makes a minimal Debian 12
# (bookworm) root with debootstrap, copies the repository into it and runs the
# README's two commands there (bash scripts/demo.sh, then bash scripts/test.sh)
# in a chroot, as the Dockerfiles' steps would on a bare image.  Needs root.
#
#   scripts/fresh-machine.sh [--worktree] [--keep]
#
#   --worktree   copy the working tree (tracked and untracked, not ignored files)
#                instead of HEAD (git archive)
#   --keep       keep the root afterwards (default: removed when all went well)
#
# Environment: FRESH_ROOT (default /var/tmp/layerlaw-fresh), FRESH_MIRROR (the
# Debian mirror; default: the first URIs of this machine's apt sources, else
# http://deb.debian.org/debian), FUZZ_SECONDS (passed to scripts/test.sh).
# This machine's apt sources and settings, /etc/pip.conf and the CA bundle are
# copied in, so apt and pip inside reach what they reach here.  The log is
# FRESH_ROOT.log; the last line says passed or failed and the time taken.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "fresh-machine: needs root (debootstrap, chroot, mounts)" >&2; exit 2; }
src=head keep=0
for a in "$@"; do
    case $a in
    --worktree) src=worktree ;;
    --keep) keep=1 ;;
    *) echo "fresh-machine: unknown option '$a'" >&2; exit 2 ;;
    esac
done
ROOT=${FRESH_ROOT:-/var/tmp/layerlaw-fresh}
LOG=$ROOT.log
MIRROR=${FRESH_MIRROR:-$(sed -n 's/^URIs: *\([^ ]*\).*/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1)}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
if [ -e "$ROOT" ]; then echo "fresh-machine: $ROOT exists; remove it first (and check nothing is mounted under it)" >&2; exit 2; fi

mounted=()
cleanup() {
    local i
    for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount "${mounted[i]}" 2>/dev/null || umount -l "${mounted[i]}" || true; done
    mounted=()
}
trap cleanup EXIT
mnt() { mount "$@"; mounted+=("${!#}"); }

t0=$(date +%s)
exec > >(tee "$LOG") 2>&1
echo "== fresh-machine: $(date -u +%FT%TZ), root $ROOT, mirror $MIRROR, source $src =="
command -v debootstrap >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null; }
debootstrap --variant=minbase --include=ca-certificates bookworm "$ROOT" "$MIRROR" >/dev/null
t1=$(date +%s)
echo "debootstrap: $((t1 - t0)) s, $(du -sh "$ROOT" | cut -f1)"

# this machine's package sources and settings, pip's settings and the CA bundle
rm -f "$ROOT"/etc/apt/sources.list
cp -a /etc/apt/sources.list "$ROOT"/etc/apt/ 2>/dev/null || true
mkdir -p "$ROOT"/etc/apt/sources.list.d "$ROOT"/etc/apt/apt.conf.d "$ROOT"/etc/ssl/certs
cp -a /etc/apt/sources.list.d/*.sources "$ROOT"/etc/apt/sources.list.d/ 2>/dev/null || true
cp -a /etc/apt/sources.list.d/*.list "$ROOT"/etc/apt/sources.list.d/ 2>/dev/null || true
cp -a /etc/apt/apt.conf.d/. "$ROOT"/etc/apt/apt.conf.d/
[ -f /etc/pip.conf ] && cp /etc/pip.conf "$ROOT"/etc/pip.conf
cp -L /etc/ssl/certs/ca-certificates.crt "$ROOT"/etc/ssl/certs/ca-certificates.crt
cp -L /etc/resolv.conf "$ROOT"/etc/resolv.conf 2>/dev/null || true

# the repository: HEAD, or the working tree as git sees it
mkdir -p "$ROOT"/src
if [ $src = head ]; then
    git archive --format=tar HEAD | tar -x -C "$ROOT"/src
else
    git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf - | tar -x -C "$ROOT"/src
fi
echo "repository: $(git rev-parse --short HEAD) ($src), $(du -sh "$ROOT"/src | cut -f1)"

mnt -t proc proc "$ROOT"/proc
mnt -t sysfs sysfs "$ROOT"/sys
# the root's own device nodes (debootstrap made them), never this machine's
# /dev bound in: a command run as root inside must not be able to replace
# this machine's /dev/null
for d in null:1:3 zero:1:5 full:1:7 random:1:8 urandom:1:9 tty:5:0; do
    IFS=: read -r n ma mi <<<"$d"
    [ -c "$ROOT/dev/$n" ] || { rm -f "$ROOT/dev/$n"; mknod -m 666 "$ROOT/dev/$n" c "$ma" "$mi"; }
done
mkdir -p "$ROOT"/dev/pts "$ROOT"/dev/shm
mnt -t devpts -o newinstance,ptmxmode=0666 devpts "$ROOT"/dev/pts
mnt -t tmpfs -o size=2g tmpfs "$ROOT"/dev/shm

rc=0
env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 TERM=dumb \
    FUZZ_SECONDS="${FUZZ_SECONDS:-20}" \
    chroot "$ROOT" /bin/bash -c 'cd /src && t=$(date +%s) && bash scripts/demo.sh && echo "demo.sh: $(( $(date +%s) - t )) s" &&
        t=$(date +%s) && bash scripts/test.sh && echo "test.sh: $(( $(date +%s) - t )) s"' || rc=$?
cleanup
t2=$(date +%s)
if [ $rc -eq 0 ]; then
    echo "fresh-machine: passed in $((t2 - t0)) s (debootstrap $((t1 - t0)) s), FUZZ_SECONDS=${FUZZ_SECONDS:-20}"
    [ $keep = 1 ] || rm -rf --one-file-system "$ROOT"
else
    echo "fresh-machine: FAILED (rc $rc) after $((t2 - t0)) s; the root is kept at $ROOT"
fi
exit $rc
