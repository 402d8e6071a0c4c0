/* CUDA ops, attention: the FP32 kernel and the bf16 tensor-core kernel
 * (host/ops/ops.h ll_attn_params). */
#include "ops/ops_internal.cuh"

#include <mma.h>
/* --------------------------------------------------------------- attention */
/* Flash-style causal attention (no T×T matrix anywhere): a block handles
 * ATT_Q consecutive queries of one (b, h), one warp per query; keys and
 * values stream through shared memory in tiles of 32; each lane scores one
 * key of the tile and owns hd/32 output dims; online softmax in float32.
 * VEC (hd % 4 == 0): 16-byte shared-memory accesses (q, k rows padded to
 * hd + 4 floats: conflict-free per quarter warp; each lane owns 4 consecutive
 * output dims per 128). */
#define ATT_Q 16
#define ATT_MAXD 8 /* hd <= 256 */
template <bool VEC>
__global__ void __launch_bounds__(32 * ATT_Q) k_attention(ll_attn_params p) {
    extern __shared__ float4 smem4[];
    float *smem = (float *)smem4;
    const int hd = p.hd, ldk = VEC ? hd + 4 : hd + 1;
    float *Qs = smem;                 /* [ATT_Q][hd] */
    float *Ks = Qs + ATT_Q * hd;      /* [32][ldk] */
    float *Vs = Ks + 32 * ldk;        /* [32][hd] */
    const int b = blockIdx.z, h = blockIdx.y, t0 = blockIdx.x * ATT_Q;
    const int T = p.T, grp = p.H / p.KVH, g = h / grp;
    const int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nthr = blockDim.x;
    const int len = p.lens[b] < T ? p.lens[b] : T;
    const int t = t0 + w;
    for (int k = threadIdx.x; k < ATT_Q * hd; k += nthr) {
        int qi = k / hd, i = k % hd, tq = t0 + qi;
        Qs[k] = tq < T ? p.q[((int64_t)b * T + tq) * p.q_rs + (int64_t)h * p.q_hs + i] : 0.0f;
    }
    const bool bidir = p.bidirectional != 0;
    const int win = bidir ? 0 : p.window;
    int s_lo = 0;
    if (win > 0) { s_lo = t0 - win + 1; if (s_lo < 0) s_lo = 0; }
    int s_hi = bidir ? len - 1 : t0 + ATT_Q - 1; /* last key any query of the block needs */
    if (s_hi > len - 1) s_hi = len - 1;
    float m = -INFINITY, l = 0.0f, acc[ATT_MAXD];
#pragma unroll
    for (int j = 0; j < ATT_MAXD; j++) acc[j] = 0.0f;
    const bool active = t < T && t < len;
    int my_lo = 0;
    if (win > 0) { my_lo = t - win + 1; if (my_lo < 0) my_lo = 0; }
    for (int s0 = (s_lo / 32) * 32; s0 <= s_hi; s0 += 32) {
        __syncthreads();
        for (int k = threadIdx.x; k < 32 * hd; k += nthr) {
            int j = k / hd, i = k % hd, s = s0 + j;
            float kv = 0.0f, vv = 0.0f;
            if (s < len) {
                kv = p.k[((int64_t)b * T + s) * p.k_rs + (int64_t)g * p.k_hs + i];
                vv = p.v[((int64_t)b * T + s) * p.v_rs + (int64_t)g * p.v_hs + i];
            }
            Ks[j * ldk + i] = kv;
            Vs[j * hd + i] = vv;
        }
        __syncthreads();
        if (!active || (!bidir && s0 > t)) continue; /* whole tile in this query's future */
        const int s = s0 + lane;
        const bool ok = (bidir || s <= t) && s >= my_lo && s < len;
        float sc = -INFINITY;
        if (ok) {
            float d = 0.0f;
            if (VEC) {
                const float4 *q4 = (const float4 *)(Qs + w * hd), *k4 = (const float4 *)(Ks + lane * ldk);
                for (int i = 0; i < hd / 4; i++) {
                    float4 a = q4[i], c = k4[i];
                    d += a.x * c.x + a.y * c.y + a.z * c.z + a.w * c.w;
                }
            } else {
                const float *q = Qs + w * hd, *kk = Ks + lane * ldk;
                for (int i = 0; i < hd; i++) d += q[i] * kk[i];
            }
            sc = d * p.scale;
            if (p.softcap > 0.0f) sc = p.softcap * tanhf(sc / p.softcap);
            if (p.bias) sc += p.bias[((int64_t)h * T + t) * T + s];
        }
        float mx = sc;
        for (int o = 16; o > 0; o >>= 1) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, o));
        if (mx == -INFINITY) continue; /* no key of this tile for this query */
        float mn = fmaxf(m, mx);
        float corr = expf(m - mn); /* m = -inf at first: 0 */
        float pe = ok ? expf(sc - mn) : 0.0f;
        float ps = pe;
        for (int o = 16; o > 0; o >>= 1) ps += __shfl_xor_sync(0xffffffffu, ps, o);
        l = l * corr + ps;
#pragma unroll
        for (int j = 0; j < ATT_MAXD; j++) acc[j] *= corr;
        for (int j2 = 0; j2 < 32; j2++) {
            float pj = __shfl_sync(0xffffffffu, pe, j2);
            if (pj == 0.0f) continue;
            const float *vr = Vs + j2 * hd;
            if (VEC) {
#pragma unroll
                for (int j = 0; j < ATT_MAXD / 4; j++) {
                    int i = 4 * lane + 128 * j;
                    if (i < hd) {
                        float4 vv = *(const float4 *)(vr + i);
                        acc[4 * j] += pj * vv.x;
                        acc[4 * j + 1] += pj * vv.y;
                        acc[4 * j + 2] += pj * vv.z;
                        acc[4 * j + 3] += pj * vv.w;
                    }
                }
            } else {
#pragma unroll
                for (int j = 0; j < ATT_MAXD; j++) {
                    int i = lane + 32 * j;
                    if (i < hd) acc[j] += pj * vr[i];
                }
            }
        }
        m = mn;
    }
    if (t >= T) return;
    float *o = p.out + ((int64_t)b * T + t) * p.o_rs + (int64_t)h * hd;
    float inv = active && l > 0 ? 1.0f / l : 0.0f;
    if (VEC) {
#pragma unroll
        for (int j = 0; j < ATT_MAXD / 4; j++) {
            int i = 4 * lane + 128 * j;
            if (i < hd)
                for (int r = 0; r < 4; r++) o[i + r] = active ? acc[4 * j + r] * inv : 0.0f;
        }
    } else {
#pragma unroll
        for (int j = 0; j < ATT_MAXD; j++) {
            int i = lane + 32 * j;
            if (i < hd) o[i] = active ? acc[j] * inv : 0.0f;
        }
    }
}
/* Tensor-core attention (compute BF16): FlashAttention-2 layout with WMMA
 * bf16 16×16×16 fragments, FP32 accumulation.  A block = 4 warps = 64
 * queries of one (b, h), 16 query rows per warp; K/V tiles of 64 keys in
 * shared memory (bf16); S = Q·Kᵀ per warp into shared memory, online softmax
 * there (FP32, two lanes per row), P in bf16, O (FP32, shared memory) rescaled
 * and O += P·V with WMMA.  No T×T matrix anywhere. */
using namespace nvcuda;
#define TC_BQ 64
#define TC_BK 64
template <int HD> struct tc_layout {
    static constexpr int LDQ = HD + 8, LDS = TC_BK + 4, LDP = TC_BK + 8, LDO = HD + 4;
    static constexpr size_t q_off = 0;
    static constexpr size_t k_off = q_off + (size_t)TC_BQ * LDQ * 2;
    static constexpr size_t v_off = k_off + (size_t)TC_BK * LDQ * 2;
    static constexpr size_t s_off = v_off + (size_t)TC_BK * LDQ * 2;
    static constexpr size_t p_off = s_off + (size_t)TC_BQ * LDS * 4;
    static constexpr size_t o_off = p_off + (size_t)TC_BQ * LDP * 2;
    static constexpr size_t c_off = o_off + (size_t)TC_BQ * LDO * 4;
    static constexpr size_t bytes = c_off + (size_t)TC_BQ * 4;
};
template <int HD>
__global__ void __launch_bounds__(128) k_attention_tc(ll_attn_params p) {
    typedef tc_layout<HD> L;
    extern __shared__ float4 smem4[];
    char *sm = (char *)smem4;
    __nv_bfloat16 *Qs = (__nv_bfloat16 *)(sm + L::q_off), *Ks = (__nv_bfloat16 *)(sm + L::k_off),
                  *Vs = (__nv_bfloat16 *)(sm + L::v_off), *Ps = (__nv_bfloat16 *)(sm + L::p_off);
    float *Ss = (float *)(sm + L::s_off), *Os = (float *)(sm + L::o_off), *Cs = (float *)(sm + L::c_off);
    const int b = blockIdx.z, h = blockIdx.y, t0 = blockIdx.x * TC_BQ;
    const int T = p.T, g = h / (p.H / p.KVH);
    const int lane = threadIdx.x & 31, w = threadIdx.x >> 5;
    const int len = p.lens[b] < T ? p.lens[b] : T;
    for (int k = threadIdx.x; k < TC_BQ * HD; k += 128) {
        int qi = k / HD, i = k % HD, tq = t0 + qi;
        float v = tq < T ? p.q[((int64_t)b * T + tq) * p.q_rs + (int64_t)h * p.q_hs + i] : 0.0f;
        Qs[qi * L::LDQ + i] = __float2bfloat16(v);
        Os[qi * L::LDO + i] = 0.0f;
    }
    /* softmax state: lane handles row r = lane/2 of the warp's 16, columns half*32.. */
    const int r = lane >> 1, half = lane & 1, t = t0 + w * 16 + r;
    float m = -INFINITY, l = 0.0f;
    int my_lo = 0;
    if (p.window > 0) { my_lo = t - p.window + 1; if (my_lo < 0) my_lo = 0; }
    int s_lo = 0;
    if (p.window > 0) { s_lo = t0 - p.window + 1; if (s_lo < 0) s_lo = 0; }
    int s_hi = t0 + TC_BQ - 1;
    if (s_hi > len - 1) s_hi = len - 1;
    const bool row_ok = t < T && t < len;
    float *Sw = Ss + w * 16 * L::LDS, *Ow = Os + w * 16 * L::LDO;
    __nv_bfloat16 *Pw = Ps + w * 16 * L::LDP;
    for (int s0 = (s_lo / TC_BK) * TC_BK; s0 <= s_hi; s0 += TC_BK) {
        __syncthreads();
        for (int k = threadIdx.x; k < TC_BK * HD; k += 128) {
            int j = k / HD, i = k % HD, s = s0 + j;
            float kv = 0.0f, vv = 0.0f;
            if (s < len) {
                kv = p.k[((int64_t)b * T + s) * p.k_rs + (int64_t)g * p.k_hs + i];
                vv = p.v[((int64_t)b * T + s) * p.v_rs + (int64_t)g * p.v_hs + i];
            }
            Ks[j * L::LDQ + i] = __float2bfloat16(kv);
            Vs[j * L::LDQ + i] = __float2bfloat16(vv);
        }
        __syncthreads();
        if (s0 > t0 + w * 16 + 15) continue; /* the whole tile is in this warp's future */
        /* S = Q_w · Kᵀ */
#pragma unroll
        for (int j = 0; j < TC_BK / 16; j++) {
            wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
            wmma::fill_fragment(acc, 0.0f);
#pragma unroll
            for (int kk = 0; kk < HD / 16; kk++) {
                wmma::fragment<wmma::matrix_a, 16, 16, 16, __nv_bfloat16, wmma::row_major> fa;
                wmma::fragment<wmma::matrix_b, 16, 16, 16, __nv_bfloat16, wmma::col_major> fb;
                wmma::load_matrix_sync(fa, Qs + (w * 16) * L::LDQ + kk * 16, L::LDQ);
                wmma::load_matrix_sync(fb, Ks + (j * 16) * L::LDQ + kk * 16, L::LDQ);
                wmma::mma_sync(acc, fa, fb, acc);
            }
            wmma::store_matrix_sync(Sw + j * 16, acc, L::LDS, wmma::mem_row_major);
        }
        __syncwarp();
        /* online softmax over this tile, row r, columns half*32 .. +31 */
        float sv[32];
        float mx = -INFINITY;
#pragma unroll
        for (int c = 0; c < 32; c++) {
            int col = half * 32 + c, s = s0 + col;
            bool ok = row_ok && s <= t && s >= my_lo && s < len;
            float v = ok ? Sw[r * L::LDS + col] * p.scale : -INFINITY;
            sv[c] = v;
            mx = fmaxf(mx, v);
        }
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
        float mn = fmaxf(m, mx);
        float corr = (mn == -INFINITY) ? 1.0f : expf(m - mn);
        float ps = 0.0f;
#pragma unroll
        for (int c = 0; c < 32; c++) {
            float pe = (mn == -INFINITY || sv[c] == -INFINITY) ? 0.0f : expf(sv[c] - mn);
            ps += pe;
            Pw[r * L::LDP + half * 32 + c] = __float2bfloat16(pe);
        }
        ps += __shfl_xor_sync(0xffffffffu, ps, 1);
        l = l * corr + ps;
        m = mn;
        /* rescale this row of O */
        for (int i = half; i < HD; i += 2) Ow[r * L::LDO + i] *= corr;
        __syncwarp();
        /* O_w += P_w · V */
#pragma unroll
        for (int n = 0; n < HD / 16; n++) {
            wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
            wmma::load_matrix_sync(acc, Ow + n * 16, L::LDO, wmma::mem_row_major);
#pragma unroll
            for (int kk = 0; kk < TC_BK / 16; kk++) {
                wmma::fragment<wmma::matrix_a, 16, 16, 16, __nv_bfloat16, wmma::row_major> fa;
                wmma::fragment<wmma::matrix_b, 16, 16, 16, __nv_bfloat16, wmma::row_major> fb;
                wmma::load_matrix_sync(fa, Pw + kk * 16, L::LDP);
                wmma::load_matrix_sync(fb, Vs + (kk * 16) * L::LDQ + n * 16, L::LDQ);
                wmma::mma_sync(acc, fa, fb, acc);
            }
            wmma::store_matrix_sync(Ow + n * 16, acc, L::LDO, wmma::mem_row_major);
        }
        __syncwarp();
    }
    (void)Cs;
    __syncwarp();
    if (t < T) {
        float inv = row_ok && l > 0 ? 1.0f / l : 0.0f;
        float *o = p.out + ((int64_t)b * T + t) * p.o_rs + (int64_t)h * HD;
        for (int i = half; i < HD; i += 2) o[i] = row_ok ? Ow[r * L::LDO + i] * inv : 0.0f;
    }
}

template <int HD> static int attention_tc_(opsctx *x, const ll_attn_params *p) {
    size_t smem = tc_layout<HD>::bytes;
    LL_CU(cudaFuncSetAttribute(k_attention_tc<HD>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
    dim3 grid(ll_cdiv(p->T, TC_BQ), p->H, p->B);
    LL_LAUNCH(k_attention_tc<HD>, grid, 128, smem, x->c->stream, *p);
    return 0;
}

static int attention_(opsctx *x, const ll_attn_params *p) {
    if (p->B <= 0 || p->T <= 0 || p->H <= 0) return 0;
    if (p->hd > 32 * ATT_MAXD || p->hd <= 0 || p->KVH <= 0 || p->H % p->KVH) {
        ll_set_error("CUDA attention: head size %d (max %d) or heads %d/%d not supported", p->hd, 32 * ATT_MAXD, p->H,
                     p->KVH);
        return -1;
    }
    /* the tensor-core kernel is causal-only without softcap or bias */
    const bool plain = !p->bidirectional && !(p->softcap > 0.0f) && !p->bias;
    if (plain && x->attn_tc && x->compute == LL_DT_BF16) {
        /* the tile needs 70 KiB (hd 64) / 110 KiB (hd 128) of shared memory per
         * block: A100/H100/B200 give 163-227 KiB, but sm_86/89/120 (RTX 30/40/50,
         * A6000, L40S) only 99 KiB — there hd 128 takes the FP32 kernel below */
        const size_t optin = x->c->prop.sharedMemPerBlockOptin;
        if (p->hd == 64 && tc_layout<64>::bytes <= optin) return attention_tc_<64>(x, p);
        if (p->hd == 128 && tc_layout<128>::bytes <= optin) return attention_tc_<128>(x, p);
    }
    const bool vec = p->hd % 4 == 0;
    const int ldk = vec ? p->hd + 4 : p->hd + 1;
    size_t smem = sizeof(float) * ((size_t)ATT_Q * p->hd + 32 * (size_t)ldk + 32 * (size_t)p->hd);
    dim3 grid(ll_cdiv(p->T, ATT_Q), p->H, p->B);
    if (vec) {
        if (smem > 48 * 1024)
            LL_CU(cudaFuncSetAttribute(k_attention<true>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
        LL_LAUNCH(k_attention<true>, grid, 32 * ATT_Q, smem, x->c->stream, *p);
    } else {
        if (smem > 48 * 1024)
            LL_CU(cudaFuncSetAttribute(k_attention<false>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
        LL_LAUNCH(k_attention<false>, grid, 32 * ATT_Q, smem, x->c->stream, *p);
    }
    return 0;
}
void cu_attention(void *ctx, const ll_attn_params *p) { OPCALL(ctx, attention_((opsctx *)ctx, p)); }
