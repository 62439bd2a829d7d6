/*
 * coolkey-esc.h - the enrollment helper's C API, for graphical front ends.
 *
 * What the Enterprise Security Client's window did, as a library: list the
 * readers and their CoolKey cards, read a card's status, phone home to find
 * its TPS, and run format, enroll and PIN reset against a Dogtag TPS, with
 * the credentials, the new PIN and the progress handed to the caller through
 * callbacks. The functions live in libcoolkeypk11.so, next to the PKCS#11
 * entry points; link with -lcoolkeypk11 (or dlopen the module and look the
 * symbols up). This header is C89 and C++ compatible.
 *
 * The library behaves as the `coolkey` command does: the same per-user
 * configuration, phone-home cache, CA bundle (`coolkey trust add`) and
 * diagnostics log (the XDG directories), and the same readers: PC/SC
 * readers unless COOLKEY_PCSC=off, plus the virtual cards served on sockets
 * that COOLKEY_SIM=host:port[,host:port...] names (read when a handle is
 * opened).
 *
 * RESULT CODES. Every function that can fail returns an int: COOLKEY_ESC_OK
 * (0), one of the `coolkey` command's exit codes (1 to 7) when the work
 * failed, or one of the codes from 64 up when the call itself was wrong.
 * After a failure, coolkey_esc_last_error() gives a message for the user;
 * messages never contain a PIN or password.
 *
 * OWNERSHIP. Every `char *` the library returns through an out parameter
 * (JSON documents, messages) is allocated with malloc, belongs to the
 * caller, and is released with coolkey_esc_free(). Strings the library
 * passes to callbacks stay valid only until the callback returns; copy what
 * you keep. Strings the caller passes in are read during the call only. The
 * callbacks structure is copied by coolkey_esc_start(); user_data is passed
 * back untouched and never dereferenced.
 *
 * JSON. Texts are UTF-8 JSON. Card documents have at least "reader",
 * "status" (NO_CARD, NO_APPLET, UNINITIALIZED, ENROLLED, BUSY while an
 * operation runs, UNKNOWN when unreadable), "cuid" (20 lowercase hex
 * digits), "atr" and "certificates" (array of objects with "subject",
 * "issuer", "serial", "notBefore", "notAfter"); see coolkey_esc_card_status()
 * for the full list. Unknown members may be added in later versions: ignore
 * what you do not know.
 *
 * THREADS. All functions may be called from any thread, concurrently. The
 * library is written in Go: its runtime starts when the library is loaded,
 * and the first call waits until it has. Operations and watches run on
 * threads the library creates; their callbacks are called there, never on
 * the caller's thread, so a toolkit with a UI thread must hand the work over
 * (g_idle_add, QMetaObject::invokeMethod, ...). The callbacks of one
 * operation are called one at a time, in protocol order, and done() last;
 * callbacks of different operations and watches may run at the same time.
 * The login and new_pin callbacks may block as long as the user needs: the
 * operation waits for them (the TPS may give up after its own timeout,
 * typically minutes). Inside a callback any function of this API may be
 * called except those that would wait for that callback to return:
 * coolkey_esc_wait() on the same operation, coolkey_esc_watch_stop() on the
 * same watch, and coolkey_esc_close() on the same handle, which return
 * COOLKEY_ESC_ERR_IN_CALLBACK. Do not call the library in a child process
 * after fork() without exec(). Signals: the Go runtime handles SIGSEGV,
 * SIGBUS, SIGFPE and SIGPIPE raised in its own code and passes those raised
 * elsewhere to the application's handlers; the library catches no other
 * signal. Handlers the application installs after loading the library must
 * use SA_ONSTACK, or the runtime aborts when one runs on a Go thread.
 *
 * SECRETS. Passwords and PINs given in callbacks are copied by the library
 * and those copies are zeroed when the operation ends (transient encoded
 * forms inside the HTTP and TLS layers are not); the buffer handed to
 * new_pin is zeroed and freed as soon as it has been read. Zero your own
 * copies after answering. Nothing secret is ever logged.
 */
#ifndef COOLKEY_ESC_H
#define COOLKEY_ESC_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The version of this API; coolkey_esc_api_version() returns the value the
 * library was built with. Later versions only add. */
#define COOLKEY_ESC_API_VERSION 1

/* Result codes. 0 to 7 are the `coolkey` command's exit codes. */
#define COOLKEY_ESC_OK 0
#define COOLKEY_ESC_ERR_INTERNAL 1   /* a bug or unexpected local failure */
#define COOLKEY_ESC_ERR_USAGE 2      /* bad request: no card chosen, bad URL or PIN, ... */
#define COOLKEY_ESC_ERR_REFUSED 3    /* the TPS ended the operation with an error */
#define COOLKEY_ESC_ERR_CONNECTION 4 /* the TPS or phone-home server failed or went silent */
#define COOLKEY_ESC_ERR_TRUST 5      /* the server's certificate is not trusted */
#define COOLKEY_ESC_ERR_CARD 6       /* no card, card removed, or a card exchange failed */
#define COOLKEY_ESC_ERR_CANCELLED 7  /* cancelled by a callback or coolkey_esc_cancel() */
/* Codes for calls that were wrong, never produced by an operation. */
#define COOLKEY_ESC_ERR_HANDLE 64      /* unknown handle, operation, watch or answers */
#define COOLKEY_ESC_ERR_ARGUMENTS 65   /* a required pointer is NULL, or a value is invalid */
#define COOLKEY_ESC_ERR_IN_CALLBACK 66 /* would wait for the callback it is called from */

/* Operations (the TPS's operation numbers). */
#define COOLKEY_ESC_OP_ENROLL 1    /* enroll; renewal and recovery happen inside it */
#define COOLKEY_ESC_OP_RESET_PIN 3 /* set a new PIN after authenticating to the TPS */
#define COOLKEY_ESC_OP_FORMAT 5    /* install the applet afresh; erases the card */

/* A manager handle; 0 is never a valid handle. */
typedef int coolkey_esc_handle;
/* An operation or watch of one handle; 0 is never valid. */
typedef int coolkey_esc_op;

/* Answers to a login request, filled with coolkey_esc_answer() during the
 * login callback only. Opaque. */
typedef struct coolkey_esc_answers coolkey_esc_answers;

/*
 * The callbacks of an operation. Any member may be NULL: a NULL login or
 * new_pin cancels the operation when the TPS asks for it.
 */
typedef struct coolkey_esc_callbacks {
    /*
     * The TPS asks for credentials (LOGIN or EXTENDED_LOGIN). prompt_json is
     *   {"title": "...", "description": "...",
     *    "invalidPassword": false, "blocked": false,
     *    "fields": [{"id": "UID", "name": "User ID", "description": "",
     *                "type": "string", "secret": false},
     *               {"id": "PASSWORD", "name": "Password", "description": "",
     *                "type": "password", "secret": true}]}
     * invalidPassword is set when a previous attempt failed. Answer each
     * field with coolkey_esc_answer(answers, id, value) and return 0; return
     * any other value to cancel the operation. Secret fields must be read
     * without echo.
     */
    int (*login)(void *user_data, const char *prompt_json, coolkey_esc_answers *answers);
    /*
     * The TPS asks for the card's new PIN, min_len to max_len bytes
     * (max_len 0: no upper bound given). Write it NUL-terminated into pin,
     * which has room for pin_size bytes including the NUL, and return 0;
     * return any other value to cancel. The PIN is checked afterwards
     * (length, characters the protocol cannot carry); a bad one fails the
     * operation with COOLKEY_ESC_ERR_USAGE, so check it before returning.
     */
    int (*new_pin)(void *user_data, int min_len, int max_len, char *pin, size_t pin_size);
    /*
     * Progress: percent (0 to 100), the TPS's task name (e.g.
     * "PROGRESS_KEY_GENERATION") and its text for display (e.g. "Generating
     * keys on the card").
     */
    void (*progress)(void *user_data, int percent, const char *task, const char *text);
    /*
     * Called exactly once, last, when the operation has ended: result is a
     * COOLKEY_ESC_OK or an error code from 1 to 7, tps_status the TPS's
     * status code (0 on success; for errors the client detects itself, the
     * code the ESC would have shown), message a text for the user. After
     * done returns the library no longer uses user_data.
     */
    void (*done)(void *user_data, int result, int tps_status, const char *message);
} coolkey_esc_callbacks;

/* A card or reader event of a watch. event_json is
 *   {"kind": "card-inserted", "reader": "...", "cuid": "...", "status": "..."}
 * with kind one of card-inserted, card-removed, reader-added,
 * reader-removed; cuid and status are set for an insertion when the card
 * could be read. A card reset is reported as a removal and an insertion.
 * If the readers cannot be watched any more, a last event
 *   {"kind": "watch-failed", "message": "..."}
 * ends the watch (it must still be stopped). */
typedef void (*coolkey_esc_event_fn)(void *user_data, const char *event_json);

/* The library's own build defines COOLKEY_ESC_NO_PROTOTYPES: there the
 * declarations generated for the Go implementation (which cannot say
 * const) take the place of these. Applications never define it. */
#ifndef COOLKEY_ESC_NO_PROTOTYPES

/* The library's version, e.g. "0.1.0". Static; do not free. */
const char *coolkey_esc_version(void);

/* COOLKEY_ESC_API_VERSION as the library was built. */
int coolkey_esc_api_version(void);

/* A short English description of a result code. Static; do not free. */
const char *coolkey_esc_strerror(int code);

/* Releases a string returned by this library. NULL is ignored. */
void coolkey_esc_free(void *p);

/*
 * Opens a manager: loads the user's configuration and chooses the readers.
 * On success *handle is set. A failure's message is kept under handle 0.
 */
int coolkey_esc_open(coolkey_esc_handle *handle);

/*
 * Closes a manager: cancels its running operations and watches, waits for
 * them to end (their done callbacks run), forgets results not yet waited
 * for, and invalidates the handle.
 */
int coolkey_esc_close(coolkey_esc_handle handle);

/*
 * The message of the latest failed call on handle, or NULL when none failed
 * yet; release it with coolkey_esc_free(). Handle 0 (or any unknown handle)
 * gives the latest failure that had no valid handle: coolkey_esc_open(), a
 * bad handle or a NULL handle pointer. Successful calls leave it unchanged.
 */
char *coolkey_esc_last_error(coolkey_esc_handle handle);

/*
 * Also trust the CA certificates in the PEM file at path for this handle's
 * connections (the `--ca` flag), in addition to the system store and the
 * user's bundle (`coolkey trust add`). The file is checked now and read
 * again at each connection. Call it right after coolkey_esc_open(): once
 * the handle has phoned home or started an operation it returns
 * COOLKEY_ESC_ERR_USAGE.
 */
int coolkey_esc_add_ca_file(coolkey_esc_handle handle, const char *path);

/*
 * Lists every reader and its card: *json receives a JSON array of card
 * documents, sorted by reader name. Reads each card present (milliseconds
 * per card).
 */
int coolkey_esc_list_cards(coolkey_esc_handle handle, char **json);

/*
 * Reads one card: *json receives its card document, with "reader", "status",
 * "cuid", "atr", "appletVersion", "protocolVersion", "lifeCycle",
 * "tokenName", "phoneHomeURL" (the card's issuer information), "issuer" and
 * "tpsURL" (from configuration and the phone-home cache), "certificates"
 * (each with "id", "label", "subject", "issuer", "serial", "notBefore",
 * "notAfter") and "error" when part of the card could not be read. reader
 * NULL or "" means the only reader holding a card.
 */
int coolkey_esc_card_status(coolkey_esc_handle handle, const char *reader, char **json);

/*
 * Phones home for the card in reader (NULL or "": the only card present):
 * GET <url>?cuid=<CUID>, and remembers the answer for the card. url NULL or
 * "" uses the card's own phone-home URL, else the configured global one; a
 * url given here is remembered for cards that carry none. *json receives
 *   {"phoneHomeURL": "...", "issuerName": "...",
 *    "services": {"Operation": "https://tps.example.com/tps/tps", ...}}
 * Blocks for the network exchange (at most about 30 seconds).
 */
int coolkey_esc_phone_home(coolkey_esc_handle handle, const char *reader, const char *url,
                           char **json);

/*
 * Starts an operation (COOLKEY_ESC_OP_ENROLL, _FORMAT or _RESET_PIN) on the
 * card in reader (NULL or "": the only card present) and returns at once
 * with *op set; the callbacks report the rest. tps_url NULL or "" finds the
 * TPS from configuration or by phoning home (which must give an https URL);
 * token_type NULL or "" means the configured type, else "userKey". callbacks
 * may be NULL (an operation that asks for credentials is then cancelled).
 * *op is set before any callback of the operation is called. Every started
 * operation must be collected with coolkey_esc_wait() (or by closing the
 * handle). Errors found before the operation starts (no such reader, no
 * card, several cards) are returned here and no callback is called.
 */
int coolkey_esc_start(coolkey_esc_handle handle, int operation, const char *reader,
                      const char *tps_url, const char *token_type,
                      const coolkey_esc_callbacks *callbacks, void *user_data,
                      coolkey_esc_op *op);

/*
 * Answers one login field during a login callback; id is a field's "id".
 * A second answer for the same field replaces the first. Returns
 * COOLKEY_ESC_ERR_HANDLE once the callback has returned and
 * COOLKEY_ESC_ERR_ARGUMENTS for a field that was not asked for.
 */
int coolkey_esc_answer(coolkey_esc_answers *answers, const char *id, const char *value);

/*
 * Asks an operation to stop: the connection to the TPS is closed and the
 * card released; the TPS sees a lost connection. It does not interrupt a
 * running login or new_pin callback: the operation ends when that returns
 * (close the dialog). Returns at once; done() reports
 * COOLKEY_ESC_ERR_CANCELLED unless the operation had already finished.
 */
int coolkey_esc_cancel(coolkey_esc_handle handle, coolkey_esc_op op);

/*
 * Waits until an operation has ended (its done callback has returned) and
 * returns its result code, COOLKEY_ESC_OK or 1 to 7; *message (when message
 * is not NULL) receives the done message, to free with coolkey_esc_free().
 * The operation is then forgotten: waiting again gives
 * COOLKEY_ESC_ERR_HANDLE.
 */
int coolkey_esc_wait(coolkey_esc_handle handle, coolkey_esc_op op, char **message);

/*
 * Reports card and reader events to event until coolkey_esc_watch_stop()
 * (or coolkey_esc_close()). The state when the watch starts is not an
 * event: list the cards first. Events are coalesced if the callback is
 * slow.
 */
int coolkey_esc_watch_start(coolkey_esc_handle handle, coolkey_esc_event_fn event,
                            void *user_data, coolkey_esc_op *watch);

/* Stops a watch and waits until its callback is no longer running. */
int coolkey_esc_watch_stop(coolkey_esc_handle handle, coolkey_esc_op watch);

#endif /* COOLKEY_ESC_NO_PROTOTYPES */

#ifdef __cplusplus
}
#endif

#endif /* COOLKEY_ESC_H */
