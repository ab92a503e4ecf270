/* The libvirt hook's message: what it reads from the domain XML on stdin and
 * the JSON request line it sends to hapvmd (docs/hapvmd-protocol.md).
 *
 * Plain C, no allocation, no glib: the hook runs synchronously inside every
 * domain start and stop, so it must start fast and can't fail on memory. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define HAPVM_HOOK_NS "http://hapvm.org/xmlns/libvirt/1"
#define HAPVM_HOOK_LABEL_NAME_MAX 64
#define HAPVM_HOOK_LABEL_VALUE_MAX 256
/* More labels are dropped (and logged): 16 labels of the longest values,
 * escaped, still leave a request well under the 64 KiB line limit. */
#define HAPVM_HOOK_MAX_LABELS 16
#define HAPVM_HOOK_REQUEST_MAX 65536

typedef enum {
    HAPVM_HOOK_MEASURE_UNSET,
    HAPVM_HOOK_MEASURE_YES,
    HAPVM_HOOK_MEASURE_NO,
} HapvmHookMeasure;

typedef struct {
    char name[HAPVM_HOOK_LABEL_NAME_MAX + 1];
    char value[HAPVM_HOOK_LABEL_VALUE_MAX + 1];
    size_t value_len;
} HapvmHookLabel;

typedef struct {
    bool has_uuid;
    char uuid[37];
    bool has_id;
    char id[21];
    HapvmHookMeasure measure;
    HapvmHookLabel labels[HAPVM_HOOK_MAX_LABELS];
    unsigned n_labels;
    /* Labels or values that were not taken, and why the first one was not
     * (for one log line; may quote the label's name, unsanitized). */
    unsigned n_dropped;
    char dropped_reason[160];
    bool bad_measure;          /* enabled= neither yes nor no */
    bool malformed;            /* the scan stopped at a syntax error */
    bool metadata_done;        /* </metadata> was reached */
} HapvmHookDomain;

/* Scans the first LEN bytes of a libvirt domain XML (it need not be the
 * whole document: a cut-off token just ends the scan) for the root's id,
 * its <uuid> child and hapvm's element in <metadata>.  Linear in LEN. */
void hapvm_hook_domain_scan(HapvmHookDomain *dom, const char *xml, size_t len);

typedef struct {
    char *buf;
    size_t len;
    size_t cap;
    bool overflow;
} HapvmHookBuf;

void hapvm_hook_buf_append(HapvmHookBuf *b, const char *s, size_t n);
/* S as a JSON string with quotes: escapes quotes, backslashes and control
 * bytes, replaces each byte that is not part of valid UTF-8 by U+FFFD. */
void hapvm_hook_buf_append_json_string(HapvmHookBuf *b, const char *s, size_t n);

typedef struct {
    const char *driver;
    const char *domain;
    const char *operation;
    const char *sub;
    const char *extra;
} HapvmHookArgs;

/* The request line, ending in '\n', into BUF (CAP bytes).  Returns its
 * length, or 0 if it does not fit. */
size_t hapvm_hook_request_format(char *buf, size_t cap, const HapvmHookArgs *args,
                                 const HapvmHookDomain *dom);

/* Whether hapvmd's reply line (LEN bytes, not terminated) is {"ok":true...}
 * (hapvmd writes "ok" first). */
bool hapvm_hook_reply_ok(const char *reply, size_t len);

/* Makes S (NUL-terminated) safe for one log line, in place: control bytes
 * and bytes that are not valid UTF-8 become '?'. */
void hapvm_hook_sanitize(char *s);

/* Whether the hook forwards OPERATION to hapvmd. */
bool hapvm_hook_operation_forwarded(const char *operation);
