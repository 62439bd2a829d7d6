/* The C half of coolkey-esc.h: the functions that need no Go (free,
 * strerror) and the trampolines of capi.h. */
#include <stdlib.h>
#include <string.h>

#include "capi.h"

void coolkey_esc_free(void *p)
{
    free(p);
}

const char *coolkey_esc_strerror(int code)
{
    switch (code) {
    case COOLKEY_ESC_OK:
        return "success";
    case COOLKEY_ESC_ERR_INTERNAL:
        return "internal error";
    case COOLKEY_ESC_ERR_USAGE:
        return "the request cannot be carried out as given";
    case COOLKEY_ESC_ERR_REFUSED:
        return "the TPS refused the operation";
    case COOLKEY_ESC_ERR_CONNECTION:
        return "connection to the server failed";
    case COOLKEY_ESC_ERR_TRUST:
        return "the server's certificate is not trusted";
    case COOLKEY_ESC_ERR_CARD:
        return "card failure";
    case COOLKEY_ESC_ERR_CANCELLED:
        return "cancelled";
    case COOLKEY_ESC_ERR_HANDLE:
        return "unknown handle, operation or watch";
    case COOLKEY_ESC_ERR_ARGUMENTS:
        return "invalid arguments";
    case COOLKEY_ESC_ERR_IN_CALLBACK:
        return "called from a callback it would wait for";
    }
    return "unknown result code";
}

cke_op *cke_op_new(const coolkey_esc_callbacks *cb, uintptr_t user_data)
{
    cke_op *op = calloc(1, sizeof *op);
    if (op == NULL)
        return NULL;
    if (cb != NULL)
        op->cb = *cb;
    op->user_data = (void *)user_data;
    return op;
}

cke_watch *cke_watch_new(coolkey_esc_event_fn fn, uintptr_t user_data)
{
    cke_watch *w = calloc(1, sizeof *w);
    if (w == NULL)
        return NULL;
    w->fn = fn;
    w->user_data = (void *)user_data;
    return w;
}

int cke_has_login(const cke_op *op) { return op->cb.login != NULL; }
int cke_has_new_pin(const cke_op *op) { return op->cb.new_pin != NULL; }
int cke_has_progress(const cke_op *op) { return op->cb.progress != NULL; }

int cke_call_login(const cke_op *op, const char *prompt_json, int answers_id)
{
    struct coolkey_esc_answers a;
    a.id = answers_id;
    return op->cb.login(op->user_data, prompt_json, &a);
}

int cke_call_new_pin(const cke_op *op, int min_len, int max_len, char *pin, size_t pin_size)
{
    return op->cb.new_pin(op->user_data, min_len, max_len, pin, pin_size);
}

void cke_call_progress(const cke_op *op, int percent, const char *task, const char *text)
{
    op->cb.progress(op->user_data, percent, task, text);
}

void cke_call_done(const cke_op *op, int result, int tps_status, const char *message)
{
    if (op->cb.done != NULL)
        op->cb.done(op->user_data, result, tps_status, message);
}

void cke_call_event(const cke_watch *w, const char *event_json)
{
    w->fn(w->user_data, event_json);
}

void cke_wipe(void *p, size_t n)
{
    volatile unsigned char *b = p;
    while (n-- > 0)
        *b++ = 0;
}
