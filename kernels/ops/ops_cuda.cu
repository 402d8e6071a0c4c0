/* The CUDA backend's op table (host/ops/ops.h): the same ops, names and
 * signatures as the CPU backend (host/ops/cpu_backend.c), on device memory.
 *
 * Ops return nothing (ops.h): each launcher below is an int function that
 * fails through the LL_CU* / LL_LAUNCH macros (naming call, file and line);
 * the table's entries record the first failure in the context, later ops are
 * skipped, and sync() reports it.
 *
 * The ops themselves are in kernels/ops/ops_*.cu by kind (ops_internal.cuh).
 *
 * Precision: activations are float32.  linear: F32 weights with compute F32
 * run SGEMM without TF32 (CUBLAS_COMPUTE_32F_PEDANTIC); BF16/F16 weights
 * convert the activations to the weight dtype and run cublasGemmEx with FP32
 * accumulation; F32 weights with compute BF16 let cuBLAS down-convert
 * (CUBLAS_COMPUTE_32F_FAST_16BF).  Reductions (norms) accumulate in float64
 * as the CPU backend does. */
#include "ops/ops_internal.cuh"

void ops_record(opsctx *x) {
    if (!x->failed) {
        x->failed = 1;
        snprintf(x->err, sizeof x->err, "%s", ll_last_error());
    }
}

int ops_scratch_get(opsctx *x, size_t bytes, void **p) {
    if (bytes > x->scratch_bytes) {
        if (x->scratch) {
            LL_CU(cudaStreamSynchronize(x->c->stream));
            ll_cuda_free(x->scratch);
            x->scratch = NULL;
            x->scratch_bytes = 0;
        }
        size_t want = bytes + bytes / 4;
        LL_TRY(ll_cuda_alloc(&x->scratch, want, "the op scratch buffer (%zu bytes asked)", bytes));
        x->scratch_bytes = want;
    }
    *p = x->scratch;
    return 0;
}

/* ------------------------------------------------------------------ memory */
void *cu_alloc(void *ctx, size_t bytes) {
    (void)ctx;
    return ll_cuda_malloc(bytes);
}
void cu_free(void *ctx, void *p) {
    (void)ctx;
    ll_cuda_free(p);
}
static int up_(opsctx *x, void *dst, const void *src, size_t bytes) {
    LL_CU(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, x->c->stream));
    LL_CU(cudaStreamSynchronize(x->c->stream));
    return 0;
}
static int down_(opsctx *x, void *dst, const void *src, size_t bytes) {
    LL_CU(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, x->c->stream));
    LL_CU(cudaStreamSynchronize(x->c->stream));
    return 0;
}
void cu_upload(void *ctx, void *dst, const void *src, size_t bytes) { OPCALL(ctx, up_((opsctx *)ctx, dst, src, bytes)); }
void cu_download(void *ctx, void *dst, const void *src, size_t bytes) { OPCALL(ctx, down_((opsctx *)ctx, dst, src, bytes)); }
static int sync_(opsctx *x) {
    LL_CU(cudaStreamSynchronize(x->c->stream));
    LL_CU(cudaGetLastError());
    return 0;
}
int cu_sync(void *ctx) {
    opsctx *x = (opsctx *)ctx;
    if (!x->failed && sync_(x) != 0) ops_record(x);
    if (x->failed) {
        ll_set_error("%s", x->err);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------- table */
static const ll_ops cuda_ops = {
    .name = "cuda",
    .host_memory = 0,
    .alloc = cu_alloc,
    .free = cu_free,
    .upload = cu_upload,
    .download = cu_download,
    .sync = cu_sync,
    .linear = cu_linear,
    .embedding = cu_embedding,
    .layernorm = cu_layernorm,
    .rmsnorm = cu_rmsnorm,
    .add = cu_add,
    .mul = cu_mul,
    .scale = cu_scale,
    .gelu_tanh = cu_gelu_tanh,
    .gelu_erf = cu_gelu_erf,
    .silu = cu_silu,
    .swiglu = cu_swiglu,
    .rope = cu_rope,
    .attention = cu_attention,
    .copy2d = cu_copy2d,
    .sigmoid = cu_sigmoid,
    .relu_sq = cu_relu_sq,
    .rwkv_shift_mix = cu_shift_mix,
    .wkv4 = cu_wkv4,
    .conv1d_silu = cu_conv1d_silu,
    .selective_scan = cu_sscan,
    .relu = cu_relu,
    .ssd_scan = cu_ssd,
};

extern "C" const ll_ops *ll_cuda_ops(void) { return &cuda_ops; }

extern "C" void *ll_cuda_ops_ctx_new(int device, ll_dtype compute) {
    if (compute != LL_DT_F32 && compute != LL_DT_BF16) {
        ll_set_error("CUDA backend: compute dtype must be f32 or bf16");
        return NULL;
    }
    if (ll_cuda_init(device) != 0) return NULL;
    opsctx *x = (opsctx *)calloc(1, sizeof *x);
    x->c = ll_cuda_ctx_get();
    x->compute = compute;
    /* bf16 tensor-core attention for hd 64/128 by default (passed its op parity test and
     * the model-level comparison on an H200: docs/gpu-log.md); LAYERLAW_CUDA_ATTN_TC=0: the FP32 kernel (LL_CUDA_* names: deprecated aliases) */
    const char *tc = ll_getenv_renamed("LAYERLAW_CUDA_ATTN_TC", "LL_CUDA_ATTN_TC");
    x->attn_tc = !(tc && tc[0] == '0');
    const char *ss = ll_getenv_renamed("LAYERLAW_CUDA_SSCAN_SERIAL", "LL_CUDA_SSCAN_SERIAL");
    x->sscan_serial = ss && ss[0] == '1';
    return x;
}
extern "C" void ll_cuda_ops_ctx_free(void *ctx) {
    opsctx *x = (opsctx *)ctx;
    if (!x) return;
    if (x->scratch) {
        cudaStreamSynchronize(x->c->stream);
        ll_cuda_free(x->scratch);
    }
    free(x);
}
