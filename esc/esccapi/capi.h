/* Internal to the library: what the Go side of coolkey-esc.h keeps in C
 * memory, and the trampolines through which Go calls the caller's function
 * pointers (Go cannot call a C function pointer itself). None of these
 * names starts with coolkey_esc_, so the version script keeps them local. */
#ifndef COOLKEY_ESC_CAPI_H
#define COOLKEY_ESC_CAPI_H

#include <stddef.h>
#include <stdint.h>
#include "coolkey-esc.h"

/* The opaque answers handed to a login callback: only an integer that the
 * Go side looks up, valid while the callback runs. */
struct coolkey_esc_answers {
    int id;
};

/* An operation's callbacks and user data, copied at start. Go holds a
 * pointer to this C memory, never the user data itself (an arbitrary
 * void * must not sit in Go memory, where the collector would inspect it). */
typedef struct cke_op {
    coolkey_esc_callbacks cb;
    void *user_data;
} cke_op;

typedef struct cke_watch {
    coolkey_esc_event_fn fn;
    void *user_data;
} cke_watch;

/* user_data arrives as an integer: see coolkey_esc_start in capi.go. */
cke_op *cke_op_new(const coolkey_esc_callbacks *cb, uintptr_t user_data);
cke_watch *cke_watch_new(coolkey_esc_event_fn fn, uintptr_t user_data);
int cke_has_login(const cke_op *op);
int cke_has_new_pin(const cke_op *op);
int cke_has_progress(const cke_op *op);
int cke_call_login(const cke_op *op, const char *prompt_json, int answers_id);
int cke_call_new_pin(const cke_op *op, int min_len, int max_len, char *pin, size_t pin_size);
void cke_call_progress(const cke_op *op, int percent, const char *task, const char *text);
void cke_call_done(const cke_op *op, int result, int tps_status, const char *message);
void cke_call_event(const cke_watch *w, const char *event_json);
/* Zeroes n bytes in a way the compiler may not drop. */
void cke_wipe(void *p, size_t n);

#endif
