# Makefile for the seller_analytics PostgreSQL extension (PGXS).
#
# Targets
#   make [all]          build the extension module
#   make install        install module, control file and SQL scripts
#   make installcheck   run the pg_regress tests (sql/, expected/) and the
#                       isolation tests (specs/, expected/) against a running
#                       server; the tests create the extension themselves.
#                       By hand, in a throw-away cluster like `make test`'s:
#                         pg_virtualenv -o shared_preload_libraries=pg_cron,seller_analytics \
#                           -o cron.database_name=contrib_regression \
#                           make installcheck
#   make test           the whole suite: test/run_tests.sh (installs missing
#                       Debian packages, builds with WERROR=1, installs, runs
#                       unit tests, fuzzers, installcheck and test/sql/*.sh
#                       in a throw-away cluster)
#   make unit           build and run the C unit tests (test/unit/*.c), first
#                       with ASan+UBSan, then without sanitizers under valgrind;
#                       the tests in UNIT_WEAK_NAMES also run once more as
#                       built with -DDP_WEAKEN_FOR_TEST (ASan+UBSan), where
#                       the DP property test must reject the weakened mechanisms
#   make fuzz           build the libFuzzer harnesses (test/fuzz/fuzz_*.c) and
#                       run each for a bounded time
#   make unit-build / fuzz-build   build only
#   make installcheck-regress / installcheck-isolation
#                       one half of installcheck each
#   make demo           demo/run.sh: a marketplace of SCALE sellers (default
#                       2000) in a throw-away cluster: 90 days of events
#                       streamed by concurrent loaders, the cohort benchmarks
#                       published, a seller's dashboard and chart, the figures
#   make bench          bench/sketch/run.sh
#   make bench-ingest   bench/ingest/run.sh (capture trigger against a plain
#                       table, and the dashboard from the rollups; settings
#                       in the script's header, e.g. INGEST_SECONDS=5)
#   make bench-capture-variants   bench/ingest/variants.sh (the C row trigger
#                       against a PL/pgSQL statement trigger and no trigger)
#   make bench-privacy-error   bench/privacy/error_table.sh (the noisy
#                       aggregates' error by cohort size and epsilon, by
#                       simulation of their C mechanisms; no server)
#   make bench-security bench/security/run.sh (the dashboard as a seller's
#                       login under row-level security against the owner's
#                       explicit filter, and loading through event_intake;
#                       settings in the script's header, e.g. SEC_ROUNDS=5)
#   make bench-benchmarks   bench/benchmarks/run.sh (publishing a month of
#                       cohort benchmarks, their accuracy by cohort size,
#                       and my_benchmarks() beside the 90-day dashboard at
#                       16 clients; settings in the script's header, e.g.
#                       BM_SELLERS=10000 BM_READ_SECONDS=15)
#   make bench-privacy  bench/privacy/run.sh (the noisy aggregates against the
#                       built-in ones, serial and parallel, and the cost of
#                       the privacy budget debit, alone and per group of a
#                       GROUP BY; settings in the script's header, e.g.
#                       PRIV_ROWS=100000 PRIV_ROUNDS=3)
#   make bench-serving  bench/serving/run.sh (the seller dashboard at scale:
#                       2,000 clients through PgBouncer in transaction mode
#                       against 16 direct connections while events stream in
#                       and compaction runs, 200 sellers' own logins, and the
#                       live views against the compacted tables; settings in
#                       the script's header, e.g. SERVING_PART=read for the
#                       live-read figures alone)
#
# Variables
#   PG_CONFIG=...       pg_config of the target server (default: first on PATH)
#   WERROR=1            compile the module with -Wall -Wextra -Werror and
#                       -DUSE_ASSERT_CHECKING (what `make test` uses)
#   BUILD_DIR=build     where unit-test and fuzz binaries go
#   UNIT_CC=$(CC)       compiler for the unit tests
#   FUZZ_CC=clang       compiler for the fuzz harnesses
#   FUZZ_SECONDS=60     total fuzzing time, split evenly across harnesses
#                       (at least FUZZ_MIN_SECONDS=5 each)
#   FUZZ_FLAGS=...      extra libFuzzer options for every harness

MODULE_big = seller_analytics
# Every C file in src/ is part of the module.
OBJS = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c)))
PGFILEDESC = "seller_analytics - seller analytics for PostgreSQL"

# The control file lives in control/, so EXTENSION is not used; MODULEDIR
# makes DATA go to $(sharedir)/extension.  Upgrade scripts added later as
# control/seller_analytics--*.sql are installed too.
MODULEDIR = extension
DATA = control/seller_analytics.control control/seller_analytics--0.1.sql \
	$(filter-out control/seller_analytics--0.1.sql,$(sort $(wildcard control/seller_analytics--*.sql)))

# Regression tests: sql/NAME.sql with expected/NAME.out, run in database
# contrib_regression.  Isolation tests: specs/NAME.spec with expected/NAME.out,
# run in database isolation_regression.  `make test` preloads pg_cron with
# cron.database_name = contrib_regression, so only the regression tests can
# CREATE EXTENSION pg_cron.
REGRESS := $(sort $(basename $(notdir $(wildcard sql/*.sql))))
ISOLATION := $(sort $(basename $(notdir $(wildcard specs/*.spec))))
# Same database encoding and C collation whatever the machine's locale, so
# expected output does not depend on it.
ENCODING = UTF8
NO_LOCALE = 1

PG_CPPFLAGS = -I$(srcdir)/src

ifeq ($(WERROR),1)
# USE_ASSERT_CHECKING goes to the preprocessor flags so that the LLVM bitcode
# built for JIT inlining matches the object code.
# -Wno-unused-parameter: every fmgr function is declared with
# PG_FUNCTION_ARGS (fmgr.h), so one that takes no SQL arguments, like every
# hook or callback with a fixed signature, leaves a parameter unused.
# Nothing else in PostgreSQL 15's server headers trips gcc 12's -Wextra.
PG_CPPFLAGS += -DUSE_ASSERT_CHECKING
PG_CFLAGS += -Wall -Wextra -Werror -Wno-unused-parameter
endif

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# ---------------------------------------------------------------------------
# Everything below is not part of the PGXS build.

BUILD_DIR ?= build

# Pure-C cores (no PostgreSQL headers) shared by the unit tests and fuzzers.
CORE_SRCS = src/sketch.c src/sketch_table.c src/dp_noise.c src/dp_mech.c
CORE_HDRS = $(wildcard src/sketch.h src/dp_noise.h src/dp_mech.h)

UNIT_SRCS = $(sort $(wildcard test/unit/*.c))
UNIT_NAMES = $(basename $(notdir $(UNIT_SRCS)))
UNIT_ASAN_BINS = $(addprefix $(BUILD_DIR)/unit/asan/,$(UNIT_NAMES))
UNIT_PLAIN_BINS = $(addprefix $(BUILD_DIR)/unit/plain/,$(UNIT_NAMES))
UNIT_HDRS = $(wildcard test/unit/*.h test/*.h)
# Also built with every sensitivity in src/dp_mech.c halved (a deliberately
# broken build), into BUILD_DIR/unit/weak/: the test must fail the mechanisms
# then, which shows it has the power to.  Only dp_mech.c and the test read
# DP_WEAKEN_FOR_TEST.
UNIT_WEAK_NAMES = test_dp_property
UNIT_WEAK_BINS = $(addprefix $(BUILD_DIR)/unit/weak/,$(UNIT_WEAK_NAMES))

UNIT_CC ?= $(CC)
UNIT_CFLAGS = -std=gnu11 -Wall -Wextra -Werror -O1 -g -fno-omit-frame-pointer \
	-I$(srcdir)/src -I$(srcdir)/test/unit
UNIT_SANITIZE = -fsanitize=address,undefined -fno-sanitize-recover=all
UNIT_LIBS = -lm

FUZZ_SRCS = $(sort $(wildcard test/fuzz/fuzz_*.c))
FUZZ_NAMES = $(basename $(notdir $(FUZZ_SRCS)))
FUZZ_BINS = $(addprefix $(BUILD_DIR)/fuzz/,$(FUZZ_NAMES))

FUZZ_CC ?= clang
FUZZ_CFLAGS = -std=gnu11 -g -O1 -Wall -Wextra -fno-omit-frame-pointer \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	-I$(srcdir)/src -I$(srcdir)/test/fuzz
FUZZ_SECONDS ?= 60
FUZZ_MIN_SECONDS ?= 5
FUZZ_FLAGS ?=

.PHONY: test demo bench unit unit-build fuzz fuzz-build \
	installcheck-regress installcheck-isolation

# PG_CONFIG reaches these scripts only when set on the command line or in the
# environment; test/run_tests.sh defaults to PostgreSQL 15's pg_config.
test:
	bash test/run_tests.sh

# make demo SCALE=n: n sellers
demo:
	SCALE='$(SCALE)' bash demo/run.sh

bench:
	bash bench/sketch/run.sh

.PHONY: bench-ingest bench-capture-variants bench-security bench-privacy \
	bench-privacy-error bench-serving bench-benchmarks
bench-ingest:
	bash bench/ingest/run.sh

bench-security:
	bash bench/security/run.sh

bench-capture-variants:
	bash bench/ingest/variants.sh

bench-privacy:
	bash bench/privacy/run.sh

bench-privacy-error:
	bash bench/privacy/error_table.sh

bench-serving:
	bash bench/serving/run.sh

bench-benchmarks:
	bash bench/benchmarks/run.sh

# installcheck runs REGRESS and then ISOLATION; these run one of them each,
# so that a failing regression test does not hide the isolation results.
installcheck-regress:
	$(MAKE) --no-print-directory installcheck ISOLATION=

installcheck-isolation:
	$(MAKE) --no-print-directory installcheck REGRESS=

unit-build: $(UNIT_ASAN_BINS) $(UNIT_PLAIN_BINS) $(UNIT_WEAK_BINS)

unit: unit-build
	bash test/run_unit.sh $(UNIT_WEAK_NAMES:%=--weak $(BUILD_DIR)/unit/%) \
		$(UNIT_NAMES:%=$(BUILD_DIR)/unit/%)

$(BUILD_DIR)/unit/asan/%: test/unit/%.c $(CORE_SRCS) $(CORE_HDRS) $(UNIT_HDRS)
	@mkdir -p $(@D)
	$(UNIT_CC) $(UNIT_CFLAGS) $(UNIT_SANITIZE) -o $@ $< $(CORE_SRCS) $(UNIT_LIBS)

$(BUILD_DIR)/unit/plain/%: test/unit/%.c $(CORE_SRCS) $(CORE_HDRS) $(UNIT_HDRS)
	@mkdir -p $(@D)
	$(UNIT_CC) $(UNIT_CFLAGS) -o $@ $< $(CORE_SRCS) $(UNIT_LIBS)

$(BUILD_DIR)/unit/weak/%: test/unit/%.c $(CORE_SRCS) $(CORE_HDRS) $(UNIT_HDRS)
	@mkdir -p $(@D)
	$(UNIT_CC) $(UNIT_CFLAGS) $(UNIT_SANITIZE) -DDP_WEAKEN_FOR_TEST -o $@ $< \
		$(CORE_SRCS) $(UNIT_LIBS)

fuzz-build: $(FUZZ_BINS)

fuzz: fuzz-build
	FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_MIN_SECONDS=$(FUZZ_MIN_SECONDS) \
	FUZZ_FLAGS='$(FUZZ_FLAGS)' BUILD_DIR='$(BUILD_DIR)' \
	bash test/run_fuzz.sh $(FUZZ_BINS)

$(BUILD_DIR)/fuzz/%: test/fuzz/%.c $(CORE_SRCS) $(CORE_HDRS) $(wildcard test/fuzz/*.h test/*.h)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $< $(CORE_SRCS) -lm

clean: clean-build

.PHONY: clean-build
clean-build:
	rm -rf $(BUILD_DIR)
