/* CUDA ops, dense: linear (cuBLAS), embedding, elementwise, rope, copy2d,
 * and the weight upload (host/ops/ops.h; the table: ops_cuda.cu). */
#include "ops/ops_internal.cuh"

/* ------------------------------------------------------------------ linear */
__global__ void k_f32_to_bf16(__nv_bfloat16 *o, const float *i, size_t n) {
    for (size_t k = blockIdx.x * (size_t)blockDim.x + threadIdx.x; k < n; k += (size_t)gridDim.x * blockDim.x)
        o[k] = __float2bfloat16(i[k]);
}
__global__ void k_f32_to_f16(__half *o, const float *i, size_t n) {
    for (size_t k = blockIdx.x * (size_t)blockDim.x + threadIdx.x; k < n; k += (size_t)gridDim.x * blockDim.x)
        o[k] = __float2half(i[k]);
}
/* out[r, :] = bias (M floats per row) */
__global__ void k_bias_rows(float *out, const float *bias, int N, int M) {
    size_t n = (size_t)N * M;
    for (size_t k = blockIdx.x * (size_t)blockDim.x + threadIdx.x; k < n; k += (size_t)gridDim.x * blockDim.x)
        out[k] = bias[k % M];
}

static int linear_(opsctx *x, float *out, const float *in, const ll_weight *W, const float *bias, int N) {
    if (N <= 0) return 0;
    const int M = (int)W->rows, K = (int)W->cols;
    cudaStream_t st = x->c->stream;
    float beta = 0.0f, one = 1.0f;
    if (bias) {
        LL_LAUNCH(k_bias_rows, grid_for((size_t)N * M, 256), 256, 0, st, out, bias, N, M);
        beta = 1.0f;
    }
    /* column-major view: out (M×N, ld M) = Wᵀ-op (W is K×M col-major, ld K) · in (K×N, ld K) */
    if (W->dtype == LL_DT_F32) {
        cublasComputeType_t ct = x->compute == LL_DT_BF16 ? CUBLAS_COMPUTE_32F_FAST_16BF : CUBLAS_COMPUTE_32F_PEDANTIC;
        LL_CUBLAS(cublasGemmEx(x->c->blas, CUBLAS_OP_T, CUBLAS_OP_N, M, N, K, &one, W->data, CUDA_R_32F, K, in,
                               CUDA_R_32F, K, &beta, out, CUDA_R_32F, M, ct, CUBLAS_GEMM_DEFAULT));
        return 0;
    }
    if (W->dtype != LL_DT_BF16 && W->dtype != LL_DT_F16) {
        ll_set_error("CUDA linear: weight dtype %d not supported (F32, BF16, F16)", (int)W->dtype);
        return -1;
    }
    void *tmp;
    size_t n = (size_t)N * K;
    LL_TRY(ops_scratch_get(x, n * 2, &tmp));
    cudaDataType dt;
    if (W->dtype == LL_DT_BF16) {
        LL_LAUNCH(k_f32_to_bf16, grid_for(n, 256), 256, 0, st, (__nv_bfloat16 *)tmp, in, n);
        dt = CUDA_R_16BF;
    } else {
        LL_LAUNCH(k_f32_to_f16, grid_for(n, 256), 256, 0, st, (__half *)tmp, in, n);
        dt = CUDA_R_16F;
    }
    LL_CUBLAS(cublasGemmEx(x->c->blas, CUBLAS_OP_T, CUBLAS_OP_N, M, N, K, &one, W->data, dt, K, tmp, dt, K, &beta,
                           out, CUDA_R_32F, M, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
    return 0;
}
void cu_linear(void *ctx, float *out, const float *in, const ll_weight *W, const float *bias, int N) {
    OPCALL(ctx, linear_((opsctx *)ctx, out, in, W, bias, N));
}

/* --------------------------------------------------------------- embedding */
__device__ __forceinline__ float load_any(const void *p, int dt, size_t i) {
    if (dt == LL_DT_BF16) return __bfloat162float(((const __nv_bfloat16 *)p)[i]);
    if (dt == LL_DT_F16) return __half2float(((const __half *)p)[i]);
    return ((const float *)p)[i];
}
__global__ void k_embedding(float *out, const void *table, int dt, const int32_t *ids, int N, int64_t C, int acc) {
    size_t n = (size_t)N * C;
    for (size_t k = blockIdx.x * (size_t)blockDim.x + threadIdx.x; k < n; k += (size_t)gridDim.x * blockDim.x) {
        size_t r = k / C, c = k % C;
        float v = load_any(table, dt, (size_t)ids[r] * C + c);
        out[k] = acc ? out[k] + v : v;
    }
}
static int embedding_(opsctx *x, float *out, const ll_weight *t, const int32_t *ids, int N, int acc) {
    if (N <= 0) return 0;
    LL_LAUNCH(k_embedding, grid_for((size_t)N * t->cols, 256), 256, 0, x->c->stream, out, t->data, (int)t->dtype, ids,
              N, t->cols, acc);
    return 0;
}
void cu_embedding(void *ctx, float *out, const ll_weight *table, const int32_t *ids, int N, int accumulate) {
    OPCALL(ctx, embedding_((opsctx *)ctx, out, table, ids, N, accumulate));
}

/* -------------------------------------------------------------- elementwise */
enum { EW_GELU_TANH, EW_GELU_ERF, EW_SILU, EW_SIGMOID, EW_RELU_SQ, EW_RELU };
__global__ void k_unary(float *out, const float *in, size_t n, int op) {
    for (size_t k = blockIdx.x * (size_t)blockDim.x + threadIdx.x; k < n; k += (size_t)gridDim.x * blockDim.x) {
        float x = in[k], y;
        switch (op) {
        case EW_GELU_TANH: y = 0.5f * x * (1.0f + tanhf(0.7978845608028654f * (x + 0.044715f * x * x * x))); break;
        case EW_GELU_ERF: y = (float)(0.5 * x * (1.0 + erf(x * 0.7071067811865476))); break;
        case EW_SILU: y = x / (1.0f + expf(-x)); break;
        case EW_SIGMOID: y = 1.0f / (1.0f + expf(-x)); break;
        case EW_RELU: y = x > 0 ? x : 0.0f; break;
        default: y = x > 0 ? x * x : 0.0f; break;
        }
        out[k] = y;
    }
}
enum { EB_ADD, EB_MUL, EB_SWIGLU };
__global__ void k_binary(float *out, const float *a, const float *b, size_t n, int op) {
    for (size_t k = blockIdx.x * (size_t)blockDim.x + threadIdx.x; k < n; k += (size_t)gridDim.x * blockDim.x) {
        float x = a[k], y = b[k];
        out[k] = op == EB_ADD ? x + y : op == EB_MUL ? x * y : (x / (1.0f + expf(-x))) * y;
    }
}
__global__ void k_scale(float *out, const float *a, float s, size_t n) {
    for (size_t k = blockIdx.x * (size_t)blockDim.x + threadIdx.x; k < n; k += (size_t)gridDim.x * blockDim.x)
        out[k] = a[k] * s;
}
static int unary_(opsctx *x, float *out, const float *in, size_t n, int op) {
    if (!n) return 0;
    LL_LAUNCH(k_unary, grid_for(n, 256), 256, 0, x->c->stream, out, in, n, op);
    return 0;
}
static int binary_(opsctx *x, float *out, const float *a, const float *b, size_t n, int op) {
    if (!n) return 0;
    LL_LAUNCH(k_binary, grid_for(n, 256), 256, 0, x->c->stream, out, a, b, n, op);
    return 0;
}
static int scale_(opsctx *x, float *out, const float *a, float s, size_t n) {
    if (!n) return 0;
    LL_LAUNCH(k_scale, grid_for(n, 256), 256, 0, x->c->stream, out, a, s, n);
    return 0;
}
void cu_gelu_tanh(void *ctx, float *o, const float *i, size_t n) { OPCALL(ctx, unary_((opsctx *)ctx, o, i, n, EW_GELU_TANH)); }
void cu_gelu_erf(void *ctx, float *o, const float *i, size_t n) { OPCALL(ctx, unary_((opsctx *)ctx, o, i, n, EW_GELU_ERF)); }
void cu_silu(void *ctx, float *o, const float *i, size_t n) { OPCALL(ctx, unary_((opsctx *)ctx, o, i, n, EW_SILU)); }
void cu_sigmoid(void *ctx, float *o, const float *i, size_t n) { OPCALL(ctx, unary_((opsctx *)ctx, o, i, n, EW_SIGMOID)); }
void cu_relu_sq(void *ctx, float *o, const float *i, size_t n) { OPCALL(ctx, unary_((opsctx *)ctx, o, i, n, EW_RELU_SQ)); }
void cu_relu(void *ctx, float *o, const float *i, size_t n) { OPCALL(ctx, unary_((opsctx *)ctx, o, i, n, EW_RELU)); }
void cu_add(void *ctx, float *o, const float *a, const float *b, size_t n) { OPCALL(ctx, binary_((opsctx *)ctx, o, a, b, n, EB_ADD)); }
void cu_mul(void *ctx, float *o, const float *a, const float *b, size_t n) { OPCALL(ctx, binary_((opsctx *)ctx, o, a, b, n, EB_MUL)); }
void cu_swiglu(void *ctx, float *o, const float *g, const float *u, size_t n) { OPCALL(ctx, binary_((opsctx *)ctx, o, g, u, n, EB_SWIGLU)); }
void cu_scale(void *ctx, float *o, const float *a, float s, size_t n) { OPCALL(ctx, scale_((opsctx *)ctx, o, a, s, n)); }

/* -------------------------------------------------------------------- rope */
/* One thread per (row, head, i < half), as cpu_rope. */
__global__ void k_rope(float *x, int64_t rs, int64_t hs, int N, int H, int half, const int32_t *pos, const float *inv_freq) {
    size_t n = (size_t)N * H * half;
    for (size_t k = blockIdx.x * (size_t)blockDim.x + threadIdx.x; k < n; k += (size_t)gridDim.x * blockDim.x) {
        int i = (int)(k % half);
        size_t rh = k / half;
        int h = (int)(rh % H);
        size_t r = rh / H;
        float a = (float)pos[r] * inv_freq[i];
        float c = cosf(a), s = sinf(a);
        float *p = x + (int64_t)r * rs + (int64_t)h * hs;
        float x1 = p[i], x2 = p[i + half];
        p[i] = x1 * c - x2 * s;
        p[i + half] = x2 * c + x1 * s;
    }
}
static int rope_(opsctx *x, const ll_rope_params *p) {
    int half = p->rot_dims / 2;
    if (p->N <= 0 || half <= 0 || p->n_heads <= 0) return 0;
    LL_LAUNCH(k_rope, grid_for((size_t)p->N * p->n_heads * half, 256), 256, 0, x->c->stream, p->x, p->rs, p->hs, p->N,
              p->n_heads, half, p->pos, p->inv_freq);
    return 0;
}
void cu_rope(void *ctx, const ll_rope_params *p) { OPCALL(ctx, rope_((opsctx *)ctx, p)); }

/* ------------------------------------------------------------------ copy2d */
static int copy2d_(opsctx *x, float *dst, int64_t drs, const float *src, int64_t srs, int rows, int cols) {
    if (rows <= 0 || cols <= 0) return 0;
    LL_CU(cudaMemcpy2DAsync(dst, (size_t)drs * 4, src, (size_t)srs * 4, (size_t)cols * 4, (size_t)rows,
                            cudaMemcpyDeviceToDevice, x->c->stream));
    return 0;
}
void cu_copy2d(void *ctx, float *dst, int64_t drs, const float *src, int64_t srs, int rows, int cols) {
    OPCALL(ctx, copy2d_((opsctx *)ctx, dst, drs, src, srs, rows, cols));
}

__global__ void k_f32_to_bf16_w(__nv_bfloat16 *o, const float *i, size_t n) {
    for (size_t k = blockIdx.x * (size_t)blockDim.x + threadIdx.x; k < n; k += (size_t)gridDim.x * blockDim.x)
        o[k] = __float2bfloat16(i[k]);
}
static int upload_weight_(ll_weight *dst, const float *src, int64_t rows, int64_t cols, ll_dtype dt) {
    ll_cuda_ctx *c = ll_cuda_ctx_get();
    if (!c) return -1;
    size_t n = (size_t)rows * cols;
    float *tmp = NULL;
    void *out = NULL;
    LL_TRY(ll_cuda_alloc(&out, n * (dt == LL_DT_F32 ? 4 : 2), "the weights [%lld x %lld]", (long long)rows, (long long)cols));
    if (dt == LL_DT_F32) {
        LL_CU(cudaMemcpyAsync(out, src, n * 4, cudaMemcpyHostToDevice, c->stream));
    } else {
        if (ll_cuda_alloc((void **)&tmp, n * 4, "the fp32 staging copy of the weights [%lld x %lld]", (long long)rows,
                          (long long)cols) != 0) { ll_cuda_free(out); return -1; }
        LL_CU(cudaMemcpyAsync(tmp, src, n * 4, cudaMemcpyHostToDevice, c->stream));
        if (dt == LL_DT_BF16)
            LL_LAUNCH(k_f32_to_bf16_w, grid_for(n, 256), 256, 0, c->stream, (__nv_bfloat16 *)out, tmp, n);
        else
            LL_LAUNCH(k_f32_to_f16, grid_for(n, 256), 256, 0, c->stream, (__half *)out, tmp, n);
    }
    LL_CU(cudaStreamSynchronize(c->stream));
    if (tmp) ll_cuda_free(tmp);
    dst->data = out;
    dst->dtype = dt;
    dst->rows = rows;
    dst->cols = cols;
    return 0;
}
extern "C" int ll_cuda_upload_weight(ll_weight *dst, const float *src, int64_t rows, int64_t cols, ll_dtype dt) {
    if (dt != LL_DT_F32 && dt != LL_DT_BF16 && dt != LL_DT_F16) {
        ll_set_error("CUDA weights: dtype %d not supported (f32, bf16, f16)", (int)dt);
        return -1;
    }
    return upload_weight_(dst, src, rows, cols, dt);
}
