# layerlaw build.  `make` builds build/layerlaw (with the CUDA backend when nvcc
# is found), `make CUDA=0` without it, `make test` runs the C test-suite,
# `make asan` builds and runs the tests under AddressSanitizer + UBSan.
CC      ?= gcc
NVCC    ?= nvcc
BUILD   ?= build
PKGS    := libcjson zlib openblas lapacke libpcre2-8 libutf8proc
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
OPT     ?= -O2
CFLAGS  ?= $(OPT) -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers -fopenmp -MMD -MP -Ihost $(PKG_CFLAGS) $(SAN)
LDLIBS  += $(PKG_LIBS) -lm -lpthread
LDFLAGS += -fopenmp $(SAN)

# CUDA: on by default when nvcc is on the PATH.
ifeq ($(origin CUDA), undefined)
  CUDA := $(if $(shell command -v $(NVCC) 2>/dev/null),1,0)
endif
CUDA_HOME ?= $(patsubst %/bin/nvcc,%,$(shell command -v $(NVCC) 2>/dev/null))
NVCCFLAGS ?= -O3 -lineinfo -std=c++17 -gencode arch=compute_90,code=sm_90 -gencode arch=compute_90,code=compute_90 -Ihost -Ikernels -Xcompiler -fPIC

# Sources are found recursively: host/<role>/*.c is the library (host/cli/ the
# command line), kernels/<role>/*.cu the CUDA backend.  Header dependencies
# are tracked by the compiler (-MMD), so a changed header rebuilds its users.
LIB_SRC  := $(sort $(filter-out host/cli/%,$(shell find host -name '*.c')))
CLI_SRC  := $(wildcard host/cli/*.c)
TEST_SRC := $(wildcard tests/*.c)
GPU_TEST_SRC := $(wildcard tests/gpu/*.c)
BENCH_SRC:= $(wildcard bench/*.c)
CU_SRC   := $(sort $(shell find kernels -name '*.cu'))

LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
TEST_OBJ := $(TEST_SRC:%.c=$(BUILD)/obj/%.o)
GPU_TEST_OBJ := $(GPU_TEST_SRC:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/tests/harness.o
ifeq ($(CUDA),1)
  CU_OBJ := $(CU_SRC:%.cu=$(BUILD)/obj/%.o)
  CFLAGS += -DLL_HAVE_CUDA=1 -I$(CUDA_HOME)/include
  LDLIBS += -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcublas -lcublasLt -lcusolver -lcudart_static -ldl -lrt -lstdc++
else
  CU_OBJ :=
endif

.PHONY: all test asan ubsan-clang fuzz bench clean fixtures gpu_tests
ifeq ($(CUDA),1)
all: $(BUILD)/layerlaw $(BUILD)/run_tests $(BUILD)/gpu_tests
else
all: $(BUILD)/layerlaw $(BUILD)/run_tests
endif

# CUDA-vs-CPU parity tests: a separate binary, run on a GPU by scripts/gpu-check.sh
# (CI has no GPU, so they are built there but not run).
$(BUILD)/gpu_tests: $(GPU_TEST_OBJ) $(BUILD)/liblayerlaw.a
	$(CC) $(LDFLAGS) -o $@ $(GPU_TEST_OBJ) $(BUILD)/liblayerlaw.a $(LDLIBS)
gpu_tests: $(BUILD)/gpu_tests

$(BUILD)/liblayerlaw.a: $(LIB_OBJ) $(CU_OBJ)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

$(BUILD)/layerlaw: $(CLI_OBJ) $(BUILD)/liblayerlaw.a
	$(CC) $(LDFLAGS) -o $@ $(CLI_OBJ) $(BUILD)/liblayerlaw.a $(LDLIBS)

$(BUILD)/run_tests: $(TEST_OBJ) $(BUILD)/liblayerlaw.a
	$(CC) $(LDFLAGS) -o $@ $(TEST_OBJ) $(BUILD)/liblayerlaw.a $(LDLIBS)

$(BUILD)/bench/%: bench/%.c $(BUILD)/liblayerlaw.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/liblayerlaw.a $(LDLIBS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/obj/%.o: %.cu
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCCFLAGS) -MMD -MP -c -o $@ $<

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

test: $(BUILD)/layerlaw $(BUILD)/run_tests
	LAYERLAW_BIN=$(BUILD)/layerlaw $(BUILD)/run_tests

# AddressSanitizer + UBSan build of the library and tests (CPU only).
asan:
	$(MAKE) BUILD=build-asan CUDA=0 OPT=-O1 SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" build-asan/layerlaw build-asan/run_tests
	ASAN_OPTIONS=detect_leaks=1 LAYERLAW_BIN=build-asan/layerlaw build-asan/run_tests

# clang's UBSan build of the library and tests: clang's -fsanitize=undefined
# checks what gcc's does not (float-cast-overflow, a zero offset applied to a
# NULL pointer, NULL passed to memcpy), every finding fatal.
UBSAN_CLANG := -fsanitize=undefined,float-cast-overflow -fno-sanitize-recover=all -fno-omit-frame-pointer
ubsan-clang:
	$(MAKE) BUILD=build-ubsan CC=clang CUDA=0 OPT=-O1 SAN="$(UBSAN_CLANG)" build-ubsan/layerlaw build-ubsan/run_tests
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 LAYERLAW_BIN=build-ubsan/layerlaw build-ubsan/run_tests

# libFuzzer harnesses: every tests/fuzz/fuzz_<parser>.c becomes
# build-fuzz/fuzz/fuzz_<parser> (clang, ASan + UBSan); scripts/fuzz.sh runs them.
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_SAN := -fsanitize=fuzzer-no-link,address,undefined,float-cast-overflow -fno-sanitize-recover=undefined,float-cast-overflow -fno-omit-frame-pointer
fuzz:
	$(MAKE) BUILD=build-fuzz CC=clang CUDA=0 OPT=-O1 SAN="$(FUZZ_SAN)" $(FUZZ_SRC:tests/fuzz/%.c=build-fuzz/fuzz/%)

$(BUILD)/fuzz/%: tests/fuzz/%.c $(wildcard tests/fuzz/*.h) $(BUILD)/liblayerlaw.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/fuzz -fsanitize=fuzzer $(LDFLAGS) -o $@ $< $(BUILD)/liblayerlaw.a $(LDLIBS)

clean:
	rm -rf build-cpu
	rm -rf build build-asan build-ubsan build-fuzz
