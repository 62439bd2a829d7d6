/*
 * A GUI's use of coolkey-esc.h, as a test: list the cards, format a blank
 * virtual card and enroll it through the test TPS (credentials and the new
 * PIN answered from C, progress and card events received), reset the PIN,
 * and every misuse the API must survive: bad handles, NULL pointers, calls
 * from callbacks that would deadlock, cancellation from another thread and
 * from a callback, closing a handle with an operation running.
 *
 * Built by story_test.go against the freshly built libcoolkeypk11.so with
 * -std=c89 -pedantic -Werror, and run with the readers chosen by
 * COOLKEY_SIM and COOLKEY_PCSC=off. Arguments: TPS URL, CA file, user,
 * password, reader name. Prints one line per check; exits 0 when all pass.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "coolkey-esc.h"

static int failures;
static const char *tps_url, *ca_file, *user, *password, *reader;

#define CHECK(cond, what)                                                 \
    do {                                                                  \
        if (cond) {                                                       \
            printf("ok %s\n", what);                                      \
        } else {                                                          \
            printf("FAIL %s (line %d)\n", what, __LINE__);                \
            failures++;                                                   \
        }                                                                 \
        fflush(stdout);                                                   \
    } while (0)

#define CHECK_RC(call, want, what)                                        \
    do {                                                                  \
        int rc_ = (call);                                                 \
        if (rc_ == (want)) {                                              \
            printf("ok %s\n", what);                                      \
        } else {                                                          \
            char *e_ = coolkey_esc_last_error(0);                         \
            printf("FAIL %s: got %d (%s), want %d (line %d)\n", what, rc_, \
                   coolkey_esc_strerror(rc_), want, __LINE__);            \
            coolkey_esc_free(e_);                                         \
            failures++;                                                   \
        }                                                                 \
        fflush(stdout);                                                   \
    } while (0)

static void sleep_ms(long ms)
{
    struct timespec ts;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;
    nanosleep(&ts, NULL);
}

/* count returns the number of times needle occurs in s. */
static int count(const char *s, const char *needle)
{
    int n = 0;
    if (s == NULL)
        return 0;
    while ((s = strstr(s, needle)) != NULL) {
        n++;
        s += strlen(needle);
    }
    return n;
}

static void print_last_error(coolkey_esc_handle h, const char *what)
{
    char *e = coolkey_esc_last_error(h);
    printf("# %s: last error: %s\n", what, e != NULL ? e : "(none)");
    coolkey_esc_free(e);
}

/* What one operation's callbacks saw; shared with the main thread. */
struct op_state {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    coolkey_esc_handle h;
    coolkey_esc_op *op;   /* the variable coolkey_esc_start fills */
    const char *pass;     /* password to answer */
    const char *pin;      /* new PIN to answer */
    int cancel_in_login;  /* return nonzero from login */
    int block_in_login;   /* wait in login until released */
    int sleep_in_login;   /* milliseconds to sleep in login */
    int released;
    int in_login;
    int logins, pins, progresses, dones;
    int op_known_in_callback; /* *op was set when the first callback ran */
    int reentry_checks_ok;
    int last_percent;
    int saw_keygen_task;
    int done_result, done_status;
    char done_message[512];
};

static void op_state_init(struct op_state *s, coolkey_esc_handle h, coolkey_esc_op *op)
{
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cond, NULL);
    s->h = h;
    s->op = op;
    s->pass = password;
    s->pin = "13579";
    s->done_result = -1;
}

static int on_login(void *ud, const char *prompt_json, coolkey_esc_answers *answers)
{
    struct op_state *s = ud;
    int rc = 0;

    pthread_mutex_lock(&s->mu);
    s->logins++;
    s->in_login = 1;
    if (*s->op != 0)
        s->op_known_in_callback = 1;
    pthread_cond_broadcast(&s->cond);
    while (s->block_in_login && !s->released)
        pthread_cond_wait(&s->cond, &s->mu);
    pthread_mutex_unlock(&s->mu);
    if (s->sleep_in_login)
        sleep_ms(s->sleep_in_login);

    /* Calls that would wait for this very callback must refuse. */
    if (coolkey_esc_wait(s->h, *s->op, NULL) == COOLKEY_ESC_ERR_IN_CALLBACK &&
        coolkey_esc_close(s->h) == COOLKEY_ESC_ERR_IN_CALLBACK &&
        coolkey_esc_answer(answers, "NOT-ASKED", "x") == COOLKEY_ESC_ERR_ARGUMENTS &&
        coolkey_esc_answer(answers, NULL, "x") == COOLKEY_ESC_ERR_ARGUMENTS &&
        coolkey_esc_answer(answers, "UID", NULL) == COOLKEY_ESC_ERR_ARGUMENTS &&
        strstr(prompt_json, "\"id\":\"UID\"") != NULL &&
        strstr(prompt_json, "\"id\":\"PASSWORD\"") != NULL &&
        strstr(prompt_json, "\"secret\":true") != NULL)
        s->reentry_checks_ok = 1;
    else
        printf("# login prompt: %s\n", prompt_json);

    if (s->cancel_in_login)
        rc = 1;
    else if (coolkey_esc_answer(answers, "UID", "someone-else") != COOLKEY_ESC_OK ||
             coolkey_esc_answer(answers, "UID", user) != COOLKEY_ESC_OK ||
             coolkey_esc_answer(answers, "PASSWORD", s->pass) != COOLKEY_ESC_OK)
        rc = 1;
    pthread_mutex_lock(&s->mu);
    s->in_login = 0;
    pthread_mutex_unlock(&s->mu);
    return rc;
}

static int on_new_pin(void *ud, int min_len, int max_len, char *pin, size_t pin_size)
{
    struct op_state *s = ud;
    size_t n = strlen(s->pin);
    pthread_mutex_lock(&s->mu);
    s->pins++;
    pthread_mutex_unlock(&s->mu);
    if ((int)n < min_len || (max_len > 0 && (int)n > max_len) || n + 1 > pin_size)
        return 1;
    memcpy(pin, s->pin, n + 1);
    return 0;
}

static void on_progress(void *ud, int percent, const char *task, const char *text)
{
    struct op_state *s = ud;
    pthread_mutex_lock(&s->mu);
    s->progresses++;
    s->last_percent = percent;
    if (strcmp(task, "PROGRESS_KEY_GENERATION") == 0 && strstr(text, "keys") != NULL)
        s->saw_keygen_task = 1;
    pthread_mutex_unlock(&s->mu);
}

static void on_done(void *ud, int result, int tps_status, const char *message)
{
    struct op_state *s = ud;
    pthread_mutex_lock(&s->mu);
    s->dones++;
    s->done_result = result;
    s->done_status = tps_status;
    strncpy(s->done_message, message, sizeof s->done_message - 1);
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->mu);
}

static coolkey_esc_callbacks all_callbacks(void)
{
    coolkey_esc_callbacks cb;
    cb.login = on_login;
    cb.new_pin = on_new_pin;
    cb.progress = on_progress;
    cb.done = on_done;
    return cb;
}

/* run starts an operation, waits for it and checks what every callback
 * saw. It returns the wait's result. */
static int run(coolkey_esc_handle h, int operation, const char *url, struct op_state *s,
               coolkey_esc_op *op, const char *what)
{
    coolkey_esc_callbacks cb = all_callbacks();
    char *msg = NULL;
    int rc, result;
    char line[256];

    rc = coolkey_esc_start(h, operation, reader, url, NULL, &cb, s, op);
    sprintf(line, "%s: start", what);
    CHECK_RC(rc, COOLKEY_ESC_OK, line);
    if (rc != COOLKEY_ESC_OK) {
        print_last_error(h, what);
        return rc;
    }
    result = coolkey_esc_wait(h, *op, &msg);
    sprintf(line, "%s: done called once, with the result wait returns", what);
    CHECK(s->dones == 1 && s->done_result == result, line);
    sprintf(line, "%s: wait's message is done's", what);
    CHECK(msg != NULL && strcmp(msg, s->done_message) == 0, line);
    printf("# %s: result %d, TPS status %d: %s\n", what, result, s->done_status, msg ? msg : "");
    coolkey_esc_free(msg);
    sprintf(line, "%s: waiting again is a bad handle", what);
    CHECK_RC(coolkey_esc_wait(h, *op, NULL), COOLKEY_ESC_ERR_HANDLE, line);
    return result;
}

/* Card events seen by the watch. */
struct events {
    pthread_mutex_t mu;
    int inserted, removed, total;
    char last[512];
};

static void on_event(void *ud, const char *event_json)
{
    struct events *e = ud;
    pthread_mutex_lock(&e->mu);
    e->total++;
    if (strstr(event_json, reader) != NULL) {
        if (strstr(event_json, "\"kind\":\"card-inserted\"") != NULL)
            e->inserted++;
        if (strstr(event_json, "\"kind\":\"card-removed\"") != NULL)
            e->removed++;
    }
    strncpy(e->last, event_json, sizeof e->last - 1);
    pthread_mutex_unlock(&e->mu);
}

/* A done callback that only checks the user data it gets back. */
static int small_user_data_ok;
static void on_done_small(void *ud, int result, int tps_status, const char *message)
{
    (void)tps_status;
    (void)message;
    small_user_data_ok = ud == (void *)1 && result == COOLKEY_ESC_ERR_CANCELLED;
}

struct cancel_args {
    coolkey_esc_handle h;
    coolkey_esc_op *op;
    struct op_state *s;
    int rc;
};

/* canceller waits until the operation's login callback is running, then
 * cancels from this thread and lets the callback answer. */
static void *canceller(void *p)
{
    struct cancel_args *a = p;
    pthread_mutex_lock(&a->s->mu);
    while (!a->s->in_login)
        pthread_cond_wait(&a->s->cond, &a->s->mu);
    pthread_mutex_unlock(&a->s->mu);
    a->rc = coolkey_esc_cancel(a->h, *a->op);
    pthread_mutex_lock(&a->s->mu);
    a->s->released = 1;
    pthread_cond_broadcast(&a->s->cond);
    pthread_mutex_unlock(&a->s->mu);
    return NULL;
}

static void misuse_without_handle(void)
{
    char *s = (char *)"untouched";
    char *e;

    CHECK(coolkey_esc_version() != NULL && coolkey_esc_version()[0] != '\0', "version");
    printf("# version %s\n", coolkey_esc_version());
    CHECK(coolkey_esc_api_version() == COOLKEY_ESC_API_VERSION, "API version");
    CHECK(strcmp(coolkey_esc_strerror(COOLKEY_ESC_ERR_HANDLE), "unknown result code") != 0 &&
              strcmp(coolkey_esc_strerror(12345), "unknown result code") == 0,
          "strerror");
    coolkey_esc_free(NULL);

    CHECK_RC(coolkey_esc_open(NULL), COOLKEY_ESC_ERR_ARGUMENTS, "open(NULL)");
    e = coolkey_esc_last_error(0);
    CHECK(e != NULL && strstr(e, "NULL") != NULL, "open(NULL) leaves a message under handle 0");
    coolkey_esc_free(e);

    CHECK_RC(coolkey_esc_list_cards(424242, &s), COOLKEY_ESC_ERR_HANDLE, "list_cards on a bad handle");
    e = coolkey_esc_last_error(424242);
    CHECK(e != NULL && strstr(e, "424242") != NULL, "a bad handle's message names it");
    coolkey_esc_free(e);
    CHECK_RC(coolkey_esc_card_status(0, NULL, &s), COOLKEY_ESC_ERR_HANDLE, "card_status on handle 0");
    CHECK_RC(coolkey_esc_phone_home(-1, NULL, NULL, &s), COOLKEY_ESC_ERR_HANDLE, "phone_home on handle -1");
    CHECK_RC(coolkey_esc_start(424242, COOLKEY_ESC_OP_ENROLL, NULL, NULL, NULL, NULL, NULL, NULL),
             COOLKEY_ESC_ERR_HANDLE, "start on a bad handle");
    CHECK_RC(coolkey_esc_cancel(424242, 1), COOLKEY_ESC_ERR_HANDLE, "cancel on a bad handle");
    CHECK_RC(coolkey_esc_wait(424242, 1, &s), COOLKEY_ESC_ERR_HANDLE, "wait on a bad handle");
    CHECK(s == NULL, "a failed wait sets *message to NULL");
    CHECK_RC(coolkey_esc_close(424242), COOLKEY_ESC_ERR_HANDLE, "close of a bad handle");
    CHECK_RC(coolkey_esc_add_ca_file(424242, ca_file), COOLKEY_ESC_ERR_HANDLE, "add_ca_file on a bad handle");
    CHECK_RC(coolkey_esc_watch_start(424242, on_event, NULL, NULL), COOLKEY_ESC_ERR_HANDLE,
             "watch_start on a bad handle");
    CHECK_RC(coolkey_esc_watch_stop(424242, 1), COOLKEY_ESC_ERR_HANDLE, "watch_stop on a bad handle");
    CHECK_RC(coolkey_esc_answer(NULL, "UID", "x"), COOLKEY_ESC_ERR_ARGUMENTS, "answer(NULL)");
}

int main(int argc, char **argv)
{
    coolkey_esc_handle h = 0, h2 = 0;
    coolkey_esc_op op = 0, op2 = 0, watch = 0;
    coolkey_esc_callbacks cb;
    struct op_state st;
    struct events ev;
    struct cancel_args ca;
    pthread_t thr;
    char *json = NULL, *s = NULL;
    int rc, i;

    if (argc != 6) {
        fprintf(stderr, "usage: %s TPS-URL CA-FILE USER PASSWORD READER\n", argv[0]);
        return 2;
    }
    tps_url = argv[1];
    ca_file = argv[2];
    user = argv[3];
    password = argv[4];
    reader = argv[5];

    misuse_without_handle();

    CHECK_RC(coolkey_esc_open(&h), COOLKEY_ESC_OK, "open");
    CHECK(h != 0, "a handle is not 0");
    CHECK(coolkey_esc_last_error(h) == NULL, "a new handle has no last error");
    CHECK_RC(coolkey_esc_list_cards(h, NULL), COOLKEY_ESC_ERR_ARGUMENTS, "list_cards(NULL)");
    s = coolkey_esc_last_error(h);
    CHECK(s != NULL && strstr(s, "NULL") != NULL, "list_cards(NULL)'s message is kept on the handle");
    coolkey_esc_free(s);
    CHECK_RC(coolkey_esc_add_ca_file(h, NULL), COOLKEY_ESC_ERR_ARGUMENTS, "add_ca_file(NULL)");
    CHECK_RC(coolkey_esc_add_ca_file(h, "/nonexistent/ca.pem"), COOLKEY_ESC_ERR_USAGE, "add_ca_file of a missing file");
    CHECK_RC(coolkey_esc_add_ca_file(h, argv[0]), COOLKEY_ESC_ERR_USAGE, "add_ca_file of a file that is not PEM");
    CHECK_RC(coolkey_esc_add_ca_file(h, ca_file), COOLKEY_ESC_OK, "add_ca_file");

    /* The blank card. */
    CHECK_RC(coolkey_esc_list_cards(h, &json), COOLKEY_ESC_OK, "list_cards");
    printf("# cards: %s\n", json ? json : "");
    CHECK(json != NULL && json[0] == '[' && strstr(json, reader) != NULL &&
              strstr(json, "\"status\":\"NO_APPLET\"") != NULL,
          "list_cards shows the blank card");
    coolkey_esc_free(json);
    json = NULL;
    CHECK_RC(coolkey_esc_card_status(h, NULL, &json), COOLKEY_ESC_OK, "card_status of the only card");
    CHECK(json != NULL && strstr(json, "\"status\":\"NO_APPLET\"") != NULL && strstr(json, "\"cuid\":\"") != NULL,
          "card_status says NO_APPLET, with the CUID");
    coolkey_esc_free(json);
    json = (char *)"untouched";
    CHECK_RC(coolkey_esc_card_status(h, "no such reader", &json), COOLKEY_ESC_ERR_USAGE, "card_status of an unknown reader");
    CHECK(json == NULL, "a failed call sets *json to NULL");

    CHECK_RC(coolkey_esc_start(h, 42, NULL, tps_url, NULL, NULL, NULL, &op), COOLKEY_ESC_ERR_ARGUMENTS,
             "start of an unknown operation");
    CHECK_RC(coolkey_esc_start(h, COOLKEY_ESC_OP_FORMAT, NULL, tps_url, NULL, NULL, NULL, NULL),
             COOLKEY_ESC_ERR_ARGUMENTS, "start with a NULL op pointer");
    CHECK_RC(coolkey_esc_start(h, COOLKEY_ESC_OP_FORMAT, "no such reader", tps_url, NULL, NULL, NULL, &op),
             COOLKEY_ESC_ERR_USAGE, "start on an unknown reader");
    CHECK_RC(coolkey_esc_start(h, COOLKEY_ESC_OP_RESET_PIN, NULL, tps_url, NULL, NULL, (void *)1, &op),
             COOLKEY_ESC_OK, "start a PIN reset on a blank card (fails in the operation)");
    CHECK_RC(coolkey_esc_wait(h, op, NULL), COOLKEY_ESC_ERR_USAGE, "a PIN reset needs an enrolled card");

    /* Format, with the TPS URL given. */
    op_state_init(&st, h, &op);
    rc = run(h, COOLKEY_ESC_OP_FORMAT, tps_url, &st, &op, "format");
    CHECK(rc == COOLKEY_ESC_OK, "format succeeds");
    CHECK(st.logins == 1 && st.reentry_checks_ok, "format: login answered from C; re-entrant calls refused");
    CHECK(st.op_known_in_callback, "format: *op is set before the first callback");
    CHECK(st.progresses > 0 && st.last_percent == 100, "format: progress up to 100%");
    CHECK_RC(coolkey_esc_add_ca_file(h, ca_file), COOLKEY_ESC_ERR_USAGE, "add_ca_file once the handle has used the network");

    CHECK_RC(coolkey_esc_card_status(h, reader, &json), COOLKEY_ESC_OK, "card_status after format");
    CHECK(json != NULL && strstr(json, "\"status\":\"UNINITIALIZED\"") != NULL &&
              strstr(json, "\"phoneHomeURL\":\"https://") != NULL,
          "the formatted card carries a phone-home URL");
    coolkey_esc_free(json);
    json = NULL;
    CHECK_RC(coolkey_esc_phone_home(h, NULL, NULL, &json), COOLKEY_ESC_OK, "phone_home");
    printf("# phone home: %s\n", json ? json : "");
    CHECK(json != NULL && strstr(json, "\"Operation\":\"https://") != NULL, "phone_home names the Operation URL");
    coolkey_esc_free(json);
    json = NULL;

    /* Watch while enrolling: the card is reset at the end. */
    memset(&ev, 0, sizeof ev);
    pthread_mutex_init(&ev.mu, NULL);
    CHECK_RC(coolkey_esc_watch_start(h, NULL, &ev, &watch), COOLKEY_ESC_ERR_ARGUMENTS, "watch_start(NULL callback)");
    CHECK_RC(coolkey_esc_watch_start(h, on_event, &ev, &watch), COOLKEY_ESC_OK, "watch_start");

    /* Enroll, the TPS found by phoning home. */
    op_state_init(&st, h, &op);
    rc = run(h, COOLKEY_ESC_OP_ENROLL, NULL, &st, &op, "enroll");
    CHECK(rc == COOLKEY_ESC_OK, "enroll succeeds");
    CHECK(st.logins == 1 && st.reentry_checks_ok && st.pins == 1, "enroll: login and new PIN answered from C");
    CHECK(st.saw_keygen_task && st.last_percent == 100, "enroll: progress with the key generation task, up to 100%");
    CHECK_RC(coolkey_esc_card_status(h, NULL, &json), COOLKEY_ESC_OK, "card_status after enroll");
    CHECK(json != NULL && strstr(json, "\"status\":\"ENROLLED\"") != NULL && count(json, "\"subject\":") == 2,
          "the card is ENROLLED with two certificates");
    coolkey_esc_free(json);
    json = NULL;

    for (i = 0; i < 100; i++) {
        pthread_mutex_lock(&ev.mu);
        rc = ev.inserted > 0 && ev.removed > 0;
        pthread_mutex_unlock(&ev.mu);
        if (rc)
            break;
        sleep_ms(100);
    }
    printf("# events: %d (last %s)\n", ev.total, ev.last);
    CHECK(rc, "the watch saw the card reset (removed and inserted)");
    CHECK_RC(coolkey_esc_watch_stop(h, watch), COOLKEY_ESC_OK, "watch_stop");
    CHECK_RC(coolkey_esc_watch_stop(h, watch), COOLKEY_ESC_ERR_HANDLE, "watch_stop again");

    /* Refusals and cancellations. */
    op_state_init(&st, h, &op);
    st.pass = "wrong password";
    rc = run(h, COOLKEY_ESC_OP_RESET_PIN, NULL, &st, &op, "reset-pin with a wrong password");
    CHECK(rc == COOLKEY_ESC_ERR_REFUSED && st.done_status != 0, "a wrong password is refused by the TPS");

    op_state_init(&st, h, &op);
    st.cancel_in_login = 1;
    rc = run(h, COOLKEY_ESC_OP_RESET_PIN, NULL, &st, &op, "reset-pin cancelled in login");
    CHECK(rc == COOLKEY_ESC_ERR_CANCELLED, "cancelling from the login callback");

    op_state_init(&st, h, &op);
    st.block_in_login = 1;
    ca.h = h;
    ca.op = &op;
    ca.s = &st;
    ca.rc = -1;
    cb = all_callbacks();
    CHECK_RC(coolkey_esc_start(h, COOLKEY_ESC_OP_RESET_PIN, NULL, NULL, NULL, &cb, &st, &op), COOLKEY_ESC_OK,
             "start a PIN reset to cancel");
    pthread_create(&thr, NULL, canceller, &ca);
    pthread_join(thr, NULL);
    CHECK(ca.rc == COOLKEY_ESC_OK, "cancel from another thread while login runs");
    CHECK_RC(coolkey_esc_wait(h, op, NULL), COOLKEY_ESC_ERR_CANCELLED, "the cancelled operation ends CANCELLED");
    CHECK_RC(coolkey_esc_cancel(h, op), COOLKEY_ESC_ERR_HANDLE, "cancel of a collected operation");

    small_user_data_ok = 0;
    memset(&cb, 0, sizeof cb);
    cb.done = on_done_small;
    CHECK_RC(coolkey_esc_start(h, COOLKEY_ESC_OP_RESET_PIN, NULL, NULL, NULL, &cb, (void *)1, &op), COOLKEY_ESC_OK,
             "start with only a done callback and an integer as user data");
    CHECK_RC(coolkey_esc_wait(h, op, NULL), COOLKEY_ESC_ERR_CANCELLED, "no login callback cancels");
    CHECK(small_user_data_ok, "done gets the integer user data back");

    /* The PIN reset that works. */
    op_state_init(&st, h, &op);
    st.pin = "24680";
    rc = run(h, COOLKEY_ESC_OP_RESET_PIN, NULL, &st, &op, "reset-pin");
    CHECK(rc == COOLKEY_ESC_OK && st.pins == 1, "reset-pin succeeds with the new PIN from C");

    /* Closing a handle with an operation running cancels and waits. */
    CHECK_RC(coolkey_esc_open(&h2), COOLKEY_ESC_OK, "open a second handle");
    CHECK(h2 != h, "handles differ");
    CHECK_RC(coolkey_esc_add_ca_file(h2, ca_file), COOLKEY_ESC_OK, "add_ca_file on the second handle");
    op_state_init(&st, h2, &op2);
    st.sleep_in_login = 300;
    cb = all_callbacks();
    CHECK_RC(coolkey_esc_start(h2, COOLKEY_ESC_OP_RESET_PIN, NULL, tps_url, NULL, &cb, &st, &op2), COOLKEY_ESC_OK,
             "start on the second handle");
    pthread_mutex_lock(&st.mu);
    while (!st.in_login)
        pthread_cond_wait(&st.cond, &st.mu);
    pthread_mutex_unlock(&st.mu);
    CHECK_RC(coolkey_esc_close(h2), COOLKEY_ESC_OK, "close with an operation in its login callback");
    CHECK(st.dones == 1 && st.done_result == COOLKEY_ESC_ERR_CANCELLED, "close cancelled the operation and waited for done");
    CHECK_RC(coolkey_esc_wait(h2, op2, NULL), COOLKEY_ESC_ERR_HANDLE, "wait on a closed handle");

    CHECK_RC(coolkey_esc_close(h), COOLKEY_ESC_OK, "close");
    CHECK_RC(coolkey_esc_list_cards(h, &json), COOLKEY_ESC_ERR_HANDLE, "list_cards on a closed handle");
    CHECK_RC(coolkey_esc_close(h), COOLKEY_ESC_ERR_HANDLE, "close again");

    printf("%s: %d failure(s)\n", failures ? "FAIL" : "PASS", failures);
    return failures ? 1 : 0;
}
