/* The family seam: registry, GGUF names, the model API (describe, cost,
 * embedding entry, max positions, synthetic models).
 *
 * Oracles: the costs are compared with formulas written out here from the
 * fixture configs' shapes (tests/fixtures/models/<name>/config.json, values
 * copied by hand below), independently of the code under test; GGUF names
 * come from the PyPI gguf package's gguf.constants (TENSOR_NAMES /
 * MODEL_TENSORS, gguf 0.19.0), copied by hand. */
#include <cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "capture/capture.h"
#include "core/ll_util.h"
#include "harness.h"
#include "io/safetensors.h"
#include "model/family.h"
#include "model/model.h"
#include "ops/ops.h"
#include "test_util.h"

TEST(families_registry) {
    const char *names[] = {"gpt2", "gpt_neox", "llama", "mistral", "qwen2", "rwkv", "mamba", "phi", "phi3",
                           "openai-gpt", "bert", "roberta", "t5", "gemma", "gemma2", "qwen3", "mamba2"};
    const int nn = (int)(sizeof names / sizeof names[0]);
    CHECK_INT(ll_family_count(), nn);
    for (int i = 0; i < nn; i++) {
        const ll_family *f = ll_family_find(names[i]);
        REQUIRE_MSG(f, "%s", names[i]);
        CHECK(!strcmp(f->model_type, names[i]));
        CHECK(strstr(ll_family_supported(), names[i]) != NULL);
        CHECK(f->parse_config && f->bind && f->forward && f->cost && f->describe);
    }
    CHECK(ll_family_find("xlnet") == NULL);
    /* GGUF general.architecture → family */
    CHECK(ll_family_by_gguf_arch("llama") == ll_family_find("llama"));
    CHECK(ll_family_by_gguf_arch("qwen2") == ll_family_find("qwen2"));
    CHECK(ll_family_by_gguf_arch("gpt2") == ll_family_find("gpt2"));
    CHECK(ll_family_by_gguf_arch("gptneox") == ll_family_find("gpt_neox"));
    CHECK(ll_family_by_gguf_arch("mamba") == ll_family_find("mamba"));
    CHECK(ll_family_by_gguf_arch("bert") == ll_family_find("bert"));
    CHECK(ll_family_by_gguf_arch("falcon") == NULL);
    /* the unknown-model_type error lists the registry */
    char dir[1100], p[1200];
    ll_path_join(dir, sizeof dir, ll_test_tmpdir(), "unknown");
    ll_mkdirs(dir);
    ll_path_join(p, sizeof p, dir, "config.json");
    const char *cfg = "{\"model_type\": \"xlnet\"}";
    ll_write_file_atomic(p, cfg, strlen(cfg));
    CHECK(ll_model_load(dir) == NULL);
    CHECK_MSG(strstr(ll_last_error(), "gpt2, gpt_neox, llama, mistral, qwen2, rwkv, mamba"), "%s", ll_last_error());
}

TEST(families_gguf_names) {
    struct { const char *fam, *gguf, *hf; } c[] = {
        {"llama", "blk.3.attn_q.weight", "model.layers.3.self_attn.q_proj.weight"},
        {"llama", "blk.0.ffn_gate.weight", "model.layers.0.mlp.gate_proj.weight"},
        {"llama", "blk.12.ffn_norm.weight", "model.layers.12.post_attention_layernorm.weight"},
        {"llama", "token_embd.weight", "model.embed_tokens.weight"},
        {"llama", "output_norm.weight", "model.norm.weight"},
        {"llama", "output.weight", "lm_head.weight"},
        {"qwen2", "blk.1.attn_k.bias", "model.layers.1.self_attn.k_proj.bias"},
        {"gpt2", "blk.2.attn_qkv.weight", "transformer.h.2.attn.c_attn.weight"},
        {"gpt2", "position_embd.weight", "transformer.wpe.weight"},
        {"gpt2", "blk.0.ffn_down.bias", "transformer.h.0.mlp.c_proj.bias"},
        {"gpt_neox", "blk.5.attn_qkv.weight", "gpt_neox.layers.5.attention.query_key_value.weight"},
        {"gpt_neox", "output.weight", "embed_out.weight"},
        {"mamba", "blk.4.ssm_in.weight", "backbone.layers.4.mixer.in_proj.weight"},
        {"mamba", "blk.4.ssm_a", "backbone.layers.4.mixer.A_log"},
        {"mamba", "blk.0.attn_norm.weight", "backbone.layers.0.norm.weight"},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        char hf[256];
        REQUIRE(ll_family_gguf_to_hf(ll_family_find(c[i].fam), c[i].gguf, hf, sizeof hf) == 0);
        CHECK_MSG(!strcmp(hf, c[i].hf), "%s: %s -> %s (want %s)", c[i].fam, c[i].gguf, hf, c[i].hf);
    }
    char hf[256];
    CHECK(ll_family_gguf_to_hf(ll_family_find("llama"), "blk.x.attn_q.weight", hf, sizeof hf) == -1);
    CHECK(ll_family_gguf_to_hf(ll_family_find("llama"), "blk.1.attn_q.weightx", hf, sizeof hf) == -1);
    CHECK(strstr(ll_last_error(), "blk.1.attn_q.weightx") != NULL);
    CHECK(ll_family_gguf_to_hf(ll_family_find("llama"), "blk.1.attn_q.weight", hf, 8) == -1);
}

/* ---- costs: hand-written formulas ---- */
static double mean_keys(int T, int W) { /* explicit loop: position t attends min(t+1, W) keys */
    double s = 0;
    for (int t = 0; t < T; t++) s += (W > 0 && t + 1 > W) ? W : t + 1;
    return s / T;
}

static void check_cost(const ll_model *m, int T, const ll_cost *want, int E, const char *what) {
    ll_cost *got = calloc((size_t)E, sizeof *got);
    REQUIRE(ll_model_cost(m, T, got) == 0);
    for (int e = 0; e < E; e++) {
        /* exact integers in double well below 2^53: equal up to summation order */
        CHECK_MSG(fabs(got[e].flops - want[e].flops) <= 1e-12 * want[e].flops, "%s T=%d e=%d flops %.17g vs %.17g", what,
                  T, e, got[e].flops, want[e].flops);
        CHECK_MSG(got[e].weight_bytes == want[e].weight_bytes, "%s e=%d weight bytes %.17g vs %.17g", what, e,
                  got[e].weight_bytes, want[e].weight_bytes);
        CHECK_MSG(got[e].act_bytes == want[e].act_bytes, "%s e=%d act bytes %.17g vs %.17g", what, e, got[e].act_bytes,
                  want[e].act_bytes);
    }
    free(got);
}

/* Transformer: entry 0 embeddings, entry l+1 block l, final norm in entry L. */
static void tf_want(ll_cost *w, int L, double C, double H, double G, double D, double F, double V, double P, int gated,
                    int T, int W, double layer_params, double norm_params) {
    const double Q = H * D, KV = G * D;
    memset(w, 0, sizeof(ll_cost) * (L + 1));
    w[0].weight_bytes = 4 * (V * C + P * C);
    w[0].act_bytes = 4 * C;
    for (int l = 0; l < L; l++) {
        w[l + 1].flops = 2 * C * Q + 2 * 2 * C * KV + 2 * 2 * Q * mean_keys(T, W) + 2 * Q * C + (gated ? 3 : 2) * 2 * C * F;
        w[l + 1].weight_bytes = 4 * layer_params;
        w[l + 1].act_bytes = 4 * (Q + 2 * KV + Q + C + (gated ? 2 * F : F) + C);
    }
    w[L].weight_bytes += 4 * norm_params;
    w[L].act_bytes += 4 * C;
}

TEST(families_cost_transformers) {
    ll_cost w[8];
    const int Ts[] = {1, 5, 40};
    for (int ti = 0; ti < 3; ti++) {
        const int T = Ts[ti];
        /* gpt2: C 32, 4 heads of 8, F = 4C = 128, V 128, 64 positions, all biases, LayerNorm */
        ll_model *m = ll_model_load(fx("gpt2"));
        REQUIRE(m);
        {
            double C = 32, F = 128;
            double lp = 2 * C + (3 * C * C + 3 * C) + (C * C + C) + 2 * C + (C * F + F) + (F * C + C);
            tf_want(w, 3, C, 4, 4, 8, F, 128, 64, 0, T, 0, lp, 2 * C);
            check_cost(m, T, w, 4, "gpt2");
        }
        ll_model_free(m);
        /* neox: C 32, 2 heads of 16, F 64, V 100, biases, LayerNorm, no learned positions */
        m = ll_model_load(fx("neox_parallel"));
        REQUIRE(m);
        {
            double C = 32, F = 64;
            double lp = 2 * C + 2 * C + (3 * C * C + 3 * C) + (C * C + C) + (C * F + F) + (F * C + C);
            tf_want(w, 3, C, 2, 2, 16, F, 100, 0, 0, T, 0, lp, 2 * C);
            check_cost(m, T, w, 4, "neox");
        }
        ll_model_free(m);
        /* llama_gqa: C 32, 4 heads of 8, 2 kv heads, F 48, V 100, no biases, RMSNorm */
        const char *llamas[] = {"llama_gqa", "mistral", "qwen2"};
        for (int k = 0; k < 3; k++) {
            m = ll_model_load(fx(llamas[k]));
            REQUIRE(m);
            double C = 32, F = 48, Q = 32, KV = 16;
            double lp = C + C + Q * C + 2 * KV * C + C * Q + 3 * C * F + (k == 2 ? Q + 2 * KV : 0);
            tf_want(w, 3, C, 4, 2, 8, F, 100, 0, 1, T, k == 1 ? 8 : 0, lp, C);
            check_cost(m, T, w, 4, llamas[k]);
            ll_model_free(m);
        }
    }
}

TEST(families_cost_recurrent) {
    ll_cost w[4];
    /* rwkv: C 32, A 32, F 64, V 100, 3 layers */
    ll_model *m = ll_model_load(fx("rwkv"));
    REQUIRE(m);
    const double C = 32, A = 32, F = 64, V = 100;
    const double blk_fl = 2 * (C * A * 3 + A * C + C * F + F * C + C * C) + 4 * A;
    const double blk_w = 4 * (4 * C + 2 * A + 5 * C + 3 * A * C + C * A + F * C + C * C + C * F);
    const double blk_a = 4 * (4 * A + F + 3 * C);
    for (int on = 0; on < 2; on++) {
        REQUIRE(ll_model_set_embedding_entry(m, on) == 0);
        memset(w, 0, sizeof w);
        w[0].weight_bytes = 4 * (V * C + 2 * C);
        w[0].act_bytes = 4 * C;
        for (int l = 0; l < 3; l++) {
            int e = on ? l + 1 : l;
            w[e].flops += blk_fl;
            w[e].weight_bytes += blk_w;
            w[e].act_bytes += blk_a;
        }
        w[3].weight_bytes += 4 * 2 * C;
        w[3].act_bytes += 4 * C;
        check_cost(m, 7, w, 4, on ? "rwkv embed-entry" : "rwkv");
    }
    ll_model_free(m);
    /* mamba: C 32, E 64, S 8, K 4, R 2, conv bias, no in/out bias, tied head */
    m = ll_model_load(fx("mamba"));
    REQUIRE(m);
    const double E = 64, S = 8, K = 4, R = 2;
    const double mfl = 2 * C * 2 * E + 2 * E * (R + 2 * S) + 2 * R * E + 2 * E * C + 2 * E * K + 4 * E * S;
    const double mw = 4 * (C + 2 * E * C + E * K + E + (R + 2 * S) * E + E * R + E + E * S + E + C * E);
    const double ma = 4 * (2 * E + E + R + 2 * S + E + E + C);
    for (int on = 0; on < 2; on++) {
        REQUIRE(ll_model_set_embedding_entry(m, on) == 0);
        memset(w, 0, sizeof w);
        w[0].weight_bytes = 4 * V * C;
        w[0].act_bytes = 4 * C;
        for (int l = 0; l < 3; l++) {
            int e = on ? l + 1 : l;
            w[e].flops += mfl;
            w[e].weight_bytes += mw;
            w[e].act_bytes += ma;
        }
        w[3].weight_bytes += 4 * C;
        w[3].act_bytes += 4 * C;
        check_cost(m, 3, w, 4, on ? "mamba embed-entry" : "mamba");
    }
    ll_model_free(m);
}

/* The newer families at T = 1, 5, 40 (fixture shapes copied from their
 * config.json by hand; the lm head is never counted, as above). */
TEST(families_cost_newfam) {
    ll_cost w[8];
    const int Ts[] = {1, 5, 40};
    for (int ti = 0; ti < 3; ti++) {
        const int T = Ts[ti];
        /* phi: C 32, 4 heads of 8 (no GQA), F 64, V 100, partial RoPE; one
         * LayerNorm feeds attention and MLP in parallel; q/k/v/dense/fc biases;
         * final LayerNorm with bias */
        ll_model *m = ll_model_load(fx("phi"));
        REQUIRE(m);
        {
            double C = 32, F = 64;
            double lp = 2 * C + 3 * (C * C + C) + (C * C + C) + (C * F + F) + (F * C + C);
            tf_want(w, 3, C, 4, 4, 8, F, 100, 0, 0, T, 0, lp, 2 * C);
            check_cost(m, T, w, 4, "phi");
        }
        ll_model_free(m);
        /* phi3: C 32, 4 heads of 8, 2 kv heads, F 48 gated (gate_up fused), RMSNorm, no biases */
        m = ll_model_load(fx("phi3"));
        REQUIRE(m);
        {
            double C = 32, F = 48, Q = 32, KV = 16;
            double lp = 2 * C + Q * C + 2 * KV * C + C * Q + 3 * C * F;
            tf_want(w, 3, C, 4, 2, 8, F, 100, 0, 1, T, 0, lp, C);
            check_cost(m, T, w, 4, "phi3");
        }
        ll_model_free(m);
        /* gemma: C 32, 4 heads of 8, 2 kv heads, F 48 gated, RMSNorm, tied, no window */
        m = ll_model_load(fx("gemma"));
        REQUIRE(m);
        {
            double C = 32, F = 48, Q = 32, KV = 16;
            double lp = 2 * C + Q * C + 2 * KV * C + C * Q + 3 * C * F;
            tf_want(w, 3, C, 4, 2, 8, F, 100, 0, 1, T, 0, lp, C);
            check_cost(m, T, w, 4, "gemma");
        }
        ll_model_free(m);
        /* gemma2: as gemma + post-attention and post-FFN sandwich norms; window 8
         * on the "sliding_attention" layers 0 and 2 only (layer 1 full) */
        m = ll_model_load(fx("gemma2"));
        REQUIRE(m);
        {
            double C = 32, F = 48, Q = 32, KV = 16;
            double lp = 4 * C + Q * C + 2 * KV * C + C * Q + 3 * C * F;
            tf_want(w, 3, C, 4, 2, 8, F, 100, 0, 1, T, 8, lp, C);
            ll_cost full[4];
            tf_want(full, 3, C, 4, 2, 8, F, 100, 0, 1, T, 0, lp, C);
            w[2] = full[2];
            check_cost(m, T, w, 4, "gemma2");
        }
        ll_model_free(m);
        /* qwen3: C 32, 4 heads of 16 (Q 64), 2 kv heads (KV 32), F 48 gated,
         * per-head q_norm / k_norm of 16, RMSNorm, no biases */
        m = ll_model_load(fx("qwen3"));
        REQUIRE(m);
        {
            double C = 32, F = 48, Q = 64, KV = 32, D = 16;
            double lp = 2 * C + Q * C + 2 * KV * C + C * Q + 3 * C * F + 2 * D;
            tf_want(w, 3, C, 4, 2, D, F, 100, 0, 1, T, 0, lp, C);
            check_cost(m, T, w, 4, "qwen3");
        }
        ll_model_free(m);
        /* openai-gpt: post-LN, C 32, 4 heads of 8, F = 4C = 128, V 100, 64
         * positions, all biases, no final norm, causal */
        m = ll_model_load(fx("openai-gpt"));
        REQUIRE(m);
        {
            double C = 32, F = 128;
            double lp = (3 * C * C + 3 * C) + (C * C + C) + 2 * C + (C * F + F) + (F * C + C) + 2 * C;
            tf_want(w, 3, C, 4, 4, 8, F, 100, 64, 0, T, 0, lp, 0);
            w[3].act_bytes -= 4 * C; /* no final norm */
            check_cost(m, T, w, 4, "openai-gpt");
        }
        ll_model_free(m);
        /* bert / roberta: post-LN encoders, C 32, 4 heads of 8, F 64, V 100;
         * entry 0 = LayerNorm(word + token_type + position): tables V, types
         * (2 / 1) and positions (64 / 66) plus the LayerNorm; every layer
         * attends to all T keys (bidirectional), not the causal mean */
        const char *encs[] = {"bert", "roberta"};
        const double types[] = {2, 1}, poss[] = {64, 66};
        for (int k = 0; k < 2; k++) {
            m = ll_model_load(fx(encs[k]));
            REQUIRE(m);
            double C = 32, F = 64, Q = 32;
            double lp = 4 * (C * C + C) + 2 * C + (C * F + F) + (F * C + C) + 2 * C;
            tf_want(w, 3, C, 4, 4, 8, F, 100, poss[k], 0, T, 0, lp, 0);
            w[0].weight_bytes += 4 * (types[k] * C + 2 * C);
            for (int l = 0; l < 3; l++) w[l + 1].flops += 2 * 2 * Q * (T - mean_keys(T, 0));
            w[3].act_bytes -= 4 * C; /* no final norm */
            check_cost(m, T, w, 4, encs[k]);
            ll_model_free(m);
        }
    }
}

/* t5 (and t5_gated): Le = Ld = 2, C 32, 4 heads of d_kv 8 (Q 32), F 64, V 100,
 * relative-bias tables [8 buckets, 4 heads] stored in block 0 of each stack,
 * RMS-style norms without bias, no biases anywhere.  Entries: 0 encoder
 * embeddings, 1..2 encoder blocks (2 + encoder final norm), 3 decoder
 * embeddings (the shared table read again), 4..5 decoder blocks (5 + decoder
 * final norm).  The encoder attends to all T keys; the decoder's self-attention
 * is causal and its cross-attention reads all T encoder positions (k, v of the
 * encoder output: one projection per encoder position, i.e. per token). */
TEST(families_cost_t5) {
    ll_cost w[6];
    const int Ts[] = {1, 5, 40};
    const char *fxs[] = {"t5", "t5_gated"};
    for (int g = 0; g < 2; g++) {
        ll_model *m = ll_model_load(fx(fxs[g]));
        REQUIRE(m);
        REQUIRE(ll_model_n_entries(m) == 6);
        const double C = 32, Q = 32, F = 64, V = 100, NB = 8, H = 4;
        const double nup = g ? 2 : 1; /* gated: wi_0 and wi_1 */
        const double ffn_fl = 2 * (nup + 1) * C * F, ffn_w = (nup + 1) * C * F, ffn_a = nup * F + C;
        for (int ti = 0; ti < 3; ti++) {
            const int T = Ts[ti];
            memset(w, 0, sizeof w);
            for (int s = 0; s < 2; s++) {
                const int base = s ? 3 : 0;
                w[base].weight_bytes = 4 * V * C;
                w[base].act_bytes = 4 * C;
                for (int l = 0; l < 2; l++) {
                    ll_cost *e = &w[base + 1 + l];
                    const double keys = s ? mean_keys(T, 0) : T;
                    /* self-attention: q k v, scores + mixing, o; then the FFN */
                    e->flops = 2 * C * 3 * Q + 2 * 2 * Q * keys + 2 * Q * C + ffn_fl;
                    e->weight_bytes = 4 * (C + 4 * C * Q + C + ffn_w);
                    e->act_bytes = 4 * (3 * Q + Q + C + ffn_a);
                    if (s) { /* cross-attention: its own norm, q k v o, all T encoder keys */
                        e->flops += 2 * C * 3 * Q + 2 * 2 * Q * T + 2 * Q * C;
                        e->weight_bytes += 4 * (C + 4 * C * Q);
                        e->act_bytes += 4 * (3 * Q + Q + C);
                    }
                    if (l == 0) e->weight_bytes += 4 * NB * H;
                }
                w[base + 2].weight_bytes += 4 * C; /* the stack's final norm */
                w[base + 2].act_bytes += 4 * C;
            }
            check_cost(m, T, w, 6, fxs[g]);
        }
        ll_model_free(m);
    }
}

/* mamba2: C 32, expand 2 (I 64), 8 heads of 8, 2 groups, state N 8, conv K 4
 * with bias, no in/out bias, gated RMSNorm over I, V 100, untied.  in_proj
 * makes [gate z I | x I | B G·N | C G·N | dt H]; the conv runs over x, B, C
 * (conv_dim = I + 2GN); the SSM state is [H, hd, N] = I·N: update and readout
 * 2 flops each per state entry (as for mamba). */
TEST(families_cost_mamba2) {
    ll_cost w[4];
    ll_model *m = ll_model_load(fx("mamba2"));
    REQUIRE(m);
    const double C = 32, I = 64, H = 8, G = 2, N = 8, K = 4, V = 100;
    const double CD = I + 2 * G * N, P = I + CD + H;
    const double fl = 2 * C * P + 2 * CD * K + 4 * I * N + 2 * I * C;
    const double wb = 4 * (C + P * C + CD * K + CD + 3 * H + I + C * I);
    /* outputs: in_proj, conv, SSM y (gate + norm applied to it: norm outputs are
     * not counted inside blocks, as in the transformers), out_proj */
    const double ab = 4 * (P + CD + I + C);
    const int Ts[] = {1, 5, 40};
    for (int on = 0; on < 2; on++) {
        REQUIRE(ll_model_set_embedding_entry(m, on) == 0);
        for (int ti = 0; ti < 3; ti++) {
            memset(w, 0, sizeof w);
            w[0].weight_bytes = 4 * V * C;
            w[0].act_bytes = 4 * C;
            for (int l = 0; l < 3; l++) {
                int e = on ? l + 1 : l;
                w[e].flops += fl;
                w[e].weight_bytes += wb;
                w[e].act_bytes += ab;
            }
            w[3].weight_bytes += 4 * C;
            w[3].act_bytes += 4 * C;
            check_cost(m, Ts[ti], w, 4, on ? "mamba2 embed-entry" : "mamba2");
        }
    }
    ll_model_free(m);
}

TEST(families_model_api) {
    ll_model *m = ll_model_load(fx("gpt2"));
    REQUIRE(m);
    CHECK_INT(ll_model_max_positions(m), 64);
    CHECK(ll_model_set_embedding_entry(m, 1) == -1);
    CHECK(strstr(ll_last_error(), "tests/fixtures/models/gpt2") && strstr(ll_last_error(), "gpt2"));
    cJSON *j = ll_model_describe(m);
    CHECK(!strcmp(cJSON_GetObjectItem(j, "model_type")->valuestring, "gpt2"));
    CHECK_INT((int)cJSON_GetObjectItem(j, "n_entries")->valuedouble, 4);
    CHECK_INT((int)cJSON_GetObjectItem(j, "n_heads")->valuedouble, 4);
    CHECK(!strcmp(cJSON_GetObjectItem(j, "norm")->valuestring, "layernorm"));
    cJSON_Delete(j);
    /* no recurrent state for transformers */
    CHECK(ll_model_state_new(m, ll_cpu_ops(), NULL, 1) == NULL);
    ll_model_free(m);
    m = ll_model_load(fx("llama_gqa"));
    REQUIRE(m);
    CHECK_INT(ll_model_max_positions(m), 0);
    ll_model_free(m);
    m = ll_model_load(fx("mamba"));
    REQUIRE(m);
    j = ll_model_describe(m);
    CHECK_INT((int)cJSON_GetObjectItem(j, "state_size")->valuedouble, 8);
    CHECK_INT((int)cJSON_GetObjectItem(j, "time_step_rank")->valuedouble, 2);
    cJSON_Delete(j);
    ll_model_free(m);
}

/* ---- synthetic models ---- */
typedef struct {
    ll_capture base;
    int calls, nonfinite;
    double sumsq;
} finite_cap;
static int finite_on_entry(ll_capture *self, int e, const float *h, const int32_t *tokens, const int *lens, int B, int T,
                           int C) {
    finite_cap *f = (finite_cap *)self;
    f->calls++;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < lens[b]; t++)
            for (int c = 0; c < C; c++) {
                float v = h[((size_t)b * T + t) * C + c];
                if (!isfinite(v)) f->nonfinite++;
                f->sumsq += (double)v * v;
            }
    return 0;
}

TEST(families_synthetic) {
    const char *names[] = {"gpt2", "neox_parallel", "llama_gqa", "qwen2", "rwkv", "mamba"};
    void *ctx = ll_cpu_ctx_new(1);
    for (int i = 0; i < 6; i++) {
        char cfg[1200];
        snprintf(cfg, sizeof cfg, "%s/config.json", fx(names[i]));
        ll_model *a = ll_model_synthetic(cfg, NULL, 7), *b = ll_model_synthetic(cfg, NULL, 7),
                 *c = ll_model_synthetic(cfg, NULL, 8), *real = ll_model_load(fx(names[i]));
        REQUIRE_MSG(a && b && c && real, "%s: %s", names[i], ll_last_error());
        /* same tensors as the real checkpoint (every tensor the family binds) */
        /* (the rwkv fixture has an untied head.weight, optional: a synthetic model has none) */
        size_t want = real->n_params - (strcmp(names[i], "rwkv") ? 0 : 100 * 32);
        CHECK_MSG(a->n_params == want, "%s: %zu vs %zu params", names[i], a->n_params, want);
        CHECK_INT(a->n_slots, real->n_slots - (strcmp(names[i], "rwkv") ? 0 : 1));
        /* every weight: same seed, same values; another seed, other values */
        REQUIRE(a->n_slots == b->n_slots && a->n_slots == c->n_slots);
        int same_ab = 1, same_ac = 1;
        for (int s = 0; s < a->n_slots; s++) {
            const ll_weight *wa = a->slots[s], *wb = b->slots[s], *wc = c->slots[s];
            size_t n = (size_t)(wa->rows * wa->cols) * ll_dtype_size(wa->dtype);
            same_ab &= wa->rows == wb->rows && wa->cols == wb->cols && memcmp(wa->data, wb->data, n) == 0;
            same_ac &= memcmp(wa->data, wc->data, n) == 0;
        }
        CHECK(same_ab);
        CHECK(!same_ac);
        /* norm weights are 1 */
        CHECK(((const float *)a->norm_w.data)[0] == 1.0f);
        int32_t toks[2 * 6] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 0, 0};
        int lens[2] = {6, 3};
        finite_cap fc = {{finite_on_entry, NULL, NULL}, 0, 0, 0};
        REQUIRE_MSG(ll_model_forward(a, ll_cpu_ops(), ctx, toks, lens, 2, 6, &fc.base) == 0, "%s", ll_last_error());
        CHECK_INT(fc.calls, ll_model_n_entries(a));
        CHECK_INT(fc.nonfinite, 0);
        CHECK(fc.sumsq > 0);
        ll_model_free(a);
        ll_model_free(b);
        ll_model_free(c);
        ll_model_free(real);
    }
    ll_cpu_ctx_free(ctx);
    /* keep_half: matrices BF16 (for a GPU backend), vectors F32 */
    ll_load_opts keep = {1};
    ll_model *h = ll_model_synthetic("tests/fixtures/models/llama_gqa/config.json", &keep, 7);
    REQUIRE_MSG(h, "%s", ll_last_error());
    CHECK_INT(h->layers[0].q.dtype, LL_DT_BF16);
    CHECK_INT(h->layers[0].ln1_w.dtype, LL_DT_F32);
    CHECK(((const float *)h->layers[0].ln1_w.data)[3] == 1.0f);
    ll_model_free(h);
    CHECK(ll_model_synthetic("tests/fixtures/models/gpt2/model.safetensors", NULL, 1) == NULL);
    CHECK(strstr(ll_last_error(), "config.json") != NULL);
}

/* A store under GGUF names (as a GGUF reader would produce it; the names
 * written here by hand from gguf.constants for MODEL_ARCH.LLAMA) renamed by
 * ll_family_rename_gguf and bound by the llama family: the same forward,
 * bit for bit, as the safetensors checkpoint. */
typedef struct {
    ll_capture base;
    float *out;
    size_t n, cap;
} keep_cap;
static int keep_on_entry(ll_capture *self, int e, const float *h, const int32_t *tokens, const int *lens, int B, int T,
                         int C) {
    keep_cap *k = (keep_cap *)self;
    size_t add = (size_t)B * T * C;
    if (k->n + add > k->cap) return -1;
    memcpy(k->out + k->n, h, add * sizeof(float));
    k->n += add;
    return 0;
}

static void hf_to_gguf_llama(const char *hf, char *out, size_t cap) {
    static const char *const map[][2] = {
        {"self_attn.q_proj.weight", "attn_q.weight"}, {"self_attn.k_proj.weight", "attn_k.weight"},
        {"self_attn.v_proj.weight", "attn_v.weight"}, {"self_attn.o_proj.weight", "attn_output.weight"},
        {"mlp.gate_proj.weight", "ffn_gate.weight"},  {"mlp.up_proj.weight", "ffn_up.weight"},
        {"mlp.down_proj.weight", "ffn_down.weight"},  {"input_layernorm.weight", "attn_norm.weight"},
        {"post_attention_layernorm.weight", "ffn_norm.weight"},
    };
    int layer;
    char rest[256];
    if (sscanf(hf, "model.layers.%d.%255s", &layer, rest) == 2) {
        for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
            if (!strcmp(rest, map[i][0])) { snprintf(out, cap, "blk.%d.%s", layer, map[i][1]); return; }
    }
    if (!strcmp(hf, "model.embed_tokens.weight")) snprintf(out, cap, "token_embd.weight");
    else if (!strcmp(hf, "model.norm.weight")) snprintf(out, cap, "output_norm.weight");
    else if (!strcmp(hf, "lm_head.weight")) snprintf(out, cap, "output.weight");
    else snprintf(out, cap, "unknown.%s", hf);
}

static int cmp_tensor_name(const void *a, const void *b) {
    return strcmp(((const ll_st_tensor *)a)->name, ((const ll_st_tensor *)b)->name);
}

TEST(families_gguf_store_binds) {
    const char *dir = "tests/fixtures/models/llama_gqa";
    ll_safetensors st;
    REQUIRE(ll_st_open_dir(&st, dir) == 0);
    for (int i = 0; i < st.n_tensors; i++) {
        char g[256];
        hf_to_gguf_llama(st.tensors[i].name, g, sizeof g);
        CHECK_MSG(strncmp(g, "unknown.", 8), "%s", st.tensors[i].name);
        free(st.tensors[i].name);
        st.tensors[i].name = ll_xstrdup(g);
    }
    qsort(st.tensors, (size_t)st.n_tensors, sizeof(ll_st_tensor), cmp_tensor_name);
    REQUIRE(ll_family_rename_gguf(ll_family_by_gguf_arch("llama"), &st, "x.gguf") == 0);
    ll_model *g = ll_model_load_st(dir, &st, "x.gguf", NULL), *h = ll_model_load(dir);
    REQUIRE_MSG(g && h, "%s", ll_last_error());
    int32_t toks[2 * 7] = {5, 9, 13, 2, 77, 31, 8, 4, 4, 61, 0, 0, 0, 0};
    int lens[2] = {7, 4};
    void *ctx = ll_cpu_ctx_new(1);
    const size_t cap = (size_t)2 * 7 * 32 * 4;
    keep_cap a = {{keep_on_entry, NULL, NULL}, calloc(cap, sizeof(float)), 0, cap};
    keep_cap b = {{keep_on_entry, NULL, NULL}, calloc(cap, sizeof(float)), 0, cap};
    REQUIRE(ll_model_forward(g, ll_cpu_ops(), ctx, toks, lens, 2, 7, &a.base) == 0);
    REQUIRE(ll_model_forward(h, ll_cpu_ops(), ctx, toks, lens, 2, 7, &b.base) == 0);
    CHECK(a.n == cap && b.n == cap);
    /* real positions only (padding rows are not part of the contract) */
    int same = 1;
    for (int e = 0; e < 4; e++)
        for (int r = 0; r < 2; r++)
            for (int t = 0; t < lens[r]; t++) {
                size_t o = (((size_t)e * 2 + r) * 7 + t) * 32;
                same &= memcmp(a.out + o, b.out + o, 32 * sizeof(float)) == 0;
            }
    CHECK(same);
    free(a.out);
    free(b.out);
    ll_cpu_ctx_free(ctx);
    ll_model_free(g);
    ll_model_free(h);
    /* a GGUF tensor without a counterpart is named */
    REQUIRE(ll_st_open_dir(&st, dir) == 0);
    free(st.tensors[0].name);
    st.tensors[0].name = ll_xstrdup("blk.0.attn_rot_embd");
    CHECK(ll_family_rename_gguf(ll_family_find("llama"), &st, "y.gguf") == -1);
    CHECK(strstr(ll_last_error(), "y.gguf") && strstr(ll_last_error(), "blk.0.attn_rot_embd"));
    ll_st_close(&st);
}
