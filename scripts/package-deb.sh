#!/usr/bin/env bash
# Builds the Debian package from this repository with dpkg-deb (no tool to download): the release
# binary, stripped; the config as a conffile; dashboards, alert rules, runbooks and templates;
# the systemd unit and the maintainer scripts from packaging/debian/.
#
#   scripts/package-deb.sh            writes target/debian/hcc-monitor_<version>-1_<arch>.deb
#   HCC_DEB_NO_BUILD=1 ...            packages the release binary already in target/
#
# The debug information stripped from the binary is kept beside the package
# (target/debian/hcc-monitor.debug), for `addr2line` on a crash address; it is not shipped.
set -euo pipefail
cd "$(dirname "$0")/.."

target="${CARGO_TARGET_DIR:-target}"
out="target/debian"
version="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)-1"
arch="$(dpkg --print-architecture)"
maintainer="${DEB_MAINTAINER:-hcc-monitor maintainers <maintainers@users.noreply.r-seed-5e328c03.example>}"
# Reproducible: file dates and the changelog's date are the last commit's.
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct)}"

if [ -z "${HCC_DEB_NO_BUILD:-}" ]; then
    cargo build --release --locked --bin hcc-monitor
fi
binary="$target/release/hcc-monitor"

root="$out/root"
rm -rf "$root"
mkdir -p "$root/DEBIAN" "$root/usr/bin" "$root/etc/hcc-monitor" "$root/lib/systemd/system" \
    "$root/usr/share/hcc-monitor/docs" "$root/usr/share/doc/hcc-monitor/examples"

objcopy --only-keep-debug "$binary" "$out/hcc-monitor.debug"
# .comment only names the compilers; dh_strip removes it too.
strip --strip-all --remove-section=.comment -o "$root/usr/bin/hcc-monitor" "$binary"
chmod 0755 "$root/usr/bin/hcc-monitor"
# A target folder shared with other checkouts may hold another revision's build.
built="$("$root/usr/bin/hcc-monitor" --version)"
[[ "$built" == *"(git $(git rev-parse --short=12 HEAD)"* ]] || {
    echo "package-deb: $binary is not this checkout's build ($built); build it again" >&2
    exit 1
}

install -m 0644 packaging/debian/hcc-monitor.toml "$root/etc/hcc-monitor/hcc-monitor.toml"
# /lib, not /usr/lib: where systemd and lintian of Debian 12 expect packaged units.
install -m 0644 packaging/debian/hcc-monitor.service "$root/lib/systemd/system/"
cp -r dashboards alerts templates "$root/usr/share/hcc-monitor/"
install -m 0644 docs/runbooks.md "$root/usr/share/hcc-monitor/docs/"

doc="$root/usr/share/doc/hcc-monitor"
install -m 0644 packaging/debian/copyright "$doc/"
install -m 0644 README.md "$doc/"
install -m 0644 hcc-monitor.example.toml "$doc/examples/"
gzip -9n <CHANGELOG.md >"$doc/changelog.gz"
{
    echo "hcc-monitor ($version) unstable; urgency=medium"
    echo
    echo "  * Built from git $(git rev-parse --short=12 HEAD); see changelog.gz."
    echo
    echo " -- $maintainer  $(date -R -u -d "@$SOURCE_DATE_EPOCH")"
} | gzip -9n >"$doc/changelog.Debian.gz"

find "$root" -type d -exec chmod 0755 {} +
find "$root/usr/share" "$root/etc" -type f -exec chmod 0644 {} +
for script in postinst prerm postrm; do
    install -m 0755 "packaging/debian/$script" "$root/DEBIAN/$script"
done
echo /etc/hcc-monitor/hcc-monitor.toml >"$root/DEBIAN/conffiles"

# The shared libraries the binary links (libc, libgcc), as dpkg-shlibdeps finds them; it reads
# a debian/control, so it runs in a scratch folder.
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
mkdir "$scratch/debian"
printf 'Source: hcc-monitor\n\nPackage: hcc-monitor\nArchitecture: any\n' >"$scratch/debian/control"
shlibs="$(cd "$scratch" && dpkg-shlibdeps -O "$OLDPWD/$root/usr/bin/hcc-monitor" 2>/dev/null |
    sed -n 's/^shlibs:Depends=//p')"

(cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z |
    xargs -0 md5sum >DEBIAN/md5sums)
installed_size="$(du -sk --exclude=DEBIAN "$root" | cut -f1)"
cat >"$root/DEBIAN/control" <<CONTROL
Package: hcc-monitor
Version: $version
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $installed_size
Depends: $shlibs, adduser, init-system-helpers (>= 1.54~)
Section: admin
Priority: optional
Description: SLA and observability service for public administration centres
 hcc-monitor polls the dossier databases of a Vietnamese public administration
 service centre, computes every dossier's deadline in working time, exports
 SLA, equipment and software metrics for Prometheus and sends escalation
 emails and scheduled reports.
 .
 The package runs it as a hardened systemd service under its own user, with
 its SQLite store in /var/lib/hcc-monitor, and ships Grafana dashboards,
 Prometheus alert rules with their runbooks, and the email templates.
CONTROL

deb="$out/hcc-monitor_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "built $deb ($(du -h "$deb" | cut -f1)); /usr/bin/hcc-monitor stripped: $(stat -c %s "$root/usr/bin/hcc-monitor") bytes (unstripped $(stat -c %s "$binary"))"
