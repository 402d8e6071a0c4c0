# layerlaw build.  `make` builds build/layerlaw (with the CUDA backend when nvcc
# is found), `make CUDA=0` without it, `make test` runs the C test-suite,
# `make asan` builds and runs the tests under AddressSanitizer + UBSan.
CC      ?= gcc
NVCC    ?= nvcc
BUILD   ?= build
# One crypto library: libsodium (SHA-256 for provenance, SipHash-2-4 for the
# tokenizer's tables); OpenSSL's libcrypto is not linked (host/report/provenance.c).
PKGS    := libcjson zlib openblas lapacke libpcre2-8 libutf8proc libxml-2.0 yaml-0.1 sqlite3 libsodium libcurl
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
OPT     ?= -O2
CFLAGS  ?= $(OPT) -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers -fopenmp -MMD -MP -Ihost $(PKG_CFLAGS) $(SAN)
LDLIBS  += $(PKG_LIBS) -lm -lpthread
# Provenance (host/report/provenance.c): the commit and the flags this binary
# was built with.  The commit is read when make runs (".dirty" when the work
# tree differs); outside git it stays "unknown".
LL_GIT_COMMIT := $(shell git describe --always --dirty=.dirty --abbrev=40 2>/dev/null || echo unknown)
LL_BUILD_FLAGS = CC=$(CC) CUDA=$(CUDA) OPT=$(OPT) SAN=$(SAN)
LDFLAGS += -fopenmp $(SAN)

# CUDA: on by default when nvcc is on the PATH.
ifeq ($(origin CUDA), undefined)
  CUDA := $(if $(shell command -v $(NVCC) 2>/dev/null),1,0)
endif
CUDA_HOME ?= $(patsubst %/bin/nvcc,%,$(shell command -v $(NVCC) 2>/dev/null))
# GPU generations compiled into the binary (a fat binary: SASS for each sm_XX
# plus PTX of the newest, which the driver JIT-compiles for later GPUs).
# CUDA_ARCH=90 builds one (fast, for development); CUDA_ARCH=all is every
# generation from Ampere on that this nvcc supports.  Build times and the
# choice of default: docs/distributed.md ("Every NVIDIA generation").
comma := ,
CUDA_ARCH_ALL := 80 86 89 90 100 120
CUDA_ARCH ?= all
ifeq ($(CUDA_ARCH),all)
  CUDA_ARCH_LIST := $(filter $(CUDA_ARCH_ALL),$(patsubst sm_%,%,$(shell $(NVCC) --list-gpu-code 2>/dev/null)))
  ifeq ($(strip $(CUDA_ARCH_LIST)),)
    CUDA_ARCH_LIST := 80 90
  endif
else
  CUDA_ARCH_LIST := $(subst $(comma), ,$(CUDA_ARCH))
endif
CUDA_ARCH_PTX := $(lastword $(CUDA_ARCH_LIST))
CUDA_GENCODE := $(foreach a,$(CUDA_ARCH_LIST),-gencode arch=compute_$(a),code=sm_$(a)) -gencode arch=compute_$(CUDA_ARCH_PTX),code=compute_$(CUDA_ARCH_PTX)
NVCCFLAGS ?= -O3 -lineinfo -std=c++17 $(CUDA_GENCODE) -Ihost -Ikernels -Xcompiler -fPIC \
             -DLL_CUDA_ARCHS='"$(CUDA_ARCH_LIST)"' -DLL_CUDA_PTX='"$(CUDA_ARCH_PTX)"'

# MPI (data-parallel ranks, host/dist/): on when an MPI C library is found
# (pkg-config ompi-c / mpich, else the mpicc wrapper); MPI=0 turns it off.
# Without it a process is rank 0 of 1 and refuses to run under a launcher.
ifeq ($(origin MPI), undefined)
  MPI_PC := $(firstword $(foreach p,ompi-c mpich mpi,$(if $(shell pkg-config --exists $(p) 2>/dev/null && echo y),$(p))))
  ifneq ($(MPI_PC),)
    MPI := 1
  else
    MPI := $(if $(shell command -v mpicc 2>/dev/null),1,0)
  endif
endif
ifeq ($(MPI),1)
  ifneq ($(MPI_PC),)
    MPI_CFLAGS := $(shell pkg-config --cflags $(MPI_PC))
    MPI_LIBS   := $(shell pkg-config --libs $(MPI_PC))
  else
    MPI_CFLAGS := $(shell mpicc --showme:compile 2>/dev/null)
    MPI_LIBS   := $(shell mpicc --showme:link 2>/dev/null)
  endif
  CFLAGS += -DLL_HAVE_MPI=1 $(MPI_CFLAGS)
  LDLIBS += $(MPI_LIBS)
endif

# hwloc (binding ranks to the cores nearest their GPU; `layerlaw topo`).
ifeq ($(origin HWLOC), undefined)
  HWLOC := $(if $(shell pkg-config --exists hwloc 2>/dev/null && echo y),1,0)
endif
ifeq ($(HWLOC),1)
  HWLOC_CFLAGS := $(shell pkg-config --cflags hwloc)
  HWLOC_LIBS := $(shell pkg-config --libs hwloc)
  CFLAGS += -DLL_HAVE_HWLOC=1 $(HWLOC_CFLAGS)
  LDLIBS += $(HWLOC_LIBS)
endif

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
  CU_BUILD ?= $(BUILD)
  CU_OBJ := $(CU_SRC:%.cu=$(CU_BUILD)/obj/%.o)
  CFLAGS += -DLL_HAVE_CUDA=1 -I$(CUDA_HOME)/include
  # NCCL (the reduce on device memory across GPUs): with MPI, when nccl.h and
  # libnccl are in the CUDA toolkit (or NCCL_HOME); NCCL=0 turns it off.
  NCCL_HOME ?= $(CUDA_HOME)
  ifeq ($(origin NCCL), undefined)
    NCCL := $(if $(and $(filter 1,$(MPI)),$(wildcard $(NCCL_HOME)/include/nccl.h),$(wildcard $(NCCL_HOME)/lib64/libnccl.so* $(NCCL_HOME)/lib/libnccl.so*)),1,0)
  endif
  ifeq ($(NCCL),1)
    CFLAGS += -DLL_HAVE_NCCL=1 -I$(NCCL_HOME)/include
    NVCCFLAGS += -DLL_HAVE_NCCL=1 -I$(NCCL_HOME)/include  # kernels/dist/dist_nccl.cu holds the NCCL calls
    LDLIBS += -L$(NCCL_HOME)/lib64 -L$(NCCL_HOME)/lib -Wl,-rpath,$(NCCL_HOME)/lib64 -lnccl
  endif
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
	@rm -f $@  # ar would keep members of sources that no longer exist
	$(AR) rcs $@ $^

$(BUILD)/layerlaw: $(CLI_OBJ) $(BUILD)/liblayerlaw.a
	$(CC) $(LDFLAGS) -o $@ $(CLI_OBJ) $(BUILD)/liblayerlaw.a $(LDLIBS)

$(BUILD)/run_tests: $(TEST_OBJ) $(BUILD)/liblayerlaw.a
	$(CC) $(LDFLAGS) -o $@ $(TEST_OBJ) $(BUILD)/liblayerlaw.a $(LDLIBS)

$(BUILD)/bench/%: bench/%.c $(BUILD)/liblayerlaw.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/liblayerlaw.a $(LDLIBS)

# The library as a shared object for the Python package (pyproject.toml, python/):
# `make shared` builds $(BUILD)/liblayerlaw.so from position-independent objects
# in their own folder ($(BUILD)/pylib), with the same flags (CUDA when nvcc is
# found; CUDA=0 without; the CUDA objects are $(BUILD)'s own, already
# position-independent).  The command line (host/cli) is inside too, for
# `python -m layerlaw` and layerlaw.run().
.PHONY: shared
shared:
	$(MAKE) BUILD=$(BUILD)/pylib PIC=1 CUDA=$(CUDA) CU_BUILD=$(BUILD) $(BUILD)/pylib/liblayerlaw.so
	cp -f $(BUILD)/pylib/liblayerlaw.so $(BUILD)/liblayerlaw.so.tmp && mv -f $(BUILD)/liblayerlaw.so.tmp $(BUILD)/liblayerlaw.so
ifeq ($(PIC),1)
  CFLAGS += -fPIC
endif
$(BUILD)/liblayerlaw.so: $(LIB_OBJ) $(CLI_OBJ) $(CU_OBJ)
	@mkdir -p $(dir $@)
	$(CC) -shared $(LDFLAGS) -Wl,-soname,liblayerlaw.so -o $@ $^ $(LDLIBS)

# only provenance.o sees the commit and flags; it is rebuilt when they change
# (the stamp is rewritten only when its content differs)
$(BUILD)/obj/host/report/provenance.o: CFLAGS += -DLL_GIT_COMMIT='"$(LL_GIT_COMMIT)"' -DLL_BUILD_FLAGS='"$(strip $(LL_BUILD_FLAGS))"'
$(BUILD)/obj/host/report/provenance.o: $(BUILD)/buildinfo.stamp
$(BUILD)/buildinfo.stamp: FORCE
	@mkdir -p $(dir $@)
	@echo '$(LL_GIT_COMMIT) $(LL_BUILD_FLAGS)' | cmp -s - $@ || echo '$(LL_GIT_COMMIT) $(LL_BUILD_FLAGS)' > $@
FORCE:

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/obj/%.o: %.cu
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCCFLAGS) -MMD -MP -c -o $@ $<
ifneq ($(filter-out $(BUILD),$(CU_BUILD)),)
$(CU_BUILD)/obj/%.o: %.cu
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCCFLAGS) -MMD -MP -c -o $@ $<
endif

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
