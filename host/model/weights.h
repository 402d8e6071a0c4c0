/* Which weight format a model folder holds (the format dispatch of the
 * model loader; the readers themselves know only their own format). */
#ifndef LL_MODEL_WEIGHTS_H
#define LL_MODEL_WEIGHTS_H
#include "io/safetensors.h"

/* The tensor store of a model folder, in this order of preference:
 * model.safetensors or model.safetensors.index.json (host/io/safetensors.c),
 * else pytorch_model.bin or pytorch_model.bin.index.json (the safe pickle
 * reader, host/io/torch_store.c).  (A .gguf file is recognised by its path
 * before this: ll_model_load_ex.)  0, or -1 + error naming the folder or
 * the file. */
int ll_model_open_weights(ll_safetensors *st, const char *dir);
#endif
