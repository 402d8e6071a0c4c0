/* configs/shapes/<name>/config.json: the public shapes written for synthetic models.  Each
 * shape's parameter count, from the family's layer formula, must equal the
 * count the public checkpoint reports (the hub's safetensors metadata /
 * model cards, listed below): a wrong width, depth, head split, MLP width or
 * vocabulary changes it.  Shapes without a published exact count are checked
 * against the size in their name (within 10%: names round, e.g. rwkv 7b is
 * 7.39e9). */
#include <cJSON.h>
#include <dirent.h>
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "harness.h"
#include "core/ll_util.h"

static double geti(const cJSON *c, const char *k) {
    const cJSON *v = cJSON_GetObjectItem(c, k);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static double count_params(const cJSON *c) {
    const char *t = cJSON_GetObjectItem(c, "model_type")->valuestring;
    double V = geti(c, "vocab_size");
    if (!strcmp(t, "gpt2")) { /* wte + wpe + L (qkv, proj, fc, fc_proj, 2 LN) + ln_f; head tied */
        double d = geti(c, "n_embd"), L = geti(c, "n_layer");
        return V * d + geti(c, "n_positions") * d + L * (12 * d * d + 13 * d) + 2 * d;
    }
    if (!strcmp(t, "gpt_neox")) { /* embed_in + embed_out + L (qkv, dense, h->4h, 4h->h, 2 LN) + final LN */
        double d = geti(c, "hidden_size"), L = geti(c, "num_hidden_layers"), f = geti(c, "intermediate_size");
        return 2 * V * d + L * (4 * d * d + 4 * d + 2 * d * f + f + d + 4 * d) + 2 * d;
    }
    if (!strcmp(t, "llama") || !strcmp(t, "mistral") || !strcmp(t, "qwen2")) {
        double d = geti(c, "hidden_size"), L = geti(c, "num_hidden_layers"), f = geti(c, "intermediate_size"),
               H = geti(c, "num_attention_heads"), KV = geti(c, "num_key_value_heads"), hd = d / H;
        double bias = !strcmp(t, "qwen2") ? d + 2 * KV * hd : 0; /* q, k, v biases */
        double per = 2 * d * d + 2 * d * KV * hd + bias + 3 * d * f + 2 * d;
        double emb = V * d * (cJSON_IsTrue(cJSON_GetObjectItem(c, "tie_word_embeddings")) ? 1 : 2);
        return emb + L * per + d;
    }
    if (!strcmp(t, "mamba")) { /* in_proj, conv (w+b), x_proj, dt_proj (w+b), A_log, D, out_proj, norm */
        double d = geti(c, "hidden_size"), E = geti(c, "intermediate_size"), N = geti(c, "state_size"),
               R = geti(c, "time_step_rank"), k = geti(c, "conv_kernel");
        double per = d * 2 * E + E * k + E + E * (R + 2 * N) + R * E + E + E * N + E + E * d + d;
        return V * d + geti(c, "num_hidden_layers") * per + d;
    }
    if (!strcmp(t, "rwkv")) { /* att 4d² + 5d, ffn 9d² + 2d, 2 LN; pre_ln, ln_out; embeddings + head */
        double d = geti(c, "hidden_size"), L = geti(c, "num_hidden_layers");
        return 2 * V * d + L * (13 * d * d + 11 * d) + 2 * d + 2 * d;
    }
    /* the families added later (their shapes carry transformers 5 key names) */
    const double tie = cJSON_IsTrue(cJSON_GetObjectItem(c, "tie_word_embeddings"));
    if (!strcmp(t, "phi")) { /* q, k, v, dense with biases; fc1, fc2 with biases; one LN; final LN; head with bias */
        double d = geti(c, "hidden_size"), L = geti(c, "num_hidden_layers"), f = geti(c, "intermediate_size");
        return V * d + L * (4 * d * d + 4 * d + 2 * d * f + f + d + 2 * d) + 2 * d + (tie ? 0 : V * d + V);
    }
    if (!strcmp(t, "phi3") || !strcmp(t, "gemma") || !strcmp(t, "gemma2") || !strcmp(t, "qwen3")) {
        /* q, k, v, o (head_dim may differ from d / H), gate, up, down; RMS norms (gemma2: 4 a
         * layer, the sandwich ones; qwen3: + q_norm, k_norm of head_dim); final norm */
        double d = geti(c, "hidden_size"), L = geti(c, "num_hidden_layers"), f = geti(c, "intermediate_size"),
               H = geti(c, "num_attention_heads"), KV = geti(c, "num_key_value_heads");
        double hd = cJSON_IsNumber(cJSON_GetObjectItem(c, "head_dim")) ? geti(c, "head_dim") : d / H;
        double norms = !strcmp(t, "gemma2") ? 4 * d : 2 * d;
        double per = 2 * d * H * hd + 2 * d * KV * hd + 3 * d * f + norms + (!strcmp(t, "qwen3") ? 2 * hd : 0);
        return V * d * (tie ? 1 : 2) + L * per + d;
    }
    if (!strcmp(t, "bert") || !strcmp(t, "roberta")) { /* embeddings (word, position, type, LN); post-LN layers; no pooler */
        double d = geti(c, "hidden_size"), L = geti(c, "num_hidden_layers"), f = geti(c, "intermediate_size");
        return (V + geti(c, "max_position_embeddings") + geti(c, "type_vocab_size")) * d + 2 * d +
               L * (4 * d * d + 4 * d + 2 * d * f + f + d + 4 * d);
    }
    if (!strcmp(t, "openai-gpt")) { /* tokens + positions; post-LN layers with a 4d MLP; head tied */
        double d = geti(c, "n_embd"), L = geti(c, "n_layer"), f = 4 * d;
        return (V + geti(c, "n_positions")) * d + L * (4 * d * d + 4 * d + 2 * d * f + f + d + 4 * d);
    }
    if (!strcmp(t, "mamba2")) { /* in_proj (z, x, B, C, dt), conv (w + b), dt_bias, A_log, D, gated norm, out_proj, norm */
        double d = geti(c, "hidden_size"), E = geti(c, "expand") * d, G = geti(c, "n_groups"),
               N = geti(c, "state_size"), NH = geti(c, "num_heads"), k = geti(c, "conv_kernel");
        double conv = E + 2 * G * N;
        double per = d * (2 * E + 2 * G * N + NH) + conv * k + conv + 3 * NH + E + E * d + d;
        return V * d * (tie ? 1 : 2) + geti(c, "num_hidden_layers") * per + d;
    }
    if (!strcmp(t, "t5")) { /* shared embeddings; encoder (attention, FFN, 2 LN), decoder (+ cross-attention, 3 LN);
                              relative-position bias in each stack's first layer; final LNs */
        double d = geti(c, "d_model"), f = geti(c, "d_ff"), in = geti(c, "num_heads") * geti(c, "d_kv");
        const cJSON *fp = cJSON_GetObjectItem(c, "feed_forward_proj");
        double ff = (cJSON_IsString(fp) && !strncmp(fp->valuestring, "gated", 5) ? 3 : 2) * d * f;
        double bias = geti(c, "relative_attention_num_buckets") * geti(c, "num_heads");
        return V * d + geti(c, "num_layers") * (4 * d * in + ff + 2 * d) + bias + d +
               geti(c, "num_decoder_layers") * (8 * d * in + ff + 3 * d) + bias + d;
    }
    return NAN;
}

/* The later families' shapes: the parameter count of the model PyPI transformers 5.24
 * builds from the shape's config (tools/count_shape_params.py: decoders as
 * AutoModelForCausalLM, bert/roberta as AutoModel without the pooler, t5 as T5Model) —
 * equal to the public checkpoints' counts where those are published (phi-2 2779683840,
 * gemma-2b 2506172416, gemma-2-2b 2614341888, Qwen3-0.6B 596049920, t5-small 60506624). */
static const struct { const char *name; double params; } COUNTED[] = {
    {"phi-2-2.7b", 2779683840},     {"phi-3-mini-3.8b", 3821079552}, {"gemma-2.5b", 2506172416},
    {"gemma-2-2.6b", 2614341888},   {"qwen3-0.6b", 596049920},       {"bert-base-110m", 108891648},
    {"roberta-base-125m", 124055040}, {"openai-gpt-117m", 116534784}, {"mamba2-130m", 128989632},
    {"t5-small-60m", 60506624},
};

static const struct { const char *name; double params; } PUBLISHED[] = {
    {"gpt2", 124439808},           {"gpt2-medium", 354823168},    {"gpt2-large", 774030080},
    {"gpt2-xl", 1557611200},       {"pythia-70m", 70426624},      {"pythia-160m", 162322944},
    {"pythia-410m", 405334016},    {"pythia-1b", 1011781632},     {"pythia-1.4b", 1414647808},
    {"pythia-2.8b", 2775208960},   {"pythia-6.9b", 6857302016},   {"pythia-12b", 11846072320},
    {"llama-2-7b", 6738415616},    {"llama-2-13b", 13015864320},  {"llama-2-70b", 68976648192},
    {"llama-3-8b", 8030261248},    {"llama-3-70b", 70553706496},  {"mistral-7b", 7241732096},
    {"qwen2-0.5b", 494032768},     {"qwen2-1.5b", 1543714304},    {"qwen2-7b", 7615616512},
    {"mamba-130m", 129135360},     {"mamba-2.8b", 2768345600},    {"rwkv-4-169m", 169342464},
};

/* "rwkv-4-1b5" -> 1.5e9, "mamba-370m" -> 3.7e8 */
static double size_from_name(const char *n) {
    const char *p = strrchr(n, '-');
    if (!p) return NAN;
    p++;
    char *end;
    double v = strtod(p, &end);
    if (*end == 'b' && end[1] && isdigit((unsigned char)end[1])) v += atof(end + 1) / 10, end = (char *)"b";
    if (*end == 'm' || *end == 'M') return v * 1e6;
    if (*end == 'b' || *end == 'B') return v * 1e9;
    return NAN;
}

TEST(shapes_parameter_counts_match_public_checkpoints) {
    DIR *d = opendir("configs/shapes");
    REQUIRE(d);
    struct dirent *de;
    int n = 0, exact = 0, counted = 0;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        char path[600], name[256];
        snprintf(path, sizeof path, "configs/shapes/%s/config.json", de->d_name);
        snprintf(name, sizeof name, "%s", de->d_name);
        size_t len;
        char *t = ll_read_file(path, &len);
        cJSON *c = t ? cJSON_Parse(t) : NULL;
        free(t);
        REQUIRE_MSG(c, "%s: unreadable", path);
        CHECK_MSG(cJSON_IsString(cJSON_GetObjectItem(c, "comment")) &&
                      strstr(cJSON_GetObjectItem(c, "comment")->valuestring, "/"),
                  "%s: no comment naming the source", path);
        double got = count_params(c);
        int found = 0;
        for (size_t i = 0; i < sizeof PUBLISHED / sizeof PUBLISHED[0]; i++)
            if (!strcmp(PUBLISHED[i].name, name)) {
                found = 1;
                exact++;
                CHECK_MSG(got == PUBLISHED[i].params, "%s: %.0f parameters, the checkpoint has %.0f", name, got,
                          PUBLISHED[i].params);
            }
        for (size_t i = 0; i < sizeof COUNTED / sizeof COUNTED[0]; i++)
            if (!strcmp(COUNTED[i].name, name)) {
                counted++;
                CHECK_MSG(got == COUNTED[i].params, "%s: %.0f parameters by the formula, transformers builds %.0f", name,
                          got, COUNTED[i].params);
            }
        if (!found) {
            double nominal = size_from_name(name);
            CHECK_MSG(isfinite(nominal) && fabs(got / nominal - 1) < 0.10, "%s: %.0f parameters, name says %.3g", name,
                      got, nominal);
        }
        cJSON_Delete(c);
        n++;
    }
    closedir(d);
    CHECK(n >= 30);
    CHECK_INT(exact, (int)(sizeof PUBLISHED / sizeof PUBLISHED[0]));
    CHECK_INT(counted, (int)(sizeof COUNTED / sizeof COUNTED[0]));
}
