# Jialing build. `make` builds bin/jialingd and bin/jialing; `make test` runs unit, fuzz-corpus
# and end-to-end tests on the plain build and again under ASan+UBSan; `make bench` runs the
# reference workload. Dependencies come from Debian (`make deps`).

CC ?= cc
CSTD := -std=c11 -D_GNU_SOURCE
WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
OPT ?= -O2 -g
LIBS := -llmdb -llz4 -lmicrohttpd -lmsgpackc -ljansson -lz -lpthread -lm
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

# ThreadSanitizer, for the store's concurrency tests only (make test-tsan).
TSAN_FLAGS := -fsanitize=thread -fno-omit-frame-pointer

# Variant: release (default), asan or tsan; each has its own object and binary directories.
VARIANT ?= release
ifeq ($(VARIANT),asan)
  BUILD := build/asan
  BIN := bin/asan
  VFLAGS := -O1 -g $(SAN_FLAGS)
else ifeq ($(VARIANT),tsan)
  BUILD := build/tsan
  BIN := bin/tsan
  VFLAGS := -O1 -g $(TSAN_FLAGS)
else
  BUILD := build/release
  BIN := bin
  VFLAGS := $(OPT)
endif
CFLAGS_ALL := $(CSTD) $(WARN) $(VFLAGS) -Iinclude $(CFLAGS)

LIB_SRC := $(wildcard storage/*.c) $(wildcard query/*.c) $(wildcard query/ingest/*.c)
SERVER_SRC := $(filter-out server/cli.c server/httpclient.c server/csvconvert.c server/hj212_send.c,$(wildcard server/*.c))
CLI_SRC := server/cli.c server/httpclient.c server/csvconvert.c server/hj212_send.c
UNIT_SRC := $(wildcard tests/unit/test_*.c)
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)

LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
# The web console's files, embedded into jialingd as build/gen/web_assets.c (tools/embed_assets.py).
WEB_DIST := server/web/node_modules/uplot/dist
WEB_ASSETS := $(wildcard server/web/*.html server/web/*.js server/web/*.css) \
              $(WEB_DIST)/uPlot.iife.min.js $(WEB_DIST)/uPlot.min.css
SERVER_OBJ := $(SERVER_SRC:%.c=$(BUILD)/%.o) $(BUILD)/build/gen/web_assets.o
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/%.o)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BIN)/tests/%)
FUZZ_REPLAY_BIN := $(FUZZ_SRC:tests/fuzz/%.c=$(BIN)/fuzz-replay/%)
LIB := $(BUILD)/libjialing.a
# Server objects other than main.c, linked into unit tests of server modules.
SERVER_LIB_OBJ := $(filter-out $(BUILD)/server/main.o,$(SERVER_OBJ))

.PHONY: all deps test test-unit test-e2e bench bench-peers bench-codec bench-city bench-resend fuzz lint format clean run \
        test-soak test-valgrind test-crash test-tsan tsan-tests test-browser

all: $(BIN)/jialingd $(BIN)/jialing $(UNIT_BIN) $(FUZZ_REPLAY_BIN) $(BIN)/bench-load $(BIN)/bench-gen \
     $(BIN)/bench-codec $(BIN)/bench-tail-memory

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

build/gen/web_assets.c: $(WEB_ASSETS) tools/embed_assets.py
	python3 tools/embed_assets.py $@ $(WEB_ASSETS)

# uPlot, pinned by server/web/package-lock.json, installed by npm ci when missing (one rule, so
# that parallel makes run one npm ci).
$(WEB_DIST)/uPlot.iife.min.js: server/web/package-lock.json
	bash tools/deps-web.sh
$(WEB_DIST)/uPlot.min.css: $(WEB_DIST)/uPlot.iife.min.js

$(LIB): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BIN)/jialingd: $(SERVER_OBJ) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ $(SERVER_OBJ) $(LIB) $(LIBS)

$(BIN)/jialing: $(CLI_OBJ) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ $(CLI_OBJ) $(LIB) $(LIBS)

# Unit tests link every server and CLI module except the two main()s.
TEST_OBJ := $(SERVER_LIB_OBJ) $(BUILD)/server/httpclient.o $(BUILD)/server/csvconvert.o
$(BIN)/tests/%: tests/unit/%.c $(TEST_OBJ) $(LIB) tests/unit/check.h tests/unit/tempdir.h \
                tests/unit/store_fixture.h tests/unit/query_fixture.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Itests/unit -o $@ $< $(TEST_OBJ) $(LIB) $(LIBS)

# Fuzz targets built with a main() that replays files (tests/fuzz/replay.c), no libFuzzer needed.
$(BIN)/fuzz-replay/%: tests/fuzz/%.c tests/fuzz/replay.c $(SERVER_LIB_OBJ) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ $< tests/fuzz/replay.c $(SERVER_LIB_OBJ) $(LIB) $(LIBS)

$(BIN)/bench-load: bench/load.c $(BUILD)/server/httpclient.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ bench/load.c $(BUILD)/server/httpclient.o $(LIB) $(LIBS)

$(BIN)/bench-gen: bench/gen.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ bench/gen.c $(LIB) $(LIBS)

$(BIN)/bench-codec: bench/codec_bench.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ bench/codec_bench.c $(LIB) $(LIBS)

$(BIN)/bench-tail-memory: bench/tail_memory.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ bench/tail_memory.c $(LIB) $(LIBS)

deps:
	@bash tools/deps.sh

run: deps
	$(MAKE) $(BIN)/jialingd $(BIN)/jialing
	$(BIN)/jialingd --data ./data --demo

test: deps
	$(MAKE) all
	$(MAKE) VARIANT=asan all
	bash tests/run.sh

test-unit: all
	bash tests/run.sh --unit-only

test-e2e: all
	JIALINGD=$(BIN)/jialingd python3 tests/e2e/run_e2e.py

# The web console and public page in Debian's chromium, headless (tests/browser; also run by
# tests/run.sh).
test-browser: $(BIN)/jialingd
	bash tools/deps-browser.sh
	JIALINGD=$(BIN)/jialingd node tests/browser/run.js

bench: deps all
	bash bench/run.sh

# Jialing, VictoriaMetrics and InfluxDB (installed from Debian) on the same workload, one after
# another; writes bench/REPORT.md and REPORT.png.
bench-peers: deps all
	BIN=$(BIN) bash bench/peers.sh

bench-codec: $(BIN)/bench-codec
	$(BIN)/bench-codec

# Jialing beside VictoriaMetrics at city scale and on varied data (bench/city.sh): CASE=city
# (10^5 series, a day), million (10^6 series, hourly, a day), long (10^4 series, 30 days at 5 min), mixed (cadences 10 s-1 h, several noise levels), slow, fine.
CASE ?= city
bench-city: deps all
	BIN=$(BIN) bash bench/city.sh --case $(CASE)

# A day of data sent twice, as a logger re-sends after an outage, beside VictoriaMetrics.
bench-resend: deps all
	BIN=$(BIN) bash bench/resend.sh

# The unit tests that run the writer thread beside readers, snapshots and cursors of other
# threads, and the public page's answer cache shared by HTTP worker threads (test_public), built
# with ThreadSanitizer into build/tsan and bin/tsan (tsan-tests) and run by tests/run.sh, which
# `make test` runs too, under `setarch -R`: TSan cannot place its shadow memory under the
# address randomization of newer kernels (vm.mmap_rnd_bits > 28).
# test_snapshot is left out: one thread holding 200 snapshots (each a read lock) overflows TSan's
# deadlock detector (64 recursive locks per thread), and it runs no second reader thread.
TSAN_TESTS := test_writer test_backup test_public test_review test_retention test_alarm test_webhook
tsan-tests:
	$(MAKE) VARIANT=tsan $(TSAN_TESTS:%=bin/tsan/tests/%)

test-tsan: tsan-tests
	bash tests/run.sh --tsan-only

# Long checks, not part of `make test`: a 10-minute mixed soak, a valgrind leak run (release
# build only: ASan binaries cannot run under valgrind), and the long crash test (50+ kills).
SOAK_MINUTES ?= 10
test-soak: $(BIN)/jialingd $(BIN)/bench-gen $(BIN)/bench-load
	BIN=$(BIN) bash tests/soak/soak.sh --minutes $(SOAK_MINUTES)

test-valgrind: $(BIN)/jialingd
	BIN=$(BIN) bash tests/valgrind.sh

test-crash: $(BIN)/jialingd
	python3 tests/crash/crash_test.py --kills 50 --jialingd $(BIN)/jialingd

# libFuzzer builds (clang) of every target under tests/fuzz; FUZZ_SECONDS each.
FUZZ_SECONDS ?= 60
fuzz: $(LIB_SRC)
	bash tests/fuzz/run.sh $(FUZZ_SECONDS)

lint:
	clang-format --dry-run --Werror $(LIB_SRC) $(wildcard query/*.h) $(wildcard server/*.c) $(UNIT_SRC) $(FUZZ_SRC) include/jialing/*.h

format:
	clang-format -i $(LIB_SRC) $(wildcard query/*.h) $(wildcard server/*.c) $(UNIT_SRC) $(FUZZ_SRC) include/jialing/*.h

clean:
	rm -rf build bin

-include $(shell find build -name '*.d' 2>/dev/null)
