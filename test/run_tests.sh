#!/usr/bin/env bash
# The whole test suite of seller_analytics; `make test` runs it.
#
#   1. installs the Debian packages it needs when they are missing
#      (apt-get; through sudo when not run as root)
#   2. builds the extension with -Wall -Wextra -Werror -DUSE_ASSERT_CHECKING
#      (make clean, make WERROR=1) and installs it (sudo when not root)
#   3. C unit tests (ASan+UBSan, then valgrind) and the libFuzzer harnesses
#      (FUZZ_SECONDS in all, default 60)
#   4. in a throw-away cluster (pg_virtualenv, with pg_cron and seller_analytics
#      preloaded):
#      the pg_regress tests, the isolation tests and the scripts test/sql/*.sh
#   5. prints the diffs of failed tests and a last line "N passed, N failed",
#      counting the groups build, unit, fuzz, regress, isolation and scripts;
#      exits non-zero if any failed.
#
# Works as root (CI) and as an ordinary user with sudo.  The database tests
# run from a copy of the tree in a temporary directory, owned by the user the
# tests run as: the invoking user, or postgres when run as root, so that the
# server and pg_regress can read and write everything they need wherever the
# checkout lives.  Their output (results/, regression.diffs, regression.out,
# output_iso/) is copied back to the top of the tree.
#
# Environment: PG_CONFIG (default: PostgreSQL 15's pg_config), FUZZ_SECONDS,
# JOBS (parallel make jobs, default: number of CPUs).
set -euo pipefail

PG_MAJOR=15

# ---------------------------------------------------------------------------
# Stage run inside pg_virtualenv (from the temporary copy):
#   run_tests.sh --in-virtualenv STATUS_FILE
if [ "${1:-}" = "--in-virtualenv" ]; then
	status_file=$2
	cd "$(dirname "${BASH_SOURCE[0]}")/.."
	export PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/$PG_MAJOR/bin/pg_config}
	rc=0
	echo "server: $(psql -XAtc 'select version()' postgres) on ${PGHOST}:${PGPORT} as ${PGUSER}"

	# run_group NAME GLOB COMMAND...: run COMMAND when GLOB matches anything,
	# and record NAME as passed, failed or skipped
	run_group() {
		local name=$1 glob=$2
		shift 2
		if ! compgen -G "$glob" >/dev/null; then
			echo "=== $name: none ($glob) yet, skipped"
			echo "$name skipped" >>"$status_file"
		elif echo "=== $name" && "$@"; then
			echo "$name passed" >>"$status_file"
		else
			echo "$name failed" >>"$status_file"
			rc=1
		fi
	}

	# every test/sql/*.sh, all of them even after a failure
	run_scripts() {
		local failed=0
		for script in test/sql/*.sh; do
			echo "--- $script"
			if bash "$script"; then
				echo "ok: $script"
			else
				echo "FAIL: $script (exit status $?)"
				failed=1
			fi
		done
		return "$failed"
	}

	run_group regress 'sql/*.sql' \
		make --no-print-directory installcheck-regress PG_CONFIG="$PG_CONFIG"
	run_group isolation 'specs/*.spec' \
		make --no-print-directory installcheck-isolation PG_CONFIG="$PG_CONFIG"
	run_group scripts 'test/sql/*.sh' run_scripts
	exit "$rc"
fi

# ---------------------------------------------------------------------------
# Main run.

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)

export PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/$PG_MAJOR/bin/pg_config}
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}
export DEBIAN_FRONTEND=noninteractive

if [ "$(id -u)" -eq 0 ]; then
	SUDO=()
else
	SUDO=(sudo)
fi

as_root() {
	if [ ${#SUDO[@]} -gt 0 ] && ! command -v sudo >/dev/null 2>&1; then
		echo "error: '$*' needs root, and sudo is not installed" >&2
		return 1
	fi
	"${SUDO[@]}" "$@"
}

passed=()
failed=()
skipped=()
record() {			# record GROUP passed|failed|skipped
	case $2 in
		passed) passed+=("$1") ;;
		failed) failed+=("$1") ;;
		*) skipped+=("$1") ;;
	esac
}

start=$(date +%s)
section() {
	echo
	echo "==== $* [$(( $(date +%s) - start ))s]"
}

# --- 1. packages -----------------------------------------------------------
section "packages"
packages=(
	"postgresql-$PG_MAJOR" "postgresql-server-dev-$PG_MAJOR"
	"postgresql-$PG_MAJOR-cron" "postgresql-$PG_MAJOR-tdigest"
	postgresql-common clang libclang-rt-14-dev valgrind make gcc
	pgbouncer gnuplot-nox
)
missing=()
for pkg in "${packages[@]}"; do
	if ! dpkg-query -W -f='${Status}\n' "$pkg" 2>/dev/null | grep -qx 'install ok installed'; then
		missing+=("$pkg")
	fi
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "installing: ${missing[*]}"
	as_root env DEBIAN_FRONTEND=noninteractive apt-get update
	as_root env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y --no-install-recommends "${missing[@]}"
else
	echo "all present: ${packages[*]}"
fi
if [ ! -x "$PG_CONFIG" ] && ! command -v "$PG_CONFIG" >/dev/null 2>&1; then
	echo "error: $PG_CONFIG not found" >&2
	exit 1
fi
echo "PG_CONFIG=$PG_CONFIG ($("$PG_CONFIG" --version))"

# --- 2. build and install --------------------------------------------------
section "build (WERROR=1: -Wall -Wextra -Werror -DUSE_ASSERT_CHECKING) and install"
build_ok=0
if make --no-print-directory clean PG_CONFIG="$PG_CONFIG" >/dev/null &&
	make --no-print-directory -j"$JOBS" WERROR=1 PG_CONFIG="$PG_CONFIG" &&
	as_root make --no-print-directory install WERROR=1 PG_CONFIG="$PG_CONFIG"; then
	build_ok=1
	record build passed
else
	echo "FAIL: build or install"
	record build failed
fi

# --- 3. unit tests and fuzzers ---------------------------------------------
section "unit tests"
if compgen -G 'test/unit/*.c' >/dev/null; then
	if make --no-print-directory -j"$JOBS" unit-build PG_CONFIG="$PG_CONFIG" &&
		make --no-print-directory unit PG_CONFIG="$PG_CONFIG"; then
		record unit passed
	else
		echo "FAIL: unit tests"
		record unit failed
	fi
else
	echo "no unit tests (test/unit/*.c) yet, skipped"
	record unit skipped
fi

section "fuzz (${FUZZ_SECONDS}s in all)"
if compgen -G 'test/fuzz/fuzz_*.c' >/dev/null; then
	if make --no-print-directory -j"$JOBS" fuzz-build PG_CONFIG="$PG_CONFIG" &&
		make --no-print-directory fuzz FUZZ_SECONDS="$FUZZ_SECONDS" PG_CONFIG="$PG_CONFIG"; then
		record fuzz passed
	else
		echo "FAIL: fuzz"
		record fuzz failed
	fi
else
	echo "no fuzz harnesses (test/fuzz/fuzz_*.c) yet, skipped"
	record fuzz skipped
fi

# --- 4. database tests -----------------------------------------------------
section "database tests (pg_virtualenv)"
if [ "$build_ok" = 1 ]; then
	if [ "$(id -u)" -eq 0 ]; then
		tmp=/tmp			# must be reachable by postgres
	else
		tmp=${TMPDIR:-/tmp}
	fi
	stage=$(mktemp -d "$tmp/seller_analytics_test.XXXXXX")
	trap 'rm -rf "$stage"' EXIT
	# the tree without build outputs
	tar -C "$ROOT" -cf - \
		--exclude=./.git --exclude=./build --exclude=./results \
		--exclude=./output_iso --exclude=./log --exclude=./tmp_check \
		--exclude='./regression.*' --exclude='*.o' --exclude='*.so' \
		--exclude='*.bc' --exclude=./bench/results . |
		tar -C "$stage" -xf -
	: >"$stage/status"
	chmod 755 "$stage"
	# pg_virtualenv -v pins the server version and sets PG_CONFIG to match it
	# seller_analytics preloaded too, as doc/security.md recommends: its
	# tenant setting is then checked from a session's first statement
	virtualenv=(pg_virtualenv -v "$PG_MAJOR"
		-o shared_preload_libraries=pg_cron,seller_analytics
		-o cron.database_name=contrib_regression
		bash "$stage/test/run_tests.sh" --in-virtualenv "$stage/status")
	venv_rc=0
	if [ "$(id -u)" -eq 0 ]; then
		# As root, pg_virtualenv would put the cluster under /etc/postgresql
		# and run the tests as root; run it as postgres instead, which keeps
		# everything (cluster, sockets, test output) in temporary directories
		# owned by the same user as the server.
		chown -R postgres:postgres "$stage"
		(cd "$stage" && runuser -u postgres -- env HOME="$stage" TMPDIR=/tmp "${virtualenv[@]}") || venv_rc=$?
	else
		(cd "$stage" && "${virtualenv[@]}") || venv_rc=$?
	fi
	# test output back to the tree, for inspection
	for out in results regression.diffs regression.out output_iso; do
		rm -rf "${ROOT:?}/$out"
		if [ -e "$stage/$out" ]; then
			cp -R "$stage/$out" "$ROOT/$out"
		fi
	done
	# make the paths in the diffs relative to the top of the tree
	for diffs in regression.diffs output_iso/regression.diffs; do
		if [ -f "$ROOT/$diffs" ]; then
			sed -i "s#$stage/##g" "$ROOT/$diffs"
		fi
	done
	for group in regress isolation scripts; do
		st=$(awk -v g="$group" '$1 == g { print $2 }' "$stage/status")
		if [ -z "$st" ]; then
			echo "FAIL: $group did not run (pg_virtualenv exit status $venv_rc)"
			st=failed
		fi
		record "$group" "$st"
	done
	if [ "$venv_rc" -ne 0 ] && [ ${#failed[@]} -eq 0 ]; then
		echo "FAIL: pg_virtualenv exit status $venv_rc"
		record virtualenv failed
	fi
else
	echo "skipped: the extension did not build or install"
	record regress failed
	record isolation failed
	record scripts failed
fi

# --- 5. summary ------------------------------------------------------------
section "summary"
[ ${#passed[@]} -eq 0 ] || echo "passed:  ${passed[*]}"
[ ${#skipped[@]} -eq 0 ] || echo "skipped: ${skipped[*]} (no tests yet)"
[ ${#failed[@]} -eq 0 ] || echo "failed:  ${failed[*]}"
if [ ${#failed[@]} -gt 0 ]; then
	for diffs in regression.diffs output_iso/regression.diffs; do
		if [ -s "$ROOT/$diffs" ]; then
			echo "=== $diffs"
			cat "$ROOT/$diffs"
		fi
	done
fi
echo "${#passed[@]} passed, ${#failed[@]} failed"
[ ${#failed[@]} -eq 0 ]
