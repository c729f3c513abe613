#!/usr/bin/env bash
# The whole test suite, on a fresh Debian machine: installs and starts what the tests need, then
# runs every test (unit, integration against real PostgreSQL, MariaDB, SMTP and Prometheus, and
# the alert-rule tests), then builds, installs and purges the Debian package.
set -euo pipefail
cd "$(dirname "$0")/.."

export HCC_TEST_ENV="${HCC_TEST_ENV:-target/test-env.sh}"
bash scripts/test-deps.sh
# shellcheck source=/dev/null
source "$HCC_TEST_ENV"

# Benchmarks are left out on purpose: they measure, they do not test (see docs/performance.md).
cargo test --locked --lib --bins --tests

if compgen -G "alerts/*.yml" >/dev/null; then
    promtool check rules alerts/*.yml
fi
if compgen -G "alerts/tests/*.yml" >/dev/null; then
    promtool test rules alerts/tests/*.yml
fi
# The example Alertmanager config, with the office hours `hcc-monitor calendar` generated
# (tests/it/cli.rs checks that they are current).
amtool check-config alerts/alertmanager/alertmanager.example.yml

# The Debian package: built, linted, installed, run as its user and purged. It installs a system
# package and user, so it needs root (the CI machine is root) or sudo.
bash scripts/test-package.sh
