/* GGUF files written by llama.cpp's OWN converter (convert_hf_to_gguf.py at
 * ggml-org/llama.cpp@0c1e57098, tools/make_gguf_family_fixtures.py) from the
 * HF fixtures tests/fixtures/models/<name>: layerlaw's hidden states from the
 * file equal HF's on the same weights, every entry within 1e-5 of its scale
 * (max|diff|/max|ref|; float32 on both sides, sums in another order):
 *   F32:  HF's hidden.npy of the fixture (HF transformers 5.24, per sequence);
 *   Q8_0: conv_<name>.q8_0.hidden.npy, HF on the weights the file holds (each
 *         tensor the converter quantised replaced by gguf.quants' dequantised
 *         Q8_0 of it).  It must differ from the F32 file's states by far more
 *         than the tolerance, so that the quantised path is what is tested. */
#include "model_fixture.h"

#define TOL 1e-5

static void check_conv(const char *name) {
    char f32[512], q8[512], ref[512], msg[1024];
    snprintf(f32, sizeof f32, "tests/fixtures/gguf/conv_%s.f32.gguf", name);
    snprintf(q8, sizeof q8, "tests/fixtures/gguf/conv_%s.q8_0.gguf", name);
    snprintf(ref, sizeof ref, "tests/fixtures/gguf/conv_%s.q8_0.hidden.npy", name);
    cmp_result r;
    int rc = run_fixture_at(name, f32, 4, TOL, &r, msg, sizeof msg);
    CHECK_MSG(rc == 0, "%s: %s", f32, msg);
    if (rc == 0) CHECK_MSG(r.first_bad < 0, "%s: entry %d off by %.3g of scale", f32, r.first_bad, r.bad_rel);
    /* the Q8_0 file against HF on float32 weights: far apart (quantised) */
    cmp_result rf;
    rc = run_fixture_at(name, q8, 3, 1.0, &rf, msg, sizeof msg);
    CHECK_MSG(rc == 0, "%s: %s", q8, msg);
    if (rc == 0) CHECK_MSG(rf.max_rel > 100 * TOL, "%s: within %.3g of the float32 states: not quantised?", q8, rf.max_rel);
    /* and against HF on the dequantised weights: equal */
    cmp_result rq;
    rc = run_fixture_ref(name, q8, ref, 3, TOL, &rq, msg, sizeof msg);
    CHECK_MSG(rc == 0, "%s: %s", q8, msg);
    if (rc == 0) CHECK_MSG(rq.first_bad < 0, "%s: entry %d off by %.3g of scale (vs %s)", q8, rq.first_bad, rq.bad_rel, ref);
}

/* issue 25: attention_bias + mlp_bias (presence of the tensors is the flag) */
TEST(gguf_conv_llama_biases) { check_conv("llama_mlp_bias"); }
TEST(gguf_conv_gptneox_parallel) { check_conv("neox_parallel"); }
TEST(gguf_conv_gptneox_sequential) { check_conv("neox_sequential"); }
TEST(gguf_conv_phi2) { check_conv("phi"); }
TEST(gguf_conv_phi3) { check_conv("phi3"); }
TEST(gguf_conv_gemma) { check_conv("gemma"); }
TEST(gguf_conv_qwen3) { check_conv("qwen3"); }
TEST(gguf_conv_mamba) { check_conv("mamba"); }
TEST(gguf_conv_mamba2) { check_conv("mamba2"); }
TEST(gguf_conv_bert) { check_conv("bert"); }
/* Llama-3.1 scaling: the converter writes rope_freqs.weight, not the keys */
TEST(gguf_conv_llama3_rope_freqs) { check_conv("llama3_scaling"); }
/* the settings the file does not carry are llama.cpp's: fixtures built with them */
TEST(gguf_conv_gemma2) { check_conv("gemma2_qpas_hd"); }
TEST(gguf_conv_t5) { check_conv("t5_gated_maxd128"); }
/* RoBERTa: the converter writes it as bert with the position table cut by
 * padding_idx + 1, so positions 0.. equal HF's padding_idx + 1 + t */
TEST(gguf_conv_roberta_as_bert) { check_conv("roberta"); }
/* Phi-3 longrope: factors as tensors; short or long chosen per sequence (batches of 4 and 3 mix both) */
TEST(gguf_conv_phi3_longrope) { check_conv("phi3_longrope"); }
