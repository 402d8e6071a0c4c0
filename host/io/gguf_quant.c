/* ggml block formats → float32, following the reference (scalar)
 * dequantisation that llama.cpp defines for each type.  Every block starts
 * with little-endian fp16 scale(s); the arithmetic is float32 in the same
 * order as the reference, so results are bit-identical to gguf.quants.
 * Block layouts (elements / bytes):
 *   Q4_0 32/18  d, qs[16]             x = d·(nibble − 8)
 *   Q4_1 32/20  d, m, qs[16]          x = d·nibble + m
 *   Q5_0 32/22  d, qh[4], qs[16]      x = d·(5-bit − 16)
 *   Q5_1 32/24  d, m, qh[4], qs[16]   x = d·5-bit + m
 *   Q8_0 32/34  d, qs[32] (int8)      x = d·q
 *   Q2_K 256/84   scales[16], qs[64], d, dmin
 *   Q3_K 256/110  hmask[32], qs[64], scales[12], d
 *   Q4_K 256/144  d, dmin, scales[12], qs[128]
 *   Q5_K 256/176  d, dmin, scales[12], qh[32], qs[128]
 *   Q6_K 256/210  ql[128], qh[64], scales[16] (int8), d
 * Low nibbles hold the first half of a 32-element group, high nibbles the
 * second half. */
#include <string.h>
#include "core/ll_util.h"
#include "io/gguf.h"

static const struct { uint32_t t; const char *name; int be, bb; } types[] = {
    {LL_GGML_F32, "F32", 1, 4},      {LL_GGML_F16, "F16", 1, 2},      {LL_GGML_Q4_0, "Q4_0", 32, 18},
    {LL_GGML_Q4_1, "Q4_1", 32, 20},  {LL_GGML_Q5_0, "Q5_0", 32, 22},  {LL_GGML_Q5_1, "Q5_1", 32, 24},
    {LL_GGML_Q8_0, "Q8_0", 32, 34},  {LL_GGML_Q8_1, "Q8_1", 32, 36},  {LL_GGML_Q2_K, "Q2_K", 256, 84},
    {LL_GGML_Q3_K, "Q3_K", 256, 110}, {LL_GGML_Q4_K, "Q4_K", 256, 144}, {LL_GGML_Q5_K, "Q5_K", 256, 176},
    {LL_GGML_Q6_K, "Q6_K", 256, 210}, {LL_GGML_Q8_K, "Q8_K", 256, 292}, {LL_GGML_I8, "I8", 1, 1},
    {LL_GGML_I16, "I16", 1, 2},      {LL_GGML_I32, "I32", 1, 4},      {LL_GGML_I64, "I64", 1, 8},
    {LL_GGML_F64, "F64", 1, 8},      {LL_GGML_BF16, "BF16", 1, 2},
};
#define N_TYPES (int)(sizeof types / sizeof types[0])

/* names of the other ggml types, so that errors can say what a file holds */
static const char *other_name(uint32_t t) {
    switch (t) {
    case 16: return "IQ2_XXS"; case 17: return "IQ2_XS"; case 18: return "IQ3_XXS"; case 19: return "IQ1_S";
    case 20: return "IQ4_NL"; case 21: return "IQ3_S"; case 22: return "IQ2_S"; case 23: return "IQ4_XS";
    case 29: return "IQ1_M"; case 34: return "TQ1_0"; case 35: return "TQ2_0"; case 39: return "MXFP4";
    default: return "?";
    }
}

const char *ll_gguf_type_name(uint32_t t) {
    for (int i = 0; i < N_TYPES; i++)
        if (types[i].t == t) return types[i].name;
    return other_name(t);
}

int ll_gguf_type_block(uint32_t t, int *be, int *bb) {
    for (int i = 0; i < N_TYPES; i++)
        if (types[i].t == t) { *be = types[i].be; *bb = types[i].bb; return 0; }
    return -1;
}

static inline float h2f(const uint8_t *p) { return ll_f16_to_f32((uint16_t)(p[0] | (p[1] << 8))); }

static void deq_q4_0(const uint8_t *b, float *y) {
    const float d = h2f(b);
    const uint8_t *qs = b + 2;
    for (int j = 0; j < 16; j++) {
        y[j] = (float)((qs[j] & 0x0F) - 8) * d;
        y[j + 16] = (float)((qs[j] >> 4) - 8) * d;
    }
}
static void deq_q4_1(const uint8_t *b, float *y) {
    const float d = h2f(b), m = h2f(b + 2);
    const uint8_t *qs = b + 4;
    for (int j = 0; j < 16; j++) {
        y[j] = (float)(qs[j] & 0x0F) * d + m;
        y[j + 16] = (float)(qs[j] >> 4) * d + m;
    }
}
static void deq_q5(const uint8_t *b, float *y, int has_min) {
    const float d = h2f(b), m = has_min ? h2f(b + 2) : 0.0f;
    const uint8_t *p = b + (has_min ? 4 : 2);
    const uint32_t qh = (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
    const uint8_t *qs = p + 4;
    for (int j = 0; j < 16; j++) {
        const int h0 = (int)((qh >> j) & 1) << 4, h1 = (int)((qh >> (j + 16)) & 1) << 4;
        const int x0 = (qs[j] & 0x0F) | h0, x1 = (qs[j] >> 4) | h1;
        if (has_min) {
            y[j] = (float)x0 * d + m;
            y[j + 16] = (float)x1 * d + m;
        } else {
            y[j] = (float)(x0 - 16) * d;
            y[j + 16] = (float)(x1 - 16) * d;
        }
    }
}
static void deq_q8_0(const uint8_t *b, float *y) {
    const float d = h2f(b);
    const int8_t *qs = (const int8_t *)(b + 2);
    for (int j = 0; j < 32; j++) y[j] = (float)qs[j] * d;
}

static void deq_q2_k(const uint8_t *b, float *y) {
    const uint8_t *sc = b, *q = b + 16;
    const float d = h2f(b + 80), dmin = h2f(b + 82);
    int is = 0;
    for (int n = 0; n < 256; n += 128, q += 32) {
        for (int shift = 0; shift < 8; shift += 2) {
            for (int half = 0; half < 2; half++) {
                const uint8_t s = sc[is++];
                const float dl = d * (float)(s & 0x0F), ml = dmin * (float)(s >> 4);
                for (int l = 0; l < 16; l++) *y++ = dl * (float)((q[l + 16 * half] >> shift) & 3) - ml;
            }
        }
    }
}

/* Q3_K: 16 six-bit scales packed in 12 bytes: low 4 bits in bytes 0..7
 * (scales 0-7 low nibbles, 8-15 high nibbles), high 2 bits in bytes 8..11. */
static void q3k_scales(const uint8_t *p, int8_t out[16]) {
    for (int i = 0; i < 16; i++) {
        const int lo = i < 8 ? (p[i] & 0x0F) : (p[i - 8] >> 4);
        const int hi = (p[8 + (i % 4)] >> (2 * (i / 4))) & 3;
        out[i] = (int8_t)((lo | (hi << 4)) - 32);
    }
}
static void deq_q3_k(const uint8_t *b, float *y) {
    const uint8_t *hm = b, *q = b + 32;
    int8_t sc[16];
    q3k_scales(b + 96, sc);
    const float d = h2f(b + 108);
    int is = 0;
    uint8_t m = 1;
    for (int n = 0; n < 256; n += 128, q += 32) {
        for (int shift = 0; shift < 8; shift += 2, m = (uint8_t)(m << 1)) {
            for (int half = 0; half < 2; half++) {
                const float dl = d * (float)sc[is++];
                for (int l = 0; l < 16; l++) {
                    const int k = l + 16 * half;
                    const int v = ((q[k] >> shift) & 3) - ((hm[k] & m) ? 0 : 4);
                    *y++ = dl * (float)v;
                }
            }
        }
    }
}

/* Q4_K/Q5_K: 8 six-bit (scale, min) pairs packed in 12 bytes. */
static void k4_scale_min(int j, const uint8_t *q, int *s, int *m) {
    if (j < 4) {
        *s = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *s = (q[j + 4] & 0x0F) | ((q[j - 4] >> 6) << 4);
        *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}
static void deq_q45_k(const uint8_t *b, float *y, int five) {
    const float d = h2f(b), dmin = h2f(b + 2);
    const uint8_t *scales = b + 4, *qh = b + 16, *ql = five ? b + 48 : b + 16;
    int u1 = 1, u2 = 2;
    for (int j = 0, is = 0; j < 256; j += 64, is += 2, ql += 32, u1 <<= 2, u2 <<= 2) {
        int s, m;
        k4_scale_min(is, scales, &s, &m);
        const float d1 = d * (float)s, m1 = dmin * (float)m;
        k4_scale_min(is + 1, scales, &s, &m);
        const float d2 = d * (float)s, m2 = dmin * (float)m;
        for (int l = 0; l < 32; l++) {
            const int h = five && (qh[l] & u1) ? 16 : 0;
            *y++ = d1 * (float)((ql[l] & 0x0F) + h) - m1;
        }
        for (int l = 0; l < 32; l++) {
            const int h = five && (qh[l] & u2) ? 16 : 0;
            *y++ = d2 * (float)((ql[l] >> 4) + h) - m2;
        }
    }
}

static void deq_q6_k(const uint8_t *b, float *y) {
    const uint8_t *ql = b, *qh = b + 128;
    const int8_t *sc = (const int8_t *)(b + 192);
    const float d = h2f(b + 208);
    for (int n = 0; n < 256; n += 128, y += 128, ql += 64, qh += 32, sc += 8) {
        for (int l = 0; l < 32; l++) {
            const int is = l / 16;
            const int q1 = ((ql[l] & 0x0F) | (((qh[l] >> 0) & 3) << 4)) - 32;
            const int q2 = ((ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4)) - 32;
            const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
            const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
            y[l] = d * (float)sc[is] * (float)q1;
            y[l + 32] = d * (float)sc[is + 2] * (float)q2;
            y[l + 64] = d * (float)sc[is + 4] * (float)q3;
            y[l + 96] = d * (float)sc[is + 6] * (float)q4;
        }
    }
}

int ll_gguf_dequantize(uint32_t type, const void *src, int64_t n, float *out) {
    const uint8_t *b = src;
    int be, bb;
    if (ll_gguf_type_block(type, &be, &bb) || n % be) return -1;
    const int64_t nb = n / be;
    switch (type) {
    case LL_GGML_F32: memcpy(out, b, sizeof(float) * (size_t)n); return 0;
    case LL_GGML_F16:
        for (int64_t i = 0; i < n; i++) out[i] = h2f(b + 2 * i);
        return 0;
    case LL_GGML_BF16:
        for (int64_t i = 0; i < n; i++) out[i] = ll_bf16_to_f32((uint16_t)(b[2 * i] | (b[2 * i + 1] << 8)));
        return 0;
    default: break;
    }
    void (*f)(const uint8_t *, float *) = NULL;
    switch (type) {
    case LL_GGML_Q4_0: f = deq_q4_0; break;
    case LL_GGML_Q4_1: f = deq_q4_1; break;
    case LL_GGML_Q8_0: f = deq_q8_0; break;
    case LL_GGML_Q2_K: f = deq_q2_k; break;
    case LL_GGML_Q3_K: f = deq_q3_k; break;
    case LL_GGML_Q6_K: f = deq_q6_k; break;
    case LL_GGML_Q5_0: case LL_GGML_Q5_1: case LL_GGML_Q4_K: case LL_GGML_Q5_K: break;
    default: return -1;
    }
#pragma omp parallel for schedule(static) if (nb > 4096)
    for (int64_t i = 0; i < nb; i++) {
        const uint8_t *blk = b + (size_t)i * bb;
        float *y = out + (size_t)i * be;
        if (f) f(blk, y);
        else if (type == LL_GGML_Q5_0) deq_q5(blk, y, 0);
        else if (type == LL_GGML_Q5_1) deq_q5(blk, y, 1);
        else deq_q45_k(blk, y, type == LL_GGML_Q5_K);
    }
    return 0;
}
