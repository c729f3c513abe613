#!/usr/bin/env bash
# The Debian package, end to end on this machine (as root, or with sudo): builds it, checks it
# with lintian and systemd-analyze, installs it, runs check-config, migrate and backup as the
# service's user, checks the owners and modes of what it created, then purges it and checks that
# the user, the config and the state are gone. It installs and removes a system package and a
# system user: run it on a test machine.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
fail() { echo "test-package: $*" >&2; exit 1; }
started=$SECONDS

# Expect an owner:group and an octal mode, e.g. expect_stat root:hcc-monitor 640 FILE.
expect_stat() {
    local got
    got="$(as_root stat -c '%U:%G %a' "$3")"
    [ "$got" = "$1 $2" ] || fail "$3 is $got, expected $1 $2"
}

if dpkg-query -W -f='${Status}' hcc-monitor 2>/dev/null | grep -q installed; then
    fail "hcc-monitor is already installed here; purge it first (dpkg --purge hcc-monitor)"
fi
! getent passwd hcc-monitor >/dev/null || fail "a user hcc-monitor already exists"

build_log="$(bash scripts/package-deb.sh)"
echo "$build_log"
deb="$(sed -n 's/^built \([^ ]*\.deb\).*/\1/p' <<<"$build_log")"
[ -f "$deb" ] || fail "no package built"

# Errors fail the test; warnings (e.g. no manual page) are shown.
lintian --fail-on error --tag-display-limit 0 "$deb"

purge() { as_root dpkg --purge hcc-monitor >/dev/null; }
as_root dpkg -i "$deb" >/dev/null
trap 'purge 2>/dev/null || true' EXIT

if command -v systemd-analyze >/dev/null; then
    # Offline: checks the unit's syntax, that ExecStart exists, and the directives' values. A
    # value it cannot parse is only a warning ("ignoring") with exit code 0: any output fails.
    verify="$(as_root systemd-analyze verify /lib/systemd/system/hcc-monitor.service 2>&1)" ||
        fail "systemd-analyze verify: $verify"
    [ -z "$verify" ] || fail "systemd-analyze verify: $verify"
fi

getent passwd hcc-monitor >/dev/null || fail "no user hcc-monitor"
entry="$(getent passwd hcc-monitor)"
uid="$(cut -d: -f3 <<<"$entry")"
[ "$uid" -lt 1000 ] || fail "hcc-monitor is not a system user (uid $uid)"
[[ "$entry" == *:/var/lib/hcc-monitor:/usr/sbin/nologin ]] || fail "unexpected passwd entry: $entry"
getent group hcc-monitor >/dev/null || fail "no group hcc-monitor"

expect_stat root:root 755 /usr/bin/hcc-monitor
file -b /usr/bin/hcc-monitor | grep -q ', stripped' || fail "/usr/bin/hcc-monitor is not stripped"
expect_stat root:hcc-monitor 640 /etc/hcc-monitor/hcc-monitor.toml
expect_stat hcc-monitor:hcc-monitor 700 /var/lib/hcc-monitor
for shipped in dashboards/centre-overview.json alerts/hcc-monitor.rules.yml docs/runbooks.md \
    templates/digest.html; do
    expect_stat root:root 644 "/usr/share/hcc-monitor/$shipped"
done
dpkg-query -W -f='${Conffiles}' hcc-monitor | grep -q /etc/hcc-monitor/hcc-monitor.toml ||
    fail "the config is not a conffile"

as_hcc() { as_root runuser -u hcc-monitor -- "$@"; }
as_hcc hcc-monitor --version
as_hcc hcc-monitor check-config /etc/hcc-monitor/hcc-monitor.toml
# The user can create its store in the state folder and back it up there.
as_hcc hcc-monitor migrate --config /etc/hcc-monitor/hcc-monitor.toml
as_hcc hcc-monitor backup --config /etc/hcc-monitor/hcc-monitor.toml --to /var/lib/hcc-monitor/backup.db
expect_stat hcc-monitor:hcc-monitor 600 /var/lib/hcc-monitor/backup.db
# Nobody else may read the store: not even list the folder that holds it.
if as_root runuser -u nobody -- ls /var/lib/hcc-monitor >/dev/null 2>&1; then
    fail "another user can read /var/lib/hcc-monitor"
fi

if [ -d /run/systemd/system ]; then
    # Type=notify: start returns once the service listens with its store migrated.
    as_root systemctl start hcc-monitor.service
    (exec 3<>/dev/tcp/127.0.0.1/9464) 2>/dev/null || fail "the started service does not listen"
    expect_stat hcc-monitor:hcc-monitor 600 /var/lib/hcc-monitor/store.db
    as_root systemctl stop hcc-monitor.service
else
    echo "systemd is not running here: the unit is verified, not started"
fi

purge
trap - EXIT
! getent passwd hcc-monitor >/dev/null || fail "the user hcc-monitor is left after purge"
! getent group hcc-monitor >/dev/null || fail "the group hcc-monitor is left after purge"
for gone in /usr/bin/hcc-monitor /etc/hcc-monitor /var/lib/hcc-monitor /usr/share/hcc-monitor \
    /lib/systemd/system/hcc-monitor.service; do
    [ ! -e "$gone" ] || fail "$gone is left after purge"
done
! dpkg-statoverride --list /etc/hcc-monitor/hcc-monitor.toml >/dev/null || fail "statoverride left"

echo "package test passed in $((SECONDS - started)) s"
