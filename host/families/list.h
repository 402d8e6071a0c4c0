/* The registered model families, one line each: LL_FAMILY(name) refers to
 * `const ll_family ll_family_<name>` defined in host/families/<name>.c.
 * Order = the order of the "supported: ..." list.  (X-macro: included by
 * registry.c with LL_FAMILY defined twice, for the declarations and the table.) */
LL_FAMILY(gpt2)
LL_FAMILY(gpt_neox)
LL_FAMILY(llama)
LL_FAMILY(mistral)
LL_FAMILY(qwen2)
LL_FAMILY(rwkv)
LL_FAMILY(mamba)
LL_FAMILY(phi)
LL_FAMILY(phi3)
LL_FAMILY(openai_gpt)
LL_FAMILY(bert)
LL_FAMILY(roberta)
LL_FAMILY(t5)
LL_FAMILY(gemma)
LL_FAMILY(gemma2)
LL_FAMILY(qwen3)
LL_FAMILY(mamba2)
