/* monilog._speedups: the optional C accelerator of ten pure steps of the engine.
 *
 * Each function here has a reference written in Python beside the code that uses it, and gives
 * exactly that reference's result (the tests compare them on generated and hostile input):
 *
 *   scan_clf(block, combined)          monilog.parsing.block.scan_regex: the five columns of a
 *                                      block of Common/Combined lines, or None when a line does
 *                                      not match the fast pattern (the caller then reads the block
 *                                      the careful way). Equal keys come out as one object, so that
 *                                      counting them hashes each distinct key once; the columns are
 *                                      tuples, as the reference's.
 *   scan_format(block, prepare_scan(program, groups), columns)
 *                                      monilog.parsing.pieces.scan_single: the groups of a compiled
 *                                      format's single-space pattern on each line, as columns
 *                                      (a column's key may join several groups with '\n'), or
 *                                      None when a line does not take the pattern's first path;
 *                                      the program is that pattern translated piece by piece
 *                                      (monilog.parsing.pieces.scan_program).
 *   tally(who, requests, statuses, sizes, start, end)
 *                                      monilog.accumulation.aggregate.tally_python: hits per
 *                                      client key, per (request, status) pair, and bytes per
 *                                      request, in first-seen order; None when a size is not
 *                                      plain decimal text, "-" or an int (the reference decides).
 *   pairs(first, second, start, end)   monilog.accumulation.aggregate.pairs_python: each distinct
 *                                      pair of keys of two columns and how often it occurs.
 *   runs(keys)                         monilog.accumulation.aggregate.runs_python: each run of
 *                                      consecutive equal keys (a block's seconds) and its length.
 *   summed(keys, counts)               monilog.accumulation.summing.summed_python: key -> the
 *                                      sum of its counts, in first-seen order.
 *   distinct_add(registers, keys)      monilog.accumulation.distinct.add_python: keys hashed into
 *                                      a HyperLogLog's registers.
 *   newlines(data)                     monilog.parsing.columns.newlines_python: the newlines in
 *                                      bytes, one memchr a line.
 *   prefixes(keys, lead, stops, other) monilog.parsing.section.prefixes_python: each key that
 *                                      starts with lead cut before the first of stops; other(key)
 *                                      for the rest (the section rule gives them).
 *   column_totals(hits, errors, sizes) monilog.accumulation.statistics.column_totals_python: the
 *                                      sums of an overflow's section columns, checked, in one pass
 *                                      over their unsigned 64-bit ints.
 *   count_clf(who, requests, statuses, sizes, start, end, max_keys, lead, stops, errors,
 *             max_length, registers)
 *                                      monilog.accumulation.aggregate.count_plain_python: tally,
 *                                      decoding and cut of plain Common/Combined columns in one
 *                                      pass, the keys beyond the cut never made objects (packed
 *                                      as text, their clients sketched); the section rule's usual
 *                                      case and the error rule come in as lead, stops and errors.
 *
 * Nothing here knows a rule (sections, clocks, alerts): those stay in their Python modules.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>

/* ------------------------------------------------------------------------------------------ */
/* Interning: one bytes object per distinct key of a block (while a column's keys repeat).  */

typedef struct {
    uint64_t hash;
    PyObject *key; /* owned */
} Slot;

typedef struct {
    Slot *slots;
    size_t mask;
    size_t used;
    size_t looked; /* keys looked up, ... */
    size_t found;  /* ... and found, until the table gives up sharing */
} Interner;

/* After this many keys, a table that shared fewer than one in SHARED_AT_LEAST of them stops
 * sharing: each further key is made anew, without being hashed or stored (a column of random
 * paths or clients shares nothing; sharing saves work, it changes no result). */
#define SHARING_SAMPLE 2048
#define SHARED_AT_LEAST 8

/* Python's own hash of bytes: SipHash keyed with the process's random secret, so that no one can
 * choose keys that collide (a log's targets and users are chosen by whoever sends requests). */
#if PY_VERSION_HEX >= 0x030D0000 && PY_VERSION_HEX < 0x030E0000
/* exported by 3.13, which declares it only in its internal headers (3.14 has Py_HashBuffer) */
PyAPI_FUNC(Py_hash_t) _Py_HashBytes(const void *, Py_ssize_t);
#endif

static uint64_t
hash_bytes(const char *data, Py_ssize_t size)
{
#if PY_VERSION_HEX >= 0x030E0000
    return (uint64_t)Py_HashBuffer(data, size);
#else
    return (uint64_t)_Py_HashBytes(data, size);
#endif
}

static int
interner_init(Interner *table)
{
    table->mask = 255;
    table->used = 0;
    table->looked = 0;
    table->found = 0;
    table->slots = PyMem_Calloc(table->mask + 1, sizeof(Slot));
    if (table->slots == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

static void
interner_free(Interner *table)
{
    if (table->slots == NULL) {
        return;
    }
    for (size_t i = 0; i <= table->mask; i++) {
        Py_XDECREF(table->slots[i].key);
    }
    PyMem_Free(table->slots);
    table->slots = NULL;
}

static int
interner_grow(Interner *table)
{
    size_t size = (table->mask + 1) * 2;
    Slot *slots = PyMem_Calloc(size, sizeof(Slot));
    if (slots == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (size_t i = 0; i <= table->mask; i++) {
        Slot slot = table->slots[i];
        if (slot.key != NULL) {
            size_t at = slot.hash & (size - 1);
            while (slots[at].key != NULL) {
                at = (at + 1) & (size - 1);
            }
            slots[at] = slot;
        }
    }
    PyMem_Free(table->slots);
    table->slots = slots;
    table->mask = size - 1;
    return 0;
}

#define MAX_PROBES 64
/* Keys compared before a key is given up on: it is then made anew, not shared (sharing saves work,
 * it changes no result), so no table state can make a lookup cost more than this. */

/* A new reference to the bytes object equal to data[:size], made on first sight. */
static PyObject *
intern_bytes(Interner *table, const char *data, Py_ssize_t size)
{
    if (table->looked >= SHARING_SAMPLE) {
        if (table->found * SHARED_AT_LEAST < table->looked) {
            return PyBytes_FromStringAndSize(data, size);
        }
    }
    else {
        table->looked++;
    }
    uint64_t hash = hash_bytes(data, size);
    size_t at = hash & table->mask;
    for (int probes = 0;; probes++) {
        Slot *slot = &table->slots[at];
        if (slot->key == NULL) {
            break;
        }
        if (probes == MAX_PROBES) {
            return PyBytes_FromStringAndSize(data, size);
        }
        if (slot->hash == hash && PyBytes_GET_SIZE(slot->key) == size
            && memcmp(PyBytes_AS_STRING(slot->key), data, (size_t)size) == 0) {
            table->found++;
            Py_INCREF(slot->key);
            return slot->key;
        }
        at = (at + 1) & table->mask;
    }
    PyObject *key = PyBytes_FromStringAndSize(data, size);
    if (key == NULL) {
        return NULL;
    }
    if ((table->used + 1) * 2 > table->mask + 1) {
        if (interner_grow(table) < 0) {
            Py_DECREF(key);
            return NULL;
        }
        at = hash & table->mask;
        while (table->slots[at].key != NULL) {
            at = (at + 1) & table->mask;
        }
    }
    table->slots[at].hash = hash;
    table->slots[at].key = key;
    table->used++;
    Py_INCREF(key);
    return key;
}

/* ------------------------------------------------------------------------------------------ */
/* The fast Common/Combined pattern of monilog.parsing.block._pattern, strict form, one line.  */

typedef struct {
    const char *who, *stamp, *request, *status, *size;
    Py_ssize_t who_size, request_size, size_size;
} Fields;

#define PRINTABLE(c) ((unsigned char)(c) >= 0x21 && (unsigned char)(c) <= 0x7e)
#define DIGIT(c) ((unsigned char)((c) - '0') < 10)

static inline int
is_printable(char c)
{
    return PRINTABLE(c);
}

static inline int
is_digit(char c)
{
    return DIGIT(c);
}

/* The end of the run from p (before end) of the characters `in_class` takes. */
static inline const char *
run_of(const char *p, const char *end, int (*in_class)(char))
{
    while (p < end && in_class(*p)) {
        p++;
    }
    return p;
}

#define printable_run(p, end) run_of((p), (end), is_printable)
#define digit_run(p, end) run_of((p), (end), is_digit)

/* The end of the run of printable characters from p (before end) other than `a` and `b`, or NULL
 * when the run of printable characters goes on with `a` or `b` (which the pattern refuses). */
static const char *
printable_run_without(const char *p, const char *end, char a, char b)
{
    while (p < end && PRINTABLE(*p) && *p != a && *p != b) {
        p++;
    }
    return p < end && (*p == a || *p == b) ? NULL : p;
}

/* The end of a quoted field starting at p ('"', at most `limit` characters that are neither '"'
 * nor '\\', '"'), or NULL. */
static const char *
quoted(const char *p, const char *end, Py_ssize_t limit, int backslash)
{
    if (p >= end || *p != '"') {
        return NULL;
    }
    const char *q = ++p;
    if (backslash) {
        while (q < end && *q != '"' && *q != '\\') {
            q++;
        }
    }
    else {
        q = memchr(p, '"', (size_t)(end - p));
        if (q == NULL) {
            return NULL;
        }
    }
    if (q >= end || *q != '"' || q - p > limit) {
        return NULL;
    }
    return q + 1;
}

static int
match_line(const char *line, const char *end, int combined, int backslash, Fields *fields)
{
    const char *p = line, *q;

    /* host ident user: runs of printable characters; host not starting with '#', user without '"' */
    if (p >= end || !PRINTABLE(*p) || *p == '#') {
        return 0;
    }
    q = printable_run(p, end);
    if (q - p > 255 || q >= end || *q != ' ') {
        return 0;
    }
    p = q + 1;
    q = printable_run(p, end);
    if (q == p || q - p > 255 || q >= end || *q != ' ') {
        return 0;
    }
    p = q + 1;
    q = printable_run_without(p, end, '"', '"');
    if (q == NULL || q == p || q - p > 255) {
        return 0;
    }
    fields->who = line;
    fields->who_size = q - line;

    /* " [" 26 characters that are not ']' "]" */
    if (end - q < 2 + 26 + 1 || q[0] != ' ' || q[1] != '[' || q[28] != ']') {
        return 0;
    }
    for (int i = 2; i < 28; i++) {
        if (q[i] == ']') {
            return 0;
        }
    }
    fields->stamp = q + 2;
    p = q + 29;

    /* ' "' METHOD ' /' target ' HTTP/': method 1 to 32, target up to 10,238 after '/', printable, no '"' or '\\' */
    if (end - p < 2 || p[0] != ' ' || p[1] != '"') {
        return 0;
    }
    p += 2;
    fields->request = p;
    q = printable_run_without(p, end, '"', '\\');
    if (q == NULL || q == p || q - p > 32 || end - q < 2 || q[0] != ' ' || q[1] != '/') {
        return 0;
    }
    p = q + 2;
    q = printable_run_without(p, end, '"', '\\');
    if (q == NULL || q - p > 10238) {
        return 0;
    }
    fields->request_size = q - fields->request;
    if (end - q < 6 || memcmp(q, " HTTP/", 6) != 0) {
        return 0;
    }
    p = q + 6;

    /* protocol: up to 32 characters that are not ' ', '"' or '\\', then '"' */
    q = p;
    while (q < end && *q != ' ' && *q != '"' && *q != '\\') {
        q++;
    }
    if (q - p > 32 || q >= end || *q != '"') {
        return 0;
    }
    p = q + 1;

    /* ' ' status [1-9]\d\d ' ' size (\d{1,18}|-) */
    if (end - p < 6 || p[0] != ' ' || p[1] < '1' || p[1] > '9' || p[2] < '0' || p[2] > '9' || p[3] < '0' || p[3] > '9'
        || p[4] != ' ') {
        return 0;
    }
    fields->status = p + 1;
    p += 5;
    q = p;
    while (q < end && *q >= '0' && *q <= '9') {
        q++;
    }
    if (q == p) {
        if (*p != '-') {
            return 0;
        }
        q = p + 1;
    }
    else if (q - p > 18) {
        return 0;
    }
    fields->size = p;
    fields->size_size = q - p;
    p = q;

    if (combined) {
        /* ' ' quoted referer ' ' quoted user agent, then up to 16,384 characters */
        if (p >= end || *p != ' ' || (p = quoted(p + 1, end, 8192, backslash)) == NULL) {
            return 0;
        }
        if (p >= end || *p != ' ' || (p = quoted(p + 1, end, 8192, backslash)) == NULL) {
            return 0;
        }
        return end - p <= 16384;
    }
    /* the end of the line, or a space, tab, CR, FF or VT and up to 16,384 characters */
    if (p == end) {
        return 1;
    }
    if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\f' && *p != '\v') {
        return 0;
    }
    return end - (p + 1) <= 16384;
}

static PyObject *
scan_clf(PyObject *module, PyObject *args)
{
    (void)module;
    Py_buffer view;
    int combined;
    if (!PyArg_ParseTuple(args, "y*p:scan_clf", &view, &combined)) {
        return NULL;
    }
    PyObject *columns[5] = {NULL, NULL, NULL, NULL, NULL};
    Interner who = {NULL, 0, 0, 0, 0}, stamps = {NULL, 0, 0, 0, 0}, requests = {NULL, 0, 0, 0, 0};
    PyObject *statuses[1000] = {NULL}, *last_stamp = NULL; /* borrowed from the stamps table */
    PyObject *result = NULL;
    int failed = interner_init(&who) < 0 || interner_init(&stamps) < 0 || interner_init(&requests) < 0;
    int matched = 1;
    const char *data = view.buf, *stop = data + view.len, *line = data;
    /* the columns are tuples (the engine slices them without a copy), sized for lines of 100
     * bytes, grown by doubling, cut to the lines read at the end; empty slots are freed as NULL */
    Py_ssize_t capacity = view.len / 100 + 16, row = 0;
    for (int i = 0; i < 5 && !failed; i++) {
        columns[i] = PyTuple_New(capacity);
        failed = columns[i] == NULL;
    }
    int backslash = memchr(data, '\\', (size_t)view.len) != NULL;
    while (!failed && line < stop) {
        const char *end = memchr(line, '\n', (size_t)(stop - line));
        if (end == NULL) {
            end = stop;
        }
        Fields fields;
        if (!match_line(line, end, combined, backslash, &fields)) {
            matched = 0;
            break;
        }
        if (row == capacity) {
            capacity *= 2;
            for (int i = 0; i < 5 && !failed; i++) {
                failed = _PyTuple_Resize(&columns[i], capacity) < 0; /* NULL, and the tuple freed, on failure */
            }
            if (failed) {
                break;
            }
        }
        /* a line's second is mostly the line before's: compared before it is looked up */
        PyObject *stamp;
        if (last_stamp != NULL && memcmp(PyBytes_AS_STRING(last_stamp), fields.stamp, 26) == 0) {
            Py_INCREF(last_stamp);
            stamp = last_stamp;
        }
        else {
            stamp = intern_bytes(&stamps, fields.stamp, 26);
            last_stamp = stamp; /* borrowed: the table or the column holds it while the scan runs */
        }
        int code = (fields.status[0] - '0') * 100 + (fields.status[1] - '0') * 10 + (fields.status[2] - '0');
        if (statuses[code] == NULL) {
            statuses[code] = PyBytes_FromStringAndSize(fields.status, 3);
        }
        Py_XINCREF(statuses[code]);
        PyObject *keys[5] = {
            intern_bytes(&who, fields.who, fields.who_size),
            stamp,
            intern_bytes(&requests, fields.request, fields.request_size),
            statuses[code],
            PyBytes_FromStringAndSize(fields.size, fields.size_size), /* sizes seldom repeat: not interned */
        };
        for (int i = 0; i < 5; i++) {
            if (keys[i] == NULL) {
                failed = 1; /* the call fails with this error */
            }
            PyTuple_SET_ITEM(columns[i], row, keys[i]); /* the tuple takes the reference (NULL too) */
        }
        row++;
        line = end < stop ? end + 1 : stop;
    }
    for (int i = 0; i < 5 && !failed && matched; i++) {
        failed = _PyTuple_Resize(&columns[i], row) < 0;
    }
    if (!failed) {
        if (matched) {
            result = PyTuple_Pack(5, columns[0], columns[1], columns[2], columns[3], columns[4]);
        }
        else {
            Py_INCREF(Py_None);
            result = Py_None;
        }
    }
    for (int i = 0; i < 5; i++) {
        Py_XDECREF(columns[i]);
    }
    interner_free(&who);
    interner_free(&stamps);
    interner_free(&requests);
    for (int i = 0; i < 1000; i++) {
        Py_XDECREF(statuses[i]);
    }
    PyBuffer_Release(&view);
    return result;
}

/* ------------------------------------------------------------------------------------------ */
/* scan_format: a compiled format's single-space pattern, as a program of ops (see             */
/* monilog.parsing.pieces.scan_program, which translates the pattern piece by piece).          */
/* Each op follows the path a backtracking regex engine tries first (the longest run, the       */
/* optional part taken); where that path fails the line is refused, and with it the block.     */

enum {
    OP_LITERAL, OP_SPAN, OP_SPAN1, OP_USER, OP_STATUS, OP_NUMBER, OP_SECONDS, OP_UPSTREAM, OP_EPOCH,
    OP_CLF, OP_ISO8601, OP_OPEN, OP_CLOSE, OP_MORE, OP_END, OP_COUNT
};
static const char *const OP_NAMES[OP_COUNT] = {
    "literal", "span", "span1", "user", "status", "number", "seconds", "upstream", "epoch",
    "clf", "iso8601", "open", "close", "more", "end",
};
#define MAX_GROUPS 64

typedef struct {
    int code;
    int group;            /* the capture this op fills (open/close: starts/ends), or -1 */
    const char *arg;      /* literal bytes, a user's stop text, the separator of `more` */
    Py_ssize_t arg_size;
    unsigned char excluded[256]; /* span: the bytes that end its run ('\n' always) */
    int stop_byte;        /* span: its one excluded byte besides '\n' (a line has none), or -1 */
} Op;

#define ALPHA(c) ((unsigned char)(((c) | 0x20) - 'a') < 26)

/* \d+(?:\.\d*)?|-1? */
static const char *
seconds_at(const char *p, const char *end)
{
    if (p < end && DIGIT(*p)) {
        p = digit_run(p, end);
        return p < end && *p == '.' ? digit_run(p + 1, end) : p;
    }
    if (p < end && *p == '-') {
        p++;
        return p < end && *p == '1' ? p + 1 : p;
    }
    return NULL;
}

/* A fixed form: 'd' a digit, 'a' a letter, 's' a sign, any other byte itself. */
static const char *
template_at(const char *p, const char *end, const char *form)
{
    for (; *form; form++, p++) {
        if (p >= end) {
            return NULL;
        }
        char c = *p;
        int ok = *form == 'd' ? DIGIT(c) : *form == 'a' ? ALPHA(c) : *form == 's' ? (c == '+' || c == '-') : c == *form;
        if (!ok) {
            return NULL;
        }
    }
    return p;
}

/* Where op `i` ends when it starts at p, or NULL where the regex's first path fails. */
static const char *
op_end(const Op *ops, int count, int i, const char *p, const char *end)
{
    const Op *op = &ops[i];
    const char *q;
    switch (op->code) {
    case OP_LITERAL:
        if (end - p < op->arg_size || memcmp(p, op->arg, (size_t)op->arg_size) != 0) {
            return NULL;
        }
        return p + op->arg_size;
    case OP_SPAN:
    case OP_SPAN1: {
        Py_ssize_t least = op->code == OP_SPAN1;
        if (op->stop_byte >= 0) {
            q = memchr(p, op->stop_byte, (size_t)(end - p));
            if (q == NULL) {
                q = end;
            }
        }
        else {
            for (q = p; q < end && !op->excluded[(unsigned char)*q]; q++) {
            }
        }
        const Op *next = i + 1 < count ? &ops[i + 1] : NULL;
        if (next != NULL && next->code == OP_LITERAL && next->arg_size > 0
            && !op->excluded[(unsigned char)next->arg[0]]) {
            /* the run admits the literal's first byte: the regex backs off to its last one */
            char first = next->arg[0];
            while (q > p + least && q[-1] != first) {
                q--;
            }
            if (q <= p + least) {
                return NULL;
            }
            q--;
        }
        return q - p >= least ? q : NULL;
    }
    case OP_USER:
        /* (?! )(?:(?!stop)[^\n])+(?<! ): up to the first stop text, no space at either end */
        if (p >= end || *p == ' ') {
            return NULL;
        }
        for (q = p; q < end; q++) {
            if (*q == op->arg[0] && end - q >= op->arg_size && memcmp(q, op->arg, (size_t)op->arg_size) == 0) {
                break;
            }
        }
        return q > p && q[-1] != ' ' ? q : NULL;
    case OP_STATUS:
        return end - p >= 3 && p[0] >= '1' && p[0] <= '9' && DIGIT(p[1]) && DIGIT(p[2]) ? p + 3 : NULL;
    case OP_NUMBER:
        /* \d+|- */
        if (p < end && DIGIT(*p)) {
            return digit_run(p, end);
        }
        return p < end && *p == '-' ? p + 1 : NULL;
    case OP_SECONDS:
        return seconds_at(p, end);
    case OP_UPSTREAM:
        /* seconds, then (", " or " : ", seconds) as often as they follow */
        p = seconds_at(p, end);
        while (p != NULL) {
            q = NULL;
            if (end - p >= 2 && p[0] == ',' && p[1] == ' ') {
                q = seconds_at(p + 2, end);
            }
            else if (end - p >= 3 && p[0] == ' ' && p[1] == ':' && p[2] == ' ') {
                q = seconds_at(p + 3, end);
            }
            if (q == NULL) {
                break;
            }
            p = q;
        }
        return p;
    case OP_EPOCH:
        /* \d+(?:\.\d+)? */
        if (p >= end || !DIGIT(*p)) {
            return NULL;
        }
        p = digit_run(p, end);
        return end - p >= 2 && *p == '.' && DIGIT(p[1]) ? digit_run(p + 1, end) : p;
    case OP_CLF:
        return template_at(p, end, "dd/aaa/dddd:dd:dd:dd sdddd");
    case OP_ISO8601:
        /* \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)? */
        p = template_at(p, end, "dddd-dd-ddTdd:dd:dd");
        if (p == NULL) {
            return NULL;
        }
        if (end - p >= 2 && (*p == '.' || *p == ',') && DIGIT(p[1])) {
            p = digit_run(p + 1, end);
        }
        if (p < end && *p == 'Z') {
            return p + 1;
        }
        if ((q = template_at(p, end, "sdd")) != NULL) {
            if (q < end && *q == ':') {
                q++;
            }
            if ((q = template_at(q, end, "dd")) != NULL) {
                return q;
            }
        }
        return p;
    case OP_OPEN:
    case OP_CLOSE:
        return p;
    case OP_MORE:
        /* (?:sep[^\n]*)?: the rest of the line, when the separator follows */
        return p < end && *p == op->arg[0] ? end : p;
    case OP_END:
        /* [ \t]*\r?$ */
        while (p < end && (*p == ' ' || *p == '\t')) {
            p++;
        }
        if (p < end && *p == '\r') {
            p++;
        }
        return p == end ? p : NULL;
    }
    return NULL;
}

/* Whether the line matches the program; the groups' bounds are written to starts and ends. */
static int
run_program(const Op *ops, int count, const char *p, const char *end, const char **starts, const char **ends)
{
    for (int i = 0; i < count; i++) {
        const char *q = op_end(ops, count, i, p, end);
        if (q == NULL) {
            return 0;
        }
        int group = ops[i].group;
        if (group >= 0) {
            if (ops[i].code != OP_CLOSE) {
                starts[group] = p;
            }
            if (ops[i].code != OP_OPEN) {
                ends[group] = q;
            }
        }
        p = q;
    }
    return 1;
}

/* The program's ops from its Python form, a tuple of (op index, bytes, group) (0 and an error if
 * it is not one). */
static int
read_program(PyObject *program, Op *ops, Py_ssize_t groups)
{
    Py_ssize_t count = PyTuple_GET_SIZE(program);
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *item = PyTuple_GET_ITEM(program, i);
        Op *op = &ops[i];
        int code, group;
        PyObject *arg;
        if (!PyTuple_Check(item) || !PyArg_ParseTuple(item, "iSi:prepare_scan", &code, &arg, &group)) {
            if (!PyErr_Occurred()) {
                PyErr_SetString(PyExc_TypeError, "prepare_scan: each op is a tuple (op, bytes, group)");
            }
            return 0;
        }
        if (code < 0 || code >= OP_COUNT || group < -1 || group >= groups) {
            PyErr_Format(PyExc_ValueError, "prepare_scan: op %zd (%d, group %d) is out of range", i, code, group);
            return 0;
        }
        op->code = code;
        op->group = group;
        op->arg = PyBytes_AS_STRING(arg); /* borrowed: the program tuple holds it during the call */
        op->arg_size = PyBytes_GET_SIZE(arg);
        if ((code == OP_USER || code == OP_MORE) && op->arg_size == 0) {
            PyErr_Format(PyExc_ValueError, "prepare_scan: op %zd needs its text", i);
            return 0;
        }
        memset(op->excluded, 0, sizeof op->excluded);
        op->excluded['\n'] = 1;
        op->stop_byte = -1;
        if (code == OP_SPAN || code == OP_SPAN1) {
            int others = 0;
            for (Py_ssize_t j = 0; j < op->arg_size; j++) {
                unsigned char c = (unsigned char)op->arg[j];
                others += c != '\n' && !op->excluded[c];
                if (c != '\n') {
                    op->stop_byte = c;
                }
                op->excluded[c] = 1;
            }
            if (others != 1) {
                op->stop_byte = -1; /* none, or several: the table is read */
            }
        }
    }
    return 1;
}

/* A program read once (prepare_scan), for every block a format's scan reads. */
typedef struct {
    PyObject *program; /* owned: the tuple whose bytes the ops point into */
    Py_ssize_t groups;
    Py_ssize_t count;
    Op ops[];
} Prepared;

#define PREPARED "monilog._speedups.prepared_scan"

static void
prepared_free(PyObject *capsule)
{
    Prepared *prepared = PyCapsule_GetPointer(capsule, PREPARED);
    if (prepared != NULL) {
        Py_XDECREF(prepared->program);
        PyMem_Free(prepared);
    }
}

static PyObject *
prepare_scan(PyObject *module, PyObject *args)
{
    (void)module;
    PyObject *program;
    Py_ssize_t groups;
    if (!PyArg_ParseTuple(args, "O!n:prepare_scan", &PyTuple_Type, &program, &groups)) {
        return NULL;
    }
    Py_ssize_t count = PyTuple_GET_SIZE(program);
    if (groups < 0 || groups > MAX_GROUPS || count > INT_MAX) {
        PyErr_SetString(PyExc_ValueError, "prepare_scan: too many groups or ops");
        return NULL;
    }
    Prepared *prepared = PyMem_Calloc(1, sizeof(Prepared) + (size_t)count * sizeof(Op));
    if (prepared == NULL) {
        return PyErr_NoMemory();
    }
    prepared->groups = groups;
    prepared->count = count;
    if (!read_program(program, prepared->ops, groups)) {
        PyMem_Free(prepared);
        return NULL;
    }
    Py_INCREF(program);
    prepared->program = program;
    PyObject *capsule = PyCapsule_New(prepared, PREPARED, prepared_free);
    if (capsule == NULL) {
        Py_DECREF(program);
        PyMem_Free(prepared);
    }
    return capsule;
}

#define MAX_JOINED 4

/* An output column: the groups its keys are made of (joined by '\n', which no line holds; group -1
 * is an empty part). */
typedef struct {
    int parts;
    int group[MAX_JOINED];
    int shared;           /* equal keys as one object (interned), or each made anew */
    Interner table;
    PyObject *column;     /* the tuple of keys */
    PyObject *last;       /* borrowed: the line before's key */
} Output;

/* The outputs from their Python form, a tuple of (tuple of groups, shared) (0 and an error if it
 * is not one). */
static int
read_outputs(PyObject *spec, Output *outputs, Py_ssize_t groups, Py_ssize_t capacity)
{
    for (Py_ssize_t c = 0; c < PyTuple_GET_SIZE(spec); c++) {
        PyObject *item = PyTuple_GET_ITEM(spec, c), *parts;
        int shared;
        Output *out = &outputs[c];
        if (!PyTuple_Check(item) || !PyArg_ParseTuple(item, "O!p:scan_format", &PyTuple_Type, &parts, &shared)) {
            if (!PyErr_Occurred()) {
                PyErr_SetString(PyExc_TypeError, "scan_format: each column is a tuple (groups, shared)");
            }
            return 0;
        }
        if (PyTuple_GET_SIZE(parts) > MAX_JOINED) {
            PyErr_SetString(PyExc_ValueError, "scan_format: too many groups in a column");
            return 0;
        }
        out->parts = (int)PyTuple_GET_SIZE(parts);
        for (int k = 0; k < out->parts; k++) {
            long group = PyLong_AsLong(PyTuple_GET_ITEM(parts, k));
            if (group == -1 && PyErr_Occurred()) {
                return 0;
            }
            if (group < -1 || group >= groups) { /* -1: an empty part */
                PyErr_Format(PyExc_ValueError, "scan_format: group %ld is out of range", group);
                return 0;
            }
            out->group[k] = (int)group;
        }
        out->shared = shared;
        if ((shared && interner_init(&out->table) < 0) || (out->column = PyTuple_New(capacity)) == NULL) {
            return 0;
        }
    }
    return 1;
}

static PyObject *
scan_format(PyObject *module, PyObject *args)
{
    (void)module;
    Py_buffer view;
    PyObject *capsule, *spec;
    if (!PyArg_ParseTuple(args, "y*OO!:scan_format", &view, &capsule, &PyTuple_Type, &spec)) {
        return NULL;
    }
    if (!PyCapsule_IsValid(capsule, PREPARED)) {
        PyErr_SetString(PyExc_TypeError, "scan_format: the program must be prepare_scan's");
        PyBuffer_Release(&view);
        return NULL;
    }
    Prepared *prepared = PyCapsule_GetPointer(capsule, PREPARED);
    const Op *ops = prepared->ops;
    Py_ssize_t groups = prepared->groups, count = prepared->count, width = PyTuple_GET_SIZE(spec);
    PyObject *result = NULL;
    Output outputs[MAX_GROUPS];
    const char *starts[MAX_GROUPS], *ends[MAX_GROUPS];
    memset(outputs, 0, sizeof outputs);
    char *joined = NULL; /* a joined key is assembled here: room for a line's parts and separators */
    Py_ssize_t joined_room = 0;
    int joins = 0;
    int failed = 0, matched = 1;
    const char *data = view.buf, *stop = data + view.len, *line = data;
    Py_ssize_t capacity = view.len / 100 + 16, row = 0;
    if (width > MAX_GROUPS) {
        PyErr_SetString(PyExc_ValueError, "scan_format: too many columns");
        failed = 1;
    }
    else {
        failed = !read_outputs(spec, outputs, groups, capacity);
    }
    for (Py_ssize_t c = 0; c < width && !failed; c++) {
        joins |= outputs[c].parts > 1 || (outputs[c].parts == 1 && outputs[c].group[0] < 0);
    }
    while (!failed && line < stop) {
        const char *end = memchr(line, '\n', (size_t)(stop - line));
        if (end == NULL) {
            end = stop;
        }
        for (Py_ssize_t g = 0; g < groups; g++) {
            starts[g] = ends[g] = line; /* a group no op fills is empty, as findall gives it */
        }
        if (!run_program(ops, (int)count, line, end, starts, ends)) {
            matched = 0;
            break;
        }
        /* groups may nest (a sum and a part of it): a joined key is at most its parts' lines */
        Py_ssize_t room = (end - line) * MAX_JOINED + MAX_JOINED;
        if (joins && room > joined_room) {
            char *grown = PyMem_Realloc(joined, (size_t)(room > 2 * joined_room ? room : 2 * joined_room));
            if (grown == NULL) {
                PyErr_NoMemory();
                failed = 1;
                break;
            }
            joined = grown;
            joined_room = room > 2 * joined_room ? room : 2 * joined_room;
        }
        if (row == capacity) {
            capacity *= 2;
            for (Py_ssize_t c = 0; c < width && !failed; c++) {
                failed = _PyTuple_Resize(&outputs[c].column, capacity) < 0;
            }
            if (failed) {
                break;
            }
        }
        for (Py_ssize_t c = 0; c < width; c++) {
            Output *out = &outputs[c];
            const char *text = joined != NULL ? joined : "";
            Py_ssize_t size = 0;
            if (out->parts == 1 && out->group[0] >= 0) {
                text = starts[out->group[0]];
                size = ends[out->group[0]] - text;
            }
            else {
                for (int k = 0; k < out->parts; k++) {
                    int group = out->group[k];
                    Py_ssize_t part = group >= 0 ? ends[group] - starts[group] : 0;
                    if (k) {
                        joined[size++] = '\n';
                    }
                    if (part > 0) {
                        memcpy(joined + size, starts[group], (size_t)part);
                        size += part;
                    }
                }
            }
            if (size < 0) {
                size = 0; /* a close before its open cannot come from the translator; kept empty */
            }
            /* a column's key is often the line before's (its second, its client): compared first */
            PyObject *key;
            if (out->last != NULL && PyBytes_GET_SIZE(out->last) == size
                && memcmp(PyBytes_AS_STRING(out->last), text, (size_t)size) == 0) {
                Py_INCREF(out->last);
                key = out->last;
            }
            else {
                key = out->shared ? intern_bytes(&out->table, text, size) : PyBytes_FromStringAndSize(text, size);
                out->last = key; /* borrowed: the column holds it */
            }
            if (key == NULL) {
                failed = 1;
            }
            PyTuple_SET_ITEM(out->column, row, key);
        }
        row++;
        line = end < stop ? end + 1 : stop;
    }
    for (Py_ssize_t c = 0; c < width && !failed && matched; c++) {
        failed = _PyTuple_Resize(&outputs[c].column, row) < 0;
    }
    if (!failed) {
        if (matched) {
            result = PyTuple_New(width);
            for (Py_ssize_t c = 0; result != NULL && c < width; c++) {
                Py_INCREF(outputs[c].column);
                PyTuple_SET_ITEM(result, c, outputs[c].column);
            }
        }
        else {
            Py_INCREF(Py_None);
            result = Py_None;
        }
    }
    for (Py_ssize_t c = 0; c < width && c < MAX_GROUPS; c++) {
        Py_XDECREF(outputs[c].column);
        interner_free(&outputs[c].table);
    }
    PyMem_Free(joined);
    PyBuffer_Release(&view);
    return result;
}

/* ------------------------------------------------------------------------------------------ */
/* Tally: the counters of a range of records.                                                 */

typedef struct {
    Py_ssize_t *data;
    Py_ssize_t size, capacity;
} Array;

static int
array_push(Array *array, Py_ssize_t value)
{
    if (array->size == array->capacity) {
        Py_ssize_t capacity = array->capacity ? array->capacity * 2 : 64;
        Py_ssize_t *data = PyMem_Realloc(array->data, (size_t)capacity * sizeof(Py_ssize_t));
        if (data == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        array->data = data;
        array->capacity = capacity;
    }
    array->data[array->size++] = value;
    return 0;
}

/* The index of `key` in `index` (adding it as the next one if new, and *added is set), or -1 on error. */
static Py_ssize_t
index_of(PyObject *index, PyObject *key, int *added)
{
    PyObject *found = PyDict_GetItemWithError(index, key);
    *added = 0;
    if (found != NULL) {
        return PyLong_AsSsize_t(found);
    }
    if (PyErr_Occurred()) {
        return -1;
    }
    Py_ssize_t position = PyDict_GET_SIZE(index);
    PyObject *number = PyLong_FromSsize_t(position);
    if (number == NULL) {
        return -1;
    }
    int status = PyDict_SetItem(index, key, number);
    Py_DECREF(number);
    if (status < 0) {
        return -1;
    }
    *added = 1;
    return position;
}

/* The bytes of a size key: plain decimal digits (at most 18) or "-" (0), or a non-negative int.
 * Returns 0 and sets *value, 1 when the key is anything else (the reference decides), -1 on error. */
static int
size_of(PyObject *key, long long *value)
{
    if (PyBytes_CheckExact(key)) {
        const char *text = PyBytes_AS_STRING(key);
        Py_ssize_t size = PyBytes_GET_SIZE(key);
        if (size == 1 && text[0] == '-') {
            *value = 0;
            return 0;
        }
        if (size == 0 || size > 18) {
            return 1;
        }
        long long total = 0;
        for (Py_ssize_t i = 0; i < size; i++) {
            if (text[i] < '0' || text[i] > '9') {
                return 1;
            }
            total = total * 10 + (text[i] - '0');
        }
        *value = total;
        return 0;
    }
    if (PyLong_CheckExact(key)) {
        int overflow;
        long long total = PyLong_AsLongLongAndOverflow(key, &overflow);
        if (total == -1 && PyErr_Occurred()) {
            return -1;
        }
        if (overflow || total < 0 || total > 999999999999999999LL) {
            return 1;
        }
        *value = total;
        return 0;
    }
    return 1;
}

static PyObject *
list_of(PyObject **items, Py_ssize_t size)
{
    PyObject *list = PyList_New(size);
    if (list == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < size; i++) {
        Py_INCREF(items[i]);
        PyList_SET_ITEM(list, i, items[i]);
    }
    return list;
}

static PyObject *
numbers_of(const Py_ssize_t *values, Py_ssize_t size)
{
    PyObject *list = PyList_New(size);
    if (list == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < size; i++) {
        PyObject *number = PyLong_FromSsize_t(values[i]);
        if (number == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, i, number);
    }
    return list;
}

/* A sequence of our own holding items start to end of `sequence` (as sequence[start:end]), whose
 * items PySequence_Fast_ITEMS can read. */
static PyObject *
private_slice(PyObject *sequence, Py_ssize_t start, Py_ssize_t end)
{
    PyObject *slice = PySequence_GetSlice(sequence, start, end);
    if (slice == NULL) {
        return NULL;
    }
    PyObject *fast = PySequence_Fast(slice, "the columns must be sequences");
    Py_DECREF(slice);
    if (fast != NULL && Py_REFCNT(fast) > 1) { /* a sequence whose slice is shared (a subclass's __getitem__) */
        PyObject *copy = PySequence_Tuple(fast);
        Py_DECREF(fast);
        fast = copy;
    }
    return fast;
}

static PyObject *
tally(PyObject *module, PyObject *args)
{
    (void)module;
    PyObject *who_in, *requests_in, *statuses_in, *sizes_in;
    Py_ssize_t start, end;
    if (!PyArg_ParseTuple(args, "OOOOnn:tally", &who_in, &requests_in, &statuses_in, &sizes_in, &start, &end)) {
        return NULL;
    }
    PyObject *who = NULL, *requests = NULL, *statuses = NULL, *sizes = NULL;
    PyObject *who_index = NULL, *request_index = NULL, *result = NULL;
    Array who_hits = {0}, pair_request = {0}, pair_hits = {0}, pair_next = {0}, request_first = {0};
    PyObject **pair_status = NULL;
    long long *request_bytes = NULL;
    Py_ssize_t request_capacity = 0, pair_capacity = 0;
    int plain = 1;

    /* the records start to end of each column, as the reference slices them: copies of our own, so
     * that no key's __eq__ or __hash__ can free an item while its pointer is in use */
    who = private_slice(who_in, start, end);
    requests = private_slice(requests_in, start, end);
    statuses = private_slice(statuses_in, start, end);
    sizes = private_slice(sizes_in, start, end);
    who_index = PyDict_New();
    request_index = PyDict_New();
    if (who == NULL || requests == NULL || statuses == NULL || sizes == NULL || who_index == NULL || request_index == NULL) {
        goto done;
    }
    Py_ssize_t records = PySequence_Fast_GET_SIZE(who);
    if (PySequence_Fast_GET_SIZE(requests) != records || PySequence_Fast_GET_SIZE(statuses) != records
        || PySequence_Fast_GET_SIZE(sizes) != records) {
        plain = 0; /* columns of different lengths: the reference decides */
        goto done;
    }
    PyObject **who_items = PySequence_Fast_ITEMS(who), **request_items = PySequence_Fast_ITEMS(requests);
    PyObject **status_items = PySequence_Fast_ITEMS(statuses), **size_items = PySequence_Fast_ITEMS(sizes);
    PyObject *last_who = NULL;
    Py_ssize_t last_who_at = -1;
    PyTypeObject *size_type = records ? Py_TYPE(size_items[0]) : NULL;
    for (Py_ssize_t i = 0; i < records; i++) {
        int added;
        /* clients */
        Py_ssize_t at = last_who_at;
        if (who_items[i] != last_who) {
            at = index_of(who_index, who_items[i], &added);
            if (at < 0 || (added && array_push(&who_hits, 0) < 0)) {
                goto done;
            }
            last_who = who_items[i];
            last_who_at = at;
        }
        who_hits.data[at]++;

        /* bytes per request */
        long long bytes;
        int unusual = Py_TYPE(size_items[i]) != size_type ? 1 : size_of(size_items[i], &bytes); /* one kind a column */
        if (unusual) {
            if (unusual > 0) {
                plain = 0;
            }
            goto done;
        }
        Py_ssize_t request = index_of(request_index, request_items[i], &added);
        if (request < 0) {
            goto done;
        }
        if (added) {
            if (request >= request_capacity) {
                request_capacity = request_capacity ? request_capacity * 2 : 64;
                long long *grown = PyMem_Realloc(request_bytes, (size_t)request_capacity * sizeof(long long));
                if (grown == NULL) {
                    PyErr_NoMemory();
                    goto done;
                }
                request_bytes = grown;
            }
            request_bytes[request] = 0;
            if (array_push(&request_first, -1) < 0) {
                goto done;
            }
        }
        if (__builtin_add_overflow(request_bytes[request], bytes, &request_bytes[request])) {
            plain = 0; /* past 2**63 bytes: the reference's integers do not overflow */
            goto done;
        }

        /* (request, status) pairs: a request's few statuses are a chain, compared by identity first */
        PyObject *status = status_items[i];
        Py_ssize_t pair = request_first.data[request], previous = -1;
        while (pair >= 0) {
            PyObject *known = pair_status[pair];
            if (known == status) {
                break;
            }
            int equal = PyObject_RichCompareBool(known, status, Py_EQ);
            if (equal < 0) {
                goto done;
            }
            if (equal) {
                break;
            }
            previous = pair;
            pair = pair_next.data[pair];
        }
        if (pair < 0) {
            pair = pair_hits.size;
            if (pair >= pair_capacity) {
                pair_capacity = pair_capacity ? pair_capacity * 2 : 64;
                PyObject **grown = PyMem_Realloc(pair_status, (size_t)pair_capacity * sizeof(PyObject *));
                if (grown == NULL) {
                    PyErr_NoMemory();
                    goto done;
                }
                pair_status = grown;
            }
            pair_status[pair] = status; /* borrowed: the columns hold it during the call */
            if (array_push(&pair_hits, 0) < 0 || array_push(&pair_request, request) < 0 || array_push(&pair_next, -1) < 0) {
                goto done;
            }
            if (previous < 0) {
                request_first.data[request] = pair;
            }
            else {
                pair_next.data[previous] = pair;
            }
        }
        pair_hits.data[pair]++;
    }

    {
        /* a dict's keys come in insertion order: first seen */
        PyObject *who_keys = PyDict_Keys(who_index), *request_keys = PyDict_Keys(request_index);
        PyObject *pair_requests = NULL, *pair_statuses = NULL, *who_counts = NULL, *pair_counts = NULL, *bytes = NULL;
        if (who_keys != NULL && request_keys != NULL) {
            PyObject **request_objects = PySequence_Fast_ITEMS(request_keys);
            pair_requests = PyList_New(pair_hits.size);
            if (pair_requests != NULL) {
                for (Py_ssize_t i = 0; i < pair_hits.size; i++) {
                    PyObject *request = request_objects[pair_request.data[i]];
                    Py_INCREF(request);
                    PyList_SET_ITEM(pair_requests, i, request);
                }
            }
            pair_statuses = list_of(pair_status, pair_hits.size);
            who_counts = numbers_of(who_hits.data, who_hits.size);
            pair_counts = numbers_of(pair_hits.data, pair_hits.size);
            Py_ssize_t requests_seen = PyList_GET_SIZE(request_keys);
            bytes = PyList_New(requests_seen);
            for (Py_ssize_t i = 0; bytes != NULL && i < requests_seen; i++) {
                PyObject *number = PyLong_FromLongLong(request_bytes[i]);
                if (number == NULL) {
                    Py_CLEAR(bytes);
                    break;
                }
                PyList_SET_ITEM(bytes, i, number);
            }
        }
        if (who_keys && request_keys && pair_requests && pair_statuses && who_counts && pair_counts && bytes) {
            result = PyTuple_Pack(7, who_keys, who_counts, pair_requests, pair_statuses, pair_counts, request_keys, bytes);
        }
        Py_XDECREF(who_keys);
        Py_XDECREF(request_keys);
        Py_XDECREF(pair_requests);
        Py_XDECREF(pair_statuses);
        Py_XDECREF(who_counts);
        Py_XDECREF(pair_counts);
        Py_XDECREF(bytes);
    }

done:
    if (!plain && !PyErr_Occurred()) {
        Py_INCREF(Py_None);
        result = Py_None;
    }
    Py_XDECREF(who);
    Py_XDECREF(requests);
    Py_XDECREF(statuses);
    Py_XDECREF(sizes);
    Py_XDECREF(who_index);
    Py_XDECREF(request_index);
    PyMem_Free(who_hits.data);
    PyMem_Free(pair_request.data);
    PyMem_Free(pair_hits.data);
    PyMem_Free(pair_next.data);
    PyMem_Free(request_first.data);
    PyMem_Free(pair_status);
    PyMem_Free(request_bytes);
    return result;
}

static PyObject *
summed(PyObject *module, PyObject *args)
{
    (void)module;
    PyObject *keys_in, *counts_in;
    if (!PyArg_ParseTuple(args, "OO:summed", &keys_in, &counts_in)) {
        return NULL;
    }
    PyObject *keys = private_slice(keys_in, 0, PY_SSIZE_T_MAX);
    PyObject *counts = keys == NULL ? NULL : private_slice(counts_in, 0, PY_SSIZE_T_MAX);
    PyObject *result = counts == NULL ? NULL : PyDict_New();
    if (result != NULL) {
        Py_ssize_t size = PySequence_Fast_GET_SIZE(keys);
        if (PySequence_Fast_GET_SIZE(counts) < size) {
            size = PySequence_Fast_GET_SIZE(counts); /* as zip */
        }
        PyObject **key_items = PySequence_Fast_ITEMS(keys), **count_items = PySequence_Fast_ITEMS(counts);
        for (Py_ssize_t i = 0; i < size; i++) {
            if (!PyLong_CheckExact(count_items[i])) { /* counts are ints; anything else, the reference decides */
                Py_DECREF(result);
                Py_INCREF(Py_None);
                result = Py_None;
                break;
            }
        }
        for (Py_ssize_t i = 0; result != Py_None && i < size; i++) {
            PyObject *known = PyDict_GetItemWithError(result, key_items[i]);
            PyObject *total;
            if (known == NULL) {
                if (PyErr_Occurred()) {
                    Py_CLEAR(result);
                    break;
                }
                Py_INCREF(count_items[i]);
                total = count_items[i];
            }
            else if ((total = PyNumber_Add(known, count_items[i])) == NULL) {
                Py_CLEAR(result);
                break;
            }
            int status = PyDict_SetItem(result, key_items[i], total);
            Py_DECREF(total);
            if (status < 0) {
                Py_CLEAR(result);
                break;
            }
        }
    }
    Py_XDECREF(keys);
    Py_XDECREF(counts);
    return result;
}

static PyObject *
runs(PyObject *module, PyObject *keys_in)
{
    (void)module;
    PyObject *keys = private_slice(keys_in, 0, PY_SSIZE_T_MAX);
    if (keys == NULL) {
        return NULL;
    }
    PyObject *run_keys = PyList_New(0), *run_counts = PyList_New(0), *result = NULL;
    Py_ssize_t size = PySequence_Fast_GET_SIZE(keys), begin = 0;
    PyObject **items = PySequence_Fast_ITEMS(keys);
    int failed = run_keys == NULL || run_counts == NULL;
    for (Py_ssize_t i = 1; !failed && i <= size; i++) {
        if (i < size) {
            /* a key against the one before it, by !=, as the reference: the same bytes object is
             * equal to itself, any other object may say otherwise (NaN) */
            int differs;
            if (items[i] == items[i - 1] && PyBytes_CheckExact(items[i])) {
                differs = 0;
            }
            else {
                PyObject *answer = PyObject_RichCompare(items[i - 1], items[i], Py_NE);
                differs = answer == NULL ? -1 : PyObject_IsTrue(answer);
                Py_XDECREF(answer);
            }
            if (differs < 0) {
                failed = 1;
                break;
            }
            if (!differs) {
                continue;
            }
        }
        PyObject *count = PyLong_FromSsize_t(i - begin);
        failed = count == NULL || PyList_Append(run_keys, items[begin]) < 0 || PyList_Append(run_counts, count) < 0;
        Py_XDECREF(count);
        begin = i;
    }
    if (!failed) {
        result = PyTuple_Pack(2, run_keys, run_counts);
    }
    Py_XDECREF(run_keys);
    Py_XDECREF(run_counts);
    Py_DECREF(keys);
    return result;
}


/* ------------------------------------------------------------------------------------------ */
/* Pairs: how often each pair of keys of two columns occurs, without a tuple made per record.   */

typedef struct {
    Py_hash_t hash;
    Py_ssize_t index; /* the pair's first-seen position, or -1 for an empty slot */
} PairSlot;

static Py_hash_t
pair_hash(Py_hash_t a, Py_hash_t b)
{
    Py_uhash_t mixed = (Py_uhash_t)a * 1000003u ^ (Py_uhash_t)b;
    return (Py_hash_t)(mixed == (Py_uhash_t)-1 ? (Py_uhash_t)-2 : mixed);
}

static PyObject *
pairs(PyObject *module, PyObject *args)
{
    (void)module;
    PyObject *first_in, *second_in;
    Py_ssize_t start, end;
    if (!PyArg_ParseTuple(args, "OOnn:pairs", &first_in, &second_in, &start, &end)) {
        return NULL;
    }
    /* copies of our own (see tally), so that no key's __eq__ can free an item in use */
    PyObject *first = private_slice(first_in, start, end), *second = private_slice(second_in, start, end);
    PyObject *firsts = PyList_New(0), *seconds = PyList_New(0), *result = NULL;
    Array counts = {0};
    PairSlot *slots = NULL;
    size_t mask = 255, used = 0;
    if (first == NULL || second == NULL || firsts == NULL || seconds == NULL
        || (slots = PyMem_Malloc((mask + 1) * sizeof(PairSlot))) == NULL) {
        if (slots == NULL && !PyErr_Occurred()) {
            PyErr_NoMemory();
        }
        goto done;
    }
    for (size_t i = 0; i <= mask; i++) {
        slots[i].index = -1;
    }
    Py_ssize_t records = PySequence_Fast_GET_SIZE(first);
    if (PySequence_Fast_GET_SIZE(second) < records) {
        records = PySequence_Fast_GET_SIZE(second); /* as zip: the shorter column */
    }
    PyObject **a_items = PySequence_Fast_ITEMS(first), **b_items = PySequence_Fast_ITEMS(second);
    Py_ssize_t last = -1; /* the pair of the record before: logs repeat a record's keys */
    for (Py_ssize_t i = 0; i < records; i++) {
        PyObject *a = a_items[i], *b = b_items[i];
        if (last >= 0 && PyList_GET_ITEM(firsts, last) == a && PyList_GET_ITEM(seconds, last) == b) {
            counts.data[last]++;
            continue;
        }
        Py_hash_t ha = PyObject_Hash(a), hb = ha == -1 ? -1 : PyObject_Hash(b);
        if (hb == -1) {
            goto done; /* an unhashable key: the reference raises the same TypeError */
        }
        Py_hash_t hash = pair_hash(ha, hb);
        size_t at = (size_t)hash & mask;
        Py_ssize_t found = -1;
        while (slots[at].index >= 0) {
            if (slots[at].hash == hash) {
                Py_ssize_t index = slots[at].index;
                PyObject *ka = PyList_GET_ITEM(firsts, index), *kb = PyList_GET_ITEM(seconds, index);
                int equal = ka == a ? 1 : PyObject_RichCompareBool(ka, a, Py_EQ);
                if (equal > 0) {
                    equal = kb == b ? 1 : PyObject_RichCompareBool(kb, b, Py_EQ);
                }
                if (equal < 0) {
                    goto done;
                }
                if (equal) {
                    found = index;
                    break;
                }
            }
            at = (at + 1) & mask;
        }
        if (found < 0) {
            found = PyList_GET_SIZE(firsts);
            if (PyList_Append(firsts, a) < 0 || PyList_Append(seconds, b) < 0 || array_push(&counts, 0) < 0) {
                goto done;
            }
            slots[at].hash = hash;
            slots[at].index = found;
            if (++used * 2 > mask + 1) {
                size_t size = (mask + 1) * 2;
                PairSlot *grown = PyMem_Malloc(size * sizeof(PairSlot));
                if (grown == NULL) {
                    PyErr_NoMemory();
                    goto done;
                }
                for (size_t k = 0; k < size; k++) {
                    grown[k].index = -1;
                }
                for (size_t k = 0; k <= mask; k++) {
                    if (slots[k].index >= 0) {
                        size_t to = (size_t)slots[k].hash & (size - 1);
                        while (grown[to].index >= 0) {
                            to = (to + 1) & (size - 1);
                        }
                        grown[to] = slots[k];
                    }
                }
                PyMem_Free(slots);
                slots = grown;
                mask = size - 1;
            }
        }
        counts.data[found]++;
        last = found;
    }
    PyObject *numbers = numbers_of(counts.data, counts.size);
    if (numbers != NULL) {
        result = PyTuple_Pack(3, firsts, seconds, numbers);
        Py_DECREF(numbers);
    }
done:
    PyMem_Free(slots);
    PyMem_Free(counts.data);
    Py_XDECREF(first);
    Py_XDECREF(second);
    Py_XDECREF(firsts);
    Py_XDECREF(seconds);
    return result;
}

/* One key (its UTF-8 bytes) into a HyperLogLog's 2**precision registers: the hash and rank of
 * monilog.accumulation.distinct.add_python. */
static void
sketch_add(unsigned char *slots, int precision, const char *text, Py_ssize_t length)
{
    const int rank_bits = 64 - precision;
    uint64_t value = 0xCBF29CE484222325ULL;
    for (Py_ssize_t i = 0; i < length; i++) {
        value = (value ^ (unsigned char)text[i]) * 0x100000001B3ULL;
    }
    value ^= value >> 33;
    value *= 0xFF51AFD7ED558CCDULL;
    value ^= value >> 33;
    value *= 0xC4CEB9FE1A85EC53ULL;
    value ^= value >> 33;
    uint64_t rest = value & (((uint64_t)1 << rank_bits) - 1);
    int width = rest ? 64 - __builtin_clzll(rest) : 0;
    unsigned char rank = (unsigned char)(rank_bits + 1 - width);
    uint64_t index = value >> rank_bits;
    if (slots[index] < rank) {
        slots[index] = rank;
    }
}

/* The precision of a HyperLogLog's registers (a bytearray of 2**precision bytes, at least 16),
 * or -1 with a ValueError naming `caller`. */
static int
register_precision(PyObject *registers, const char *caller)
{
    Py_ssize_t size = PyByteArray_GET_SIZE(registers);
    int precision = 0;
    while (precision < 30 && ((Py_ssize_t)1 << precision) < size) {
        precision++;
    }
    if (size < 16 || ((Py_ssize_t)1 << precision) != size) {
        PyErr_Format(PyExc_ValueError, "%s: the registers must be a power of two, at least 16", caller);
        return -1;
    }
    return precision;
}

/* distinct_add: the twin of monilog.accumulation.distinct.add_python (see there for the hash). */
static PyObject *
distinct_add(PyObject *module, PyObject *args)
{
    (void)module;
    PyObject *registers, *keys;
    if (!PyArg_ParseTuple(args, "O!O:distinct_add", &PyByteArray_Type, &registers, &keys)) {
        return NULL;
    }
    int precision = register_precision(registers, "distinct_add");
    if (precision < 0) {
        return NULL;
    }
    unsigned char *slots = (unsigned char *)PyByteArray_AS_STRING(registers);
    PyObject *iterator = PyObject_GetIter(keys);
    if (iterator == NULL) {
        return NULL;
    }
    PyObject *key;
    while ((key = PyIter_Next(iterator)) != NULL) {
        Py_ssize_t length;
        const char *text = PyUnicode_Check(key) ? PyUnicode_AsUTF8AndSize(key, &length) : NULL;
        Py_DECREF(key);
        if (text == NULL) { /* not text, or a lone surrogate: the reference decides */
            Py_DECREF(iterator);
            PyErr_Clear();
            Py_RETURN_NONE;
        }
        sketch_add(slots, precision, text, length);
    }
    Py_DECREF(iterator);
    if (PyErr_Occurred()) {
        return NULL;
    }
    Py_RETURN_TRUE;
}

/* The number of newlines in a bytes object: one memchr per line rather than a test per byte
 * (bytes.count, the reference); None for anything else, which the reference counts. */
static PyObject *
newlines(PyObject *module, PyObject *data)
{
    (void)module;
    if (!PyBytes_CheckExact(data)) {
        Py_RETURN_NONE;
    }
    const char *at = PyBytes_AS_STRING(data), *end = at + PyBytes_GET_SIZE(data);
    Py_ssize_t count = 0;
    while (at < end && (at = memchr(at, '\n', (size_t)(end - at))) != NULL) {
        count++;
        at++;
    }
    return PyLong_FromSsize_t(count);
}

/* The sums of an overflow's section columns (hits, errors, bytes: arrays of unsigned 64-bit ints,
 * array("Q")), as monilog.accumulation.statistics.column_totals_python; None for any other columns,
 * a section with more errors than hits or bytes without hits, or a sum beyond 64 bits: the
 * reference decides (and raises). */
static PyObject *
column_totals(PyObject *module, PyObject *args)
{
    (void)module;
    PyObject *objects[3];
    if (!PyArg_ParseTuple(args, "OOO:column_totals", &objects[0], &objects[1], &objects[2])) {
        return NULL;
    }
    Py_buffer views[3];
    int taken = 0, usual = 1;
    for (; taken < 3; taken++) {
        if (PyObject_GetBuffer(objects[taken], &views[taken], PyBUF_FORMAT | PyBUF_C_CONTIGUOUS) < 0) {
            PyErr_Clear(); /* not a buffer: the reference decides */
            usual = 0;
            break;
        }
        const char *format = views[taken].format;
        if (views[taken].itemsize != 8 || format == NULL || strcmp(format, "Q") != 0
            || views[taken].len != views[0].len) {
            taken++;
            usual = 0;
            break;
        }
    }
    unsigned long long totals[3] = {0, 0, 0};
    if (usual) {
        const unsigned long long *hits = views[0].buf, *errors = views[1].buf, *sizes = views[2].buf;
        Py_ssize_t count = views[0].len / 8;
        for (Py_ssize_t i = 0; usual && i < count; i++) {
            usual = errors[i] <= hits[i] && (hits[i] || !sizes[i])
                && !__builtin_add_overflow(totals[0], hits[i], &totals[0])
                && !__builtin_add_overflow(totals[1], errors[i], &totals[1])
                && !__builtin_add_overflow(totals[2], sizes[i], &totals[2]);
        }
    }
    while (taken > 0) {
        PyBuffer_Release(&views[--taken]);
    }
    if (!usual) {
        Py_RETURN_NONE;
    }
    return Py_BuildValue("(KKK)", totals[0], totals[1], totals[2]);
}

/* Each str of a list that starts with `lead`, cut before the first of `stops` after its first
 * character (whole when there is none); other(key) for any other key. The caller gives the rule
 * (monilog.parsing.section: lead "/", stops "/?#"); this knows none. */
static PyObject *
prefixes(PyObject *module, PyObject *args)
{
    (void)module;
    PyObject *keys, *other;
    const char *lead, *stops;
    Py_ssize_t lead_size, stop_count;
    if (!PyArg_ParseTuple(args, "O!s#s#O", &PyList_Type, &keys, &lead, &lead_size, &stops, &stop_count, &other)) {
        return NULL;
    }
    if (lead_size != 1 || (unsigned char)lead[0] >= 128) {
        PyErr_SetString(PyExc_ValueError, "prefixes: lead must be one ASCII character");
        return NULL;
    }
    unsigned char stop[256] = {0};
    for (Py_ssize_t i = 0; i < stop_count; i++) {
        if ((unsigned char)stops[i] >= 128) {
            PyErr_SetString(PyExc_ValueError, "prefixes: stops must be ASCII");
            return NULL;
        }
        stop[(unsigned char)stops[i]] = 1;
    }
    /* a copy: other() may change the list it was given */
    PyObject *own = PyList_GetSlice(keys, 0, PyList_GET_SIZE(keys));
    if (own == NULL) {
        return NULL;
    }
    Py_ssize_t count = PyList_GET_SIZE(own);
    PyObject *result = PyList_New(count);
    if (result == NULL) {
        Py_DECREF(own);
        return NULL;
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *key = PyList_GET_ITEM(own, i), *item;
        Py_ssize_t size;
#if PY_VERSION_HEX < 0x030C0000
        if (PyUnicode_CheckExact(key) && PyUnicode_READY(key) < 0) {
            Py_DECREF(own);
            Py_DECREF(result);
            return NULL;
        }
#endif
        if (PyUnicode_CheckExact(key) && (size = PyUnicode_GET_LENGTH(key)) > 0
                && PyUnicode_READ_CHAR(key, 0) == (Py_UCS4)(unsigned char)lead[0]) {
            Py_ssize_t end = 1;
            if (PyUnicode_KIND(key) == PyUnicode_1BYTE_KIND) {  /* ASCII and Latin-1: all of a busy log */
                const Py_UCS1 *data = PyUnicode_1BYTE_DATA(key);
                while (end < size && !stop[data[end]]) {
                    end++;
                }
            } else {
                int kind = PyUnicode_KIND(key);
                const void *data = PyUnicode_DATA(key);
                Py_UCS4 character;
                while (end < size && ((character = PyUnicode_READ(kind, data, end)) >= 128 || !stop[character])) {
                    end++;
                }
            }
            if (end == size) {
                Py_INCREF(key);
                item = key;
            } else {
                item = PyUnicode_Substring(key, 0, end);
            }
        } else {
            item = PyObject_CallOneArg(other, key);
        }
        if (item == NULL) {
            Py_DECREF(own);
            Py_DECREF(result);
            return NULL;
        }
        PyList_SET_ITEM(result, i, item);
    }
    Py_DECREF(own);
    return result;
}

/* ------------------------------------------------------------------------------------------ */
/* count_clf: the counters of plain Common/Combined columns, cut, in one pass over byte spans.  */

/* A table of distinct byte spans (keys of one dimension) in first-seen order, with their hits.
 * Spans point into the column's bytes objects, which the caller holds during the call; slots
 * are found by Python's own hash of the bytes (SipHash: no one can choose colliding keys). A key
 * and its counts are one entry, and a slot keeps the low bits of its key's hash, so that a
 * lookup touches a slot and, when the bits agree, one entry (a log of random paths makes tables
 * larger than the processor's caches). */
typedef struct {
    const char *text;
    Py_ssize_t length;
    long long hits;
    long long bytes;      /* sections: the bytes sent */
    Py_ssize_t first_pair; /* sections: the first of their (section, status) pairs */
} SpanKey;

typedef struct {
    uint32_t index; /* the index of a key plus one; 0 for an empty slot */
    uint32_t hash;  /* the low bits of its hash */
} SpanSlot;

typedef struct {
    SpanKey *keys;
    Py_ssize_t size, capacity;
    SpanSlot *slots;
    size_t mask;
} SpanTable;

#define SPAN_TABLE_MAX 0x7FFFFFFF /* keys a table holds at most (the columns then go the reference's way) */

static void
span_table_free(SpanTable *table)
{
    PyMem_Free(table->keys);
    PyMem_Free(table->slots);
}

/* Room for one more key: a longer array of keys when it is full, twice the slots when they
 * would be more than half full. */
static int
span_table_grow(SpanTable *table)
{
    if (table->size == table->capacity) {
        Py_ssize_t capacity = table->capacity ? table->capacity * 2 : 64;
        SpanKey *keys = PyMem_Realloc(table->keys, (size_t)capacity * sizeof(SpanKey));
        if (keys == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        table->keys = keys;
        table->capacity = capacity;
    }
    if ((size_t)table->size + 1 > (table->mask + 1) / 2) {
        size_t mask = table->mask * 2 + 1;
        SpanSlot *slots = PyMem_Calloc(mask + 1, sizeof(SpanSlot));
        if (slots == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        for (size_t i = 0; i <= table->mask; i++) {
            if (table->slots[i].index) {
                size_t slot = table->slots[i].hash & mask;
                while (slots[slot].index) {
                    slot = (slot + 1) & mask;
                }
                slots[slot] = table->slots[i];
            }
        }
        PyMem_Free(table->slots);
        table->slots = slots;
        table->mask = mask;
    }
    return 0;
}

/* The slots for `keys` keys (twice as many), 128 at least. */
static size_t
slots_for(Py_ssize_t keys)
{
    size_t slots = 128;
    while (slots < (size_t)keys * 2 && slots < ((size_t)1 << 32)) {
        slots <<= 1;
    }
    return slots;
}

/* The `*mask + 1` slots of a table (of `size` bytes each) emptied for a call that needs about
 * `wanted`: cleared in place, or made anew when there are none yet or more than four times that
 * (clearing them would cost more than growing again). */
static int
empty_slots(void **slots, size_t *mask, size_t wanted, size_t size)
{
    if (*slots == NULL || *mask + 1 > 4 * wanted) {
        void *fresh = PyMem_Calloc(wanted, size);
        if (fresh == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        PyMem_Free(*slots);
        *slots = fresh;
        *mask = wanted - 1;
    }
    else {
        memset(*slots, 0, (*mask + 1) * size);
    }
    return 0;
}

/* A table emptied for a call, its memory kept (made if it has none: a table of zeros is empty). */
static int
span_table_reset(SpanTable *table, Py_ssize_t records)
{
    Py_ssize_t last = table->size; /* keys of the last call: the table's likely needs */
    table->size = 0;
    return empty_slots((void **)&table->slots, &table->mask, slots_for(records < last ? records : last), sizeof(SpanSlot));
}

/* The index of the span in the table, added with no counts if new; -1 on error. A table holds
 * at most SPAN_TABLE_MAX keys: the caller gives no more. */
static Py_ssize_t
span_index(SpanTable *table, const char *text, Py_ssize_t length)
{
    uint32_t hash = (uint32_t)hash_bytes(text, length);
    size_t slot = hash & table->mask;
    for (uint32_t found; (found = table->slots[slot].index) != 0; slot = (slot + 1) & table->mask) {
        const SpanKey *key = &table->keys[found - 1];
        if (table->slots[slot].hash == hash && key->length == length && memcmp(key->text, text, (size_t)length) == 0) {
            return found - 1;
        }
    }
    if (table->size == table->capacity || (size_t)table->size + 1 > (table->mask + 1) / 2) {
        if (span_table_grow(table) < 0) {
            return -1;
        }
        slot = hash & table->mask;
        while (table->slots[slot].index) {
            slot = (slot + 1) & table->mask;
        }
    }
    Py_ssize_t index = table->size++;
    SpanKey *key = &table->keys[index];
    key->text = text;
    key->length = length;
    key->hits = key->bytes = 0;
    key->first_pair = -1;
    table->slots[slot].index = (uint32_t)index + 1;
    table->slots[slot].hash = hash;
    return index;
}

/* Distinct key objects (a column's keys, shared when they repeat: scan_clf's) to the indices of
 * what they decode to, found by identity. Like the interner, it stops remembering after
 * SHARING_SAMPLE keys of which fewer than one in SHARED_AT_LEAST were found (a column of random
 * keys, which scan_clf no longer shares): each key is then decoded anew, which changes no result. */
typedef struct {
    PyObject *key; /* borrowed: the caller's copy of the column holds it */
    Py_ssize_t first, second;
} ObjectSlot;

typedef struct {
    ObjectSlot *slots;
    size_t mask, used, looked, found;
    ObjectSlot spare; /* the slot handed out once the table stopped remembering */
} ObjectTable;

static inline size_t
object_slot(PyObject *key, size_t mask)
{
    return (size_t)((((uintptr_t)key >> 4) * 0x9E3779B97F4A7C15ULL) >> 20) & mask;
}

/* The slot of `key`: its own, or an empty one where it is to be added (key NULL); NULL on error. */
static ObjectSlot *
object_find(ObjectTable *table, PyObject *key)
{
    if (table->looked >= SHARING_SAMPLE && table->found * SHARED_AT_LEAST < table->looked) {
        table->spare.key = NULL;
        return &table->spare;
    }
    table->looked++;
    if (table->used * 2 >= table->mask) {
        size_t mask = table->mask * 2 + 1;
        ObjectSlot *slots = PyMem_Calloc(mask + 1, sizeof(ObjectSlot));
        if (slots == NULL) {
            PyErr_NoMemory();
            return NULL;
        }
        for (size_t i = 0; i <= table->mask; i++) {
            if (table->slots[i].key != NULL) {
                size_t slot = object_slot(table->slots[i].key, mask);
                while (slots[slot].key != NULL) {
                    slot = (slot + 1) & mask;
                }
                slots[slot] = table->slots[i];
            }
        }
        PyMem_Free(table->slots);
        table->slots = slots;
        table->mask = mask;
    }
    size_t slot = object_slot(key, table->mask);
    while (table->slots[slot].key != NULL && table->slots[slot].key != key) {
        slot = (slot + 1) & table->mask;
    }
    table->found += table->slots[slot].key != NULL;
    return &table->slots[slot];
}

/* A table emptied for a call, its memory kept (made if it has none: a table of zeros is empty). */
static int
object_table_reset(ObjectTable *table, Py_ssize_t records)
{
    Py_ssize_t last = (Py_ssize_t)table->used; /* keys of the last call (at most SHARING_SAMPLE and a few) */
    table->used = table->looked = table->found = 0;
    return empty_slots((void **)&table->slots, &table->mask, slots_for(records < last ? records : last), sizeof(ObjectSlot));
}

/* The tables of count_clf. They are kept from one call to the next (up to KEPT_TABLE_BYTES in
 * all), emptied rather than freed, their slots sized for the keys of the last call: made anew at every call, a log of random paths asked the
 * system for megabytes of fresh pages for every block it counted. */
typedef struct {
    SpanTable sections, methods, hosts, users;
    ObjectTable who_seen, requests_seen;
    Array pair_section, pair_status, pair_next;
    long long *pair_hits;
    Py_ssize_t pair_capacity;
} CountTables;

#define KEPT_TABLE_BYTES (16 << 20)

static CountTables kept_tables;
static int kept_tables_busy; /* a call uses them (a call made inside it, by a finalizer, makes its own) */

static int
count_tables_reset(CountTables *tables, Py_ssize_t records)
{
    tables->pair_section.size = tables->pair_status.size = tables->pair_next.size = 0;
    if (span_table_reset(&tables->sections, records) < 0 || span_table_reset(&tables->methods, records) < 0
        || span_table_reset(&tables->hosts, records) < 0 || span_table_reset(&tables->users, records) < 0
        || object_table_reset(&tables->who_seen, records) < 0 || object_table_reset(&tables->requests_seen, records) < 0) {
        return -1;
    }
    return 0;
}

/* The memory the tables hold. */
static size_t
count_tables_bytes(const CountTables *tables)
{
    size_t total = 0;
    const SpanTable *spans[] = {&tables->sections, &tables->methods, &tables->hosts, &tables->users};
    for (int i = 0; i < 4; i++) {
        total += (size_t)spans[i]->capacity * sizeof(SpanKey) + (spans[i]->slots ? spans[i]->mask + 1 : 0) * sizeof(SpanSlot);
    }
    const ObjectTable *objects[] = {&tables->who_seen, &tables->requests_seen};
    for (int i = 0; i < 2; i++) {
        total += (objects[i]->slots ? objects[i]->mask + 1 : 0) * sizeof(ObjectSlot);
    }
    const Array *arrays[] = {&tables->pair_section, &tables->pair_status, &tables->pair_next};
    for (int i = 0; i < 3; i++) {
        total += (size_t)arrays[i]->capacity * sizeof(Py_ssize_t);
    }
    return total + (size_t)tables->pair_capacity * sizeof(long long);
}

static void
count_tables_free(CountTables *tables)
{
    span_table_free(&tables->sections);
    span_table_free(&tables->methods);
    span_table_free(&tables->hosts);
    span_table_free(&tables->users);
    PyMem_Free(tables->who_seen.slots);
    PyMem_Free(tables->requests_seen.slots);
    PyMem_Free(tables->pair_section.data);
    PyMem_Free(tables->pair_status.data);
    PyMem_Free(tables->pair_next.data);
    PyMem_Free(tables->pair_hits);
    memset(tables, 0, sizeof(*tables));
}

/* The slot of a column's key and, when it is new there, its bytes (*text, *length): 1 when new,
 * 0 when seen before, -1 on error, -2 when the key is not bytes (the reference decides). */
static int
column_key(ObjectTable *table, PyObject *key, ObjectSlot **seen, const char **text, Py_ssize_t *length)
{
    *seen = object_find(table, key);
    if (*seen == NULL) {
        return -1;
    }
    if ((*seen)->key != NULL) {
        return 0;
    }
    if (!PyBytes_CheckExact(key)) {
        return -2;
    }
    *text = PyBytes_AS_STRING(key);
    *length = PyBytes_GET_SIZE(key);
    return 1;
}

/* Whether bytes are printable ASCII or spaces: text decoded as ASCII is the same, and holds no
 * newline. Eight bytes at a time: a byte below 0x20 borrows into its high bit when 0x20 is taken
 * from each byte, one from 0x80 has it set, and DEL (0x7f) is the zero byte of the word xor 0x7f. */
static int
plain_text(const char *text, Py_ssize_t length)
{
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    Py_ssize_t i = 0;
    for (; i + 8 <= length; i += 8) {
        uint64_t word, del;
        memcpy(&word, text + i, sizeof(word));
        del = word ^ (0x7F * ones);
        if (((word - 0x20 * ones) | word | ((del - ones) & ~del)) & highs) {
            return 0;
        }
    }
    for (; i < length; i++) {
        if ((unsigned char)text[i] < 0x20 || (unsigned char)text[i] > 0x7e) {
            return 0;
        }
    }
    return 1;
}

static PyObject *
ascii_text(const char *text, Py_ssize_t length)
{
    PyObject *result = PyUnicode_New(length, 127);
    if (result != NULL) {
        memcpy(PyUnicode_1BYTE_DATA(result), text, (size_t)length);
    }
    return result;
}

/* Keys from `from` on as one text joined by newlines (the keys are plain_text: none holds one). */
static PyObject *
joined_keys(const SpanTable *table, Py_ssize_t from)
{
    Py_ssize_t total = 0;
    for (Py_ssize_t i = from; i < table->size; i++) {
        total += table->keys[i].length + (i > from);
    }
    PyObject *result = PyUnicode_New(total, 127);
    if (result == NULL) {
        return NULL;
    }
    Py_UCS1 *out = PyUnicode_1BYTE_DATA(result);
    for (Py_ssize_t i = from; i < table->size; i++) {
        if (i > from) {
            *out++ = '\n';
        }
        memcpy(out, table->keys[i].text, (size_t)table->keys[i].length);
        out += table->keys[i].length;
    }
    return result;
}

/* The hits (or the bytes) of the keys of a table from `from` on, as the bytes of unsigned 64-bit
 * ints (what array("Q").frombytes reads). */
static PyObject *
count_bytes(const SpanTable *table, Py_ssize_t from, int bytes)
{
    Py_ssize_t size = table->size - from;
    PyObject *result = PyBytes_FromStringAndSize(NULL, size * (Py_ssize_t)sizeof(uint64_t));
    if (result != NULL) {
        uint64_t *out = (uint64_t *)PyBytes_AS_STRING(result);
        for (Py_ssize_t i = 0; i < size; i++) {
            const SpanKey *key = &table->keys[from + i];
            out[i] = (uint64_t)(bytes ? key->bytes : key->hits);
        }
    }
    return result;
}

/* The first `limit` keys of a table as a dict of their hits. */
static PyObject *
first_counts(const SpanTable *table, Py_ssize_t limit)
{
    PyObject *result = PyDict_New();
    for (Py_ssize_t i = 0; result != NULL && i < table->size && i < limit; i++) {
        PyObject *key = ascii_text(table->keys[i].text, table->keys[i].length);
        PyObject *hits = key == NULL ? NULL : PyLong_FromLongLong(table->keys[i].hits);
        if (hits == NULL || PyDict_SetItem(result, key, hits) < 0) {
            Py_CLEAR(result);
        }
        Py_XDECREF(key);
        Py_XDECREF(hits);
    }
    return result;
}

/* (count, joined keys, hit bytes) of the keys of a table past `limit`. */
static PyObject *
keys_after(const SpanTable *table, Py_ssize_t limit)
{
    Py_ssize_t from = table->size < limit ? table->size : limit;
    PyObject *text = joined_keys(table, from);
    PyObject *hits = text == NULL ? NULL : count_bytes(table, from, 0);
    PyObject *result = hits == NULL ? NULL : Py_BuildValue("(nOO)", table->size - from, text, hits);
    Py_XDECREF(text);
    Py_XDECREF(hits);
    return result;
}

/* The three-digit status code of a status key ([1-9][0-9][0-9]), or -1. */
static int
status_code(PyObject *key)
{
    if (!PyBytes_CheckExact(key) || PyBytes_GET_SIZE(key) != 3) {
        return -1;
    }
    const unsigned char *text = (const unsigned char *)PyBytes_AS_STRING(key);
    if (text[0] < '1' || text[0] > '9' || text[1] < '0' || text[1] > '9' || text[2] < '0' || text[2] > '9') {
        return -1;
    }
    return (text[0] - '0') * 100 + (text[1] - '0') * 10 + (text[2] - '0');
}

static PyObject *
count_clf(PyObject *module, PyObject *args)
{
    (void)module;
    PyObject *who_in, *requests_in, *statuses_in, *sizes_in, *registers;
    Py_ssize_t start, end, max_keys, lead_size, stop_count, error_count, max_length;
    const char *lead, *stops, *errors;
    if (!PyArg_ParseTuple(args, "OOOOnnns#s#y#nO!:count_clf", &who_in, &requests_in, &statuses_in, &sizes_in,
                          &start, &end, &max_keys, &lead, &lead_size, &stops, &stop_count, &errors, &error_count,
                          &max_length, &PyByteArray_Type, &registers)) {
        return NULL;
    }
    if (lead_size != 1 || error_count != 1000 || max_keys < 0) {
        PyErr_SetString(PyExc_ValueError, "count_clf: one lead character, 1000 error flags and max_keys >= 0");
        return NULL;
    }
    int precision = register_precision(registers, "count_clf");
    if (precision < 0) {
        return NULL;
    }
    Py_ssize_t register_count = PyByteArray_GET_SIZE(registers);
    unsigned char stop[256] = {0};
    for (Py_ssize_t i = 0; i < stop_count; i++) {
        stop[(unsigned char)stops[i]] = 1;
    }
    PyObject *who = private_slice(who_in, start, end);
    PyObject *requests = who == NULL ? NULL : private_slice(requests_in, start, end);
    PyObject *statuses = requests == NULL ? NULL : private_slice(statuses_in, start, end);
    PyObject *sizes = statuses == NULL ? NULL : private_slice(sizes_in, start, end);
    PyObject *result = NULL;
    int plain = 1;
    CountTables t;
    int kept = !kept_tables_busy; /* the tables of the last call, unless this call is inside it */
    if (kept) {
        t = kept_tables;
        kept_tables_busy = 1;
    }
    else {
        memset(&t, 0, sizeof(t));
    }
    if (sizes == NULL || count_tables_reset(&t, PySequence_Fast_GET_SIZE(who)) < 0) {
        goto done;
    }
    Py_ssize_t records = PySequence_Fast_GET_SIZE(who);
    if (PySequence_Fast_GET_SIZE(requests) != records || PySequence_Fast_GET_SIZE(statuses) != records
        || PySequence_Fast_GET_SIZE(sizes) != records || records > SPAN_TABLE_MAX) {
        plain = 0;
        goto done;
    }
    PyObject **who_items = PySequence_Fast_ITEMS(who), **request_items = PySequence_Fast_ITEMS(requests);
    PyObject **status_items = PySequence_Fast_ITEMS(statuses), **size_items = PySequence_Fast_ITEMS(sizes);
    const char *last_method = NULL;
    Py_ssize_t last_method_length = -1, last_method_index = -1;
    for (Py_ssize_t i = 0; i < records; i++) {
        /* who: host, ident and user, "-" as no host or user (decode_who) */
        ObjectSlot *seen;
        const char *text;
        Py_ssize_t length;
        int fresh = column_key(&t.who_seen, who_items[i], &seen, &text, &length);
        if (fresh < 0) {
            plain = fresh == -1; /* an error, or not bytes: the reference decides */
            goto done;
        }
        if (fresh) {
            const char *first = memchr(text, ' ', (size_t)length);
            const char *second = first == NULL ? NULL : memchr(first + 1, ' ', (size_t)(text + length - first - 1));
            if (second == NULL || !plain_text(text, length)) {
                plain = 0;
                goto done;
            }
            Py_ssize_t host_length = first - text, user_length = text + length - second - 1;
            if (host_length == 1 && text[0] == '-') {
                host_length = 0;
            }
            if (host_length > max_length) {
                plain = 0; /* counted cut: the reference decides */
                goto done;
            }
            seen->first = span_index(&t.hosts, text, host_length);
            seen->second = (user_length == 0 || (user_length == 1 && second[1] == '-')) ? -2 : span_index(&t.users, second + 1, user_length);
            if (seen->first < 0 || seen->second == -1) {
                goto done;
            }
            seen->key = who_items[i];
            t.who_seen.used++;
        }
        t.hosts.keys[seen->first].hits++;
        if (seen->second >= 0) {
            t.users.keys[seen->second].hits++;
        }

        /* request: method and target; the target's section cut before the first stop after its lead */
        fresh = column_key(&t.requests_seen, request_items[i], &seen, &text, &length);
        if (fresh < 0) {
            plain = fresh == -1;
            goto done;
        }
        if (fresh) {
            const char *space = memchr(text, ' ', (size_t)length);
            if (space == NULL || space + 1 == text + length || space[1] != lead[0] || !plain_text(text, length)) {
                plain = 0; /* not "METHOD <lead>...": the section rule's other cases, in Python */
                goto done;
            }
            const char *target = space + 1, *cut = target + 1;
            while (cut < text + length && !stop[(unsigned char)*cut]) {
                cut++;
            }
            if (space - text != last_method_length || memcmp(text, last_method, (size_t)(space - text)) != 0) {
                last_method = text; /* a method repeats: found again without hashing it */
                last_method_length = space - text;
                last_method_index = span_index(&t.methods, text, space - text);
            }
            seen->first = last_method_index;
            Py_ssize_t section = seen->first < 0 ? -1 : span_index(&t.sections, target, cut - target);
            if (section < 0) {
                goto done;
            }
            seen->second = section;
            seen->key = request_items[i];
            t.requests_seen.used++;
        }
        t.methods.keys[seen->first].hits++;
        SpanKey *section = &t.sections.keys[seen->second];
        section->hits++;

        long long size;
        int code = status_code(status_items[i]);
        int unusual = code < 0 ? 1 : size_of(size_items[i], &size);
        if (unusual) {
            plain = unusual < 0 ? 1 : 0;
            goto done;
        }
        if (__builtin_add_overflow(section->bytes, size, &section->bytes)) {
            plain = 0;
            goto done;
        }

        /* (section, status) pairs: a section's few statuses are a chain */
        Py_ssize_t pair = section->first_pair, previous = -1;
        while (pair >= 0 && t.pair_status.data[pair] != code) {
            previous = pair;
            pair = t.pair_next.data[pair];
        }
        if (pair < 0) {
            pair = t.pair_status.size;
            if (pair == t.pair_capacity) {
                Py_ssize_t capacity = t.pair_capacity ? t.pair_capacity * 2 : 64;
                long long *grown = PyMem_Realloc(t.pair_hits, (size_t)capacity * sizeof(long long));
                if (grown == NULL) {
                    PyErr_NoMemory();
                    goto done;
                }
                t.pair_hits = grown;
                t.pair_capacity = capacity; /* only once it is so: the tables are kept for the next call */
            }
            t.pair_hits[pair] = 0;
            if (array_push(&t.pair_status, code) < 0 || array_push(&t.pair_section, seen->second) < 0 || array_push(&t.pair_next, -1) < 0) {
                goto done;
            }
            if (previous < 0) {
                section->first_pair = pair;
            }
            else {
                t.pair_next.data[previous] = pair;
            }
        }
        t.pair_hits[pair]++;
    }

    {
        int cut = t.sections.size > max_keys || t.methods.size > max_keys || t.hosts.size > max_keys || t.users.size > max_keys;
        Py_ssize_t limit = cut ? max_keys : PY_SSIZE_T_MAX;
        Py_ssize_t first = t.sections.size < limit ? t.sections.size : limit; /* sections before the cut */
        PyObject **names = PyMem_Calloc((size_t)first + 1, sizeof(PyObject *));
        PyObject *section_status = names == NULL ? NULL : PyDict_New();
        PyObject *bytes = section_status == NULL ? NULL : PyDict_New(), *overflow = NULL;
        PyObject *method_counts = NULL, *client_counts = NULL, *user_counts = NULL;
        int failed = names == NULL || section_status == NULL || bytes == NULL;
        if (names == NULL) {
            PyErr_NoMemory();
        }
        for (Py_ssize_t i = 0; !failed && i < first; i++) {
            PyObject *number = NULL;
            failed = (names[i] = ascii_text(t.sections.keys[i].text, t.sections.keys[i].length)) == NULL
                || (number = PyLong_FromLongLong(t.sections.keys[i].bytes)) == NULL || PyDict_SetItem(bytes, names[i], number) < 0;
            Py_XDECREF(number);
        }
        /* beyond the cut: each section's errors, and the hits of each status, first seen first (the
         * errors are counts as unsigned 64-bit ints, the bytes array("Q").frombytes reads) */
        Py_ssize_t beyond = t.sections.size - first;
        long long *beyond_errors = PyMem_Calloc((size_t)beyond + 1, sizeof(long long));
        if (beyond_errors == NULL && !failed) {
            PyErr_NoMemory();
        }
        long long status_hits[1000] = {0};
        int status_order[1000], status_seen = 0;
        failed = failed || beyond_errors == NULL;
        for (Py_ssize_t pair = 0; !failed && pair < t.pair_status.size; pair++) {
            Py_ssize_t section = t.pair_section.data[pair];
            int code = (int)t.pair_status.data[pair];
            if (section < first) {
                PyObject *status = PyLong_FromLong(code), *hits = PyLong_FromLongLong(t.pair_hits[pair]);
                PyObject *name = status == NULL ? NULL : PyTuple_Pack(2, names[section], status);
                failed = hits == NULL || name == NULL || PyDict_SetItem(section_status, name, hits) < 0;
                Py_XDECREF(status);
                Py_XDECREF(hits);
                Py_XDECREF(name);
                continue;
            }
            if (errors[code]) {
                beyond_errors[section - first] += t.pair_hits[pair];
            }
            if (!status_hits[code]) {
                status_order[status_seen++] = code;
            }
            status_hits[code] += t.pair_hits[pair];
        }
        if (!failed) {
            method_counts = first_counts(&t.methods, limit);
            client_counts = first_counts(&t.hosts, limit);
            user_counts = first_counts(&t.users, limit);
            failed = method_counts == NULL || client_counts == NULL || user_counts == NULL;
        }
        if (!failed && cut) {
            PyObject *status_counts = PyDict_New();
            for (int i = 0; status_counts != NULL && i < status_seen; i++) {
                PyObject *status = PyLong_FromLong(status_order[i]), *hits = PyLong_FromLongLong(status_hits[status_order[i]]);
                if (status == NULL || hits == NULL || PyDict_SetItem(status_counts, status, hits) < 0) {
                    Py_CLEAR(status_counts);
                }
                Py_XDECREF(status);
                Py_XDECREF(hits);
            }
            PyObject *names_after = joined_keys(&t.sections, first);
            PyObject *hits = count_bytes(&t.sections, first, 0);
            PyObject *error_counts = PyBytes_FromStringAndSize((const char *)beyond_errors, beyond * (Py_ssize_t)sizeof(long long));
            PyObject *sizes_after = count_bytes(&t.sections, first, 1);
            PyObject *methods_after = keys_after(&t.methods, limit), *clients_after = keys_after(&t.hosts, limit);
            PyObject *users_after = keys_after(&t.users, limit);
            if (status_counts && names_after && hits && error_counts && sizes_after && methods_after && clients_after && users_after) {
                overflow = Py_BuildValue("((nO)OOOOOOO)", beyond, names_after, hits, error_counts, sizes_after, status_counts,
                                         methods_after, clients_after, users_after);
            }
            Py_XDECREF(status_counts);
            Py_XDECREF(names_after);
            Py_XDECREF(hits);
            Py_XDECREF(error_counts);
            Py_XDECREF(sizes_after);
            Py_XDECREF(methods_after);
            Py_XDECREF(clients_after);
            Py_XDECREF(users_after);
            failed = overflow == NULL;
            /* the clients beyond the cut, into the sketch (as distinct_add hashes them), unless a
             * finalizer run while the objects above were made changed its size */
            if (!failed && PyByteArray_GET_SIZE(registers) != register_count) {
                PyErr_SetString(PyExc_ValueError, "count_clf: the registers changed size during the call");
                failed = 1;
            }
            unsigned char *slots = (unsigned char *)PyByteArray_AS_STRING(registers);
            for (Py_ssize_t i = limit; !failed && i < t.hosts.size; i++) {
                sketch_add(slots, precision, t.hosts.keys[i].text, t.hosts.keys[i].length);
            }
        }
        else if (!failed) {
            Py_INCREF(Py_None);
            overflow = Py_None;
        }
        if (!failed) {
            result = PyTuple_Pack(6, section_status, bytes, method_counts, client_counts, user_counts, overflow);
        }
        for (Py_ssize_t i = 0; names != NULL && i < first; i++) {
            Py_XDECREF(names[i]);
        }
        PyMem_Free(names);
        PyMem_Free(beyond_errors);
        Py_XDECREF(section_status);
        Py_XDECREF(bytes);
        Py_XDECREF(method_counts);
        Py_XDECREF(client_counts);
        Py_XDECREF(user_counts);
        Py_XDECREF(overflow);
    }

done:
    if (!plain && !PyErr_Occurred()) {
        Py_XDECREF(result);
        Py_INCREF(Py_None);
        result = Py_None;
    }
    if (kept && count_tables_bytes(&t) <= KEPT_TABLE_BYTES) {
        kept_tables = t; /* for the next call */
    }
    else {
        count_tables_free(&t);
        if (kept) {
            memset(&kept_tables, 0, sizeof(kept_tables));
        }
    }
    if (kept) {
        kept_tables_busy = 0;
    }
    Py_XDECREF(who);
    Py_XDECREF(requests);
    Py_XDECREF(statuses);
    Py_XDECREF(sizes);
    return result;
}

static PyMethodDef methods[] = {
    {"scan_clf", scan_clf, METH_VARARGS,
     "scan_clf(block, combined) -> (who, stamps, requests, statuses, sizes) or None\n\n"
     "The columns of a block of Common (or Combined) lines, as monilog.parsing.block.scan_regex."},
    {"prepare_scan", prepare_scan, METH_VARARGS,
     "prepare_scan(program, groups) -> prepared program\n\n"
     "A program of scan_format's ops, as monilog.parsing.pieces.scan_program writes it (a tuple of\n"
     "(op index in SCAN_OPS, bytes, group)), read once for the pattern's groups."},
    {"scan_format", scan_format, METH_VARARGS,
     "scan_format(block, prepared, columns) -> tuple of columns or None\n\n"
     "The columns of a compiled format's single-space pattern on each line of a block, as\n"
     "monilog.parsing.pieces.scan_single; prepared is prepare_scan's, and columns says of which\n"
     "groups each column's keys are made, and whether they are shared."},
    {"tally", tally, METH_VARARGS,
     "tally(who, requests, statuses, sizes, start, end) -> tuple of 7 lists or None\n\n"
     "The counters of records start to end, as monilog.accumulation.aggregate.tally_python."},
    {"pairs", pairs, METH_VARARGS,
     "pairs(first, second, start, end) -> (firsts, seconds, counts)\n\n"
     "Each distinct pair of keys of records start to end and how often it occurs, in first-seen\n"
     "order, as monilog.accumulation.aggregate.pairs_python."},
    {"runs", runs, METH_O,
     "runs(keys) -> (keys, counts)\n\n"
     "Each run of consecutive equal keys and its length, as monilog.accumulation.aggregate.runs_python."},
    {"summed", summed, METH_VARARGS,
     "summed(keys, counts) -> dict or None\n\n"
     "key -> the sum of its counts, in first-seen order, as monilog.accumulation.summing.summed_python\n"
     "(None when a count is not an int: the reference decides)."},
    {"newlines", newlines, METH_O,
     "newlines(data) -> int or None\n\n"
     "How many newlines bytes hold, as monilog.parsing.columns.newlines_python (None for other objects)."},
    {"prefixes", prefixes, METH_VARARGS,
     "prefixes(keys, lead, stops, other) -> list\n\n"
     "Each key starting with lead cut before the first of stops after it, other(key) for the rest,\n"
     "as monilog.parsing.section.prefixes_python."},
    {"distinct_add", distinct_add, METH_VARARGS,
     "distinct_add(registers, keys) -> True or None\n\n"
     "Add each key (str) to a HyperLogLog's registers (a bytearray), as\n"
     "monilog.accumulation.distinct.add_python; None when a key is left to it (not text, or not UTF-8)."},
    {"column_totals", column_totals, METH_VARARGS,
     "column_totals(hits, errors, sizes) -> (hits, errors, bytes) or None\n\n"
     "The sums of an overflow's section columns of unsigned 64-bit ints, as\n"
     "monilog.accumulation.statistics.column_totals_python (None: the reference decides)."},
    {"count_clf", count_clf, METH_VARARGS,
     "count_clf(who, requests, statuses, sizes, start, end, max_keys, lead, stops, errors, max_length, registers)\n"
     "-> tuple or None\n\n"
     "The counters of records start to end of plain Common/Combined columns, cut after max_keys keys,\n"
     "as monilog.accumulation.aggregate.count_plain_python (None: the reference decides)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "monilog._speedups",
    "The optional C accelerator of monilog's block parser and counting (see monilog.accelerator).", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    PyObject *created = PyModule_Create(&module);
    PyObject *names = PyTuple_New(OP_COUNT);
    for (int i = 0; names != NULL && i < OP_COUNT; i++) {
        PyObject *name = PyUnicode_FromString(OP_NAMES[i]);
        if (name == NULL) {
            Py_CLEAR(names);
            break;
        }
        PyTuple_SET_ITEM(names, i, name);
    }
    /* SCAN_OPS: the op names of scan_format, in the order of their numbers */
    if (created == NULL || names == NULL || PyModule_AddObject(created, "SCAN_OPS", names) < 0) {
        Py_XDECREF(names);
        Py_XDECREF(created);
        return NULL;
    }
    return created;
}
