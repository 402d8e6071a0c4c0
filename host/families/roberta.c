/* RoBERTa (HF RobertaModel): BERT's encoder (families/bert.h) with positions
 * padding_idx + 1 + t (HF's create_position_ids_from_input_ids for text that
 * contains no pad id; the padding positions themselves are never read) and
 * the checkpoint prefix "roberta.". */
#include "families/bert.h"

static int parse_roberta(ll_model *m, ll_config *r) { return ll_bert_parse_common(m, r, 1); }

const ll_family ll_family_roberta = {
    .model_type = "roberta",
    .hf_prefix = "roberta.",
    .parse_config = parse_roberta,
    LL_BERT_FAMILY_FIELDS,
};
