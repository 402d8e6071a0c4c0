/* Background tokenisation: one producer thread, a bounded FIFO of documents. */
#include "io/token_stream.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "io/corpus.h"
#include "core/ll_util.h"
#include "tokenizer/tokenizer.h"

typedef struct { int32_t *ids; int n; long long index; } item;

struct ll_token_stream {
    ll_tokenizer *tk;
    ll_corpus *c;
    int add_special, max_length;
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t not_empty, not_full;
    item *q; int cap, head, count;
    int done;    /* producer finished (end or error) */
    int failed;  /* producer hit an error: msg */
    int stop;    /* consumer asked to stop */
    char msg[1024];
};

static void *producer(void *arg) {
    ll_token_stream *s = arg;
    for (;;) {
        const char *t;
        size_t len;
        int r = ll_corpus_next(s->c, &t, &len);
        item it = {NULL, 0, 0};
        if (r == 1) {
            it.index = ll_corpus_doc_index(s->c);
            if (ll_tokenizer_encode(s->tk, t, len, s->add_special, s->max_length, &it.ids, &it.n) != 0) r = -1;
        }
        pthread_mutex_lock(&s->mu);
        if (r != 1) {
            if (r < 0) { s->failed = 1; snprintf(s->msg, sizeof s->msg, "%s", ll_last_error()); }
            s->done = 1;
            pthread_cond_broadcast(&s->not_empty);
            pthread_mutex_unlock(&s->mu);
            return NULL;
        }
        while (s->count == s->cap && !s->stop) pthread_cond_wait(&s->not_full, &s->mu);
        if (s->stop) {
            pthread_mutex_unlock(&s->mu);
            free(it.ids);
            return NULL;
        }
        s->q[(s->head + s->count) % s->cap] = it;
        s->count++;
        pthread_cond_signal(&s->not_empty);
        pthread_mutex_unlock(&s->mu);
    }
}

ll_token_stream *ll_token_stream_open(const ll_token_stream_opts *o) {
    ll_tokenizer *tk = ll_tokenizer_load(o->tokenizer);
    if (!tk) return NULL;
    if (o->max_length > 0 && o->add_special && o->max_length < ll_tokenizer_num_special(tk)) {
        ll_set_error("%s: max_length %d is smaller than the %d special tokens", o->tokenizer, o->max_length,
                     ll_tokenizer_num_special(tk));
        ll_tokenizer_free(tk);
        return NULL;
    }
    ll_corpus *c = ll_corpus_open_sampled(o->corpus, o->split, o->text_field, o->docs, o->seed);
    if (!c) { ll_tokenizer_free(tk); return NULL; }
    ll_token_stream *s = ll_xcalloc(1, sizeof *s);
    s->tk = tk;
    s->c = c;
    s->add_special = o->add_special;
    s->max_length = o->max_length;
    s->cap = o->queue > 0 ? o->queue : 64;
    s->q = ll_xcalloc((size_t)s->cap, sizeof *s->q);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->not_empty, NULL);
    pthread_cond_init(&s->not_full, NULL);
    if (pthread_create(&s->th, NULL, producer, s) != 0) {
        ll_set_error("%s: cannot start the tokenizer thread", o->corpus);
        ll_corpus_close(c);
        ll_tokenizer_free(tk);
        free(s->q);
        free(s);
        return NULL;
    }
    return s;
}

int ll_token_stream_next(ll_token_stream *s, int32_t **ids, int *n, long long *doc_index) {
    pthread_mutex_lock(&s->mu);
    while (s->count == 0 && !s->done) pthread_cond_wait(&s->not_empty, &s->mu);
    if (s->count == 0) {
        int failed = s->failed;
        if (failed) ll_set_error("%s", s->msg);
        pthread_mutex_unlock(&s->mu);
        return failed ? -1 : 0;
    }
    item it = s->q[s->head];
    s->head = (s->head + 1) % s->cap;
    s->count--;
    pthread_cond_signal(&s->not_full);
    pthread_mutex_unlock(&s->mu);
    *ids = it.ids;
    *n = it.n;
    if (doc_index) *doc_index = it.index;
    return 1;
}

int ll_token_stream_vocab_size(const ll_token_stream *s) { return ll_tokenizer_vocab_size(s->tk); }

void ll_token_stream_close(ll_token_stream *s) {
    if (!s) return;
    pthread_mutex_lock(&s->mu);
    s->stop = 1;
    pthread_cond_broadcast(&s->not_full);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->th, NULL);
    for (int i = 0; i < s->count; i++) free(s->q[(s->head + i) % s->cap].ids);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->not_empty);
    pthread_cond_destroy(&s->not_full);
    ll_corpus_close(s->c);
    ll_tokenizer_free(s->tk);
    free(s->q);
    free(s);
}
