/* The compiled scanner of Go goroutine dumps (debug=2 text): optional, see _scanned.py.
 *
 * scan() walks a window of the dump block by block (blocks end at a blank line, as
 * str.split("\n\n") cuts them) and, for each plain goroutine block whose header and stack it
 * already knows, appends its id, the number of its (header, stack) reading and its creator's
 * id to three lists. It stops and returns at the first block it cannot take that way: a block
 * to read line by line in Python, a header or a stack text not seen before (Python reads it
 * once and tells), a (header, stack) pair not numbered yet, or the end of the window's whole
 * blocks. Frames are never built here.
 *
 * The stack text is keyed as go_text's fast path keys it: function arguments "(...)" at the
 * end of a line, "fp=0x.. sp=0x.. pc=0x.." at the end of a line and " in goroutine N" at the
 * end of a line that is not the block's last are blanked; a header's "gp=0x.. m=.. mp=0x.."
 * is blanked. Keys are looked up by a 64-bit hash in a dict that holds the key's bytes,
 * compared in full: a hash collision makes the block go line by line, never a wrong reading.
 *
 * Every index into the window is checked against its end; nothing is written but the scratch
 * key, whose size is the block's.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

enum { DONE = 0, SLOW = 1, NEED_HEADER = 2, NEED_BODY = 3, NEED_COMBO = 4 };

#define MAX_DIGITS 20

typedef struct {
    char *data;
    Py_ssize_t len, cap;
} Scratch;

static int scratch_put(Scratch *s, const char *p, Py_ssize_t n) {
    if (n < 0) return -1;
    if (s->len > PY_SSIZE_T_MAX - n) return -1;
    if (s->len + n > s->cap) {
        Py_ssize_t cap = s->cap ? s->cap : 4096;
        while (cap < s->len + n) {
            if (cap > PY_SSIZE_T_MAX / 2) return -1;
            cap *= 2;
        }
        char *grown = PyMem_Realloc(s->data, (size_t)cap);
        if (grown == NULL) return -1;
        s->data = grown;
        s->cap = cap;
    }
    if (n) memcpy(s->data + s->len, p, (size_t)n);
    s->len += n;
    return 0;
}

static uint64_t hash_bytes(const char *p, Py_ssize_t n) {
    uint64_t h = 0x9E3779B97F4A7C15ULL ^ (uint64_t)n;
    Py_ssize_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        h = (h ^ w) * 0xFF51AFD7ED558CCDULL;
        h ^= h >> 32;
    }
    uint64_t w = 0;
    if (i < n) memcpy(&w, p + i, (size_t)(n - i));
    h = (h ^ w) * 0xC4CEB9FE1A85EC53ULL;
    h ^= h >> 29;
    h *= 0x9E3779B97F4A7C15ULL;
    h ^= h >> 32;
    return h;
}

static int is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }
static int is_digit(char c) { return c >= '0' && c <= '9'; }

/* Does buf[a:b] end with `lit`? Returns where it starts, or -1. */
static Py_ssize_t ends_with(const char *buf, Py_ssize_t a, Py_ssize_t b, const char *lit) {
    Py_ssize_t n = (Py_ssize_t)strlen(lit);
    if (b - a < n) return -1;
    if (memcmp(buf + b - n, lit, (size_t)n) != 0) return -1;
    return b - n;
}

/* A run of hex digits (at least one) ending at b, after a: where it starts, or -1. */
static Py_ssize_t hex_run(const char *buf, Py_ssize_t a, Py_ssize_t b) {
    Py_ssize_t i = b;
    while (i > a && is_hex(buf[i - 1])) i--;
    return i < b ? i : -1;
}

/* Where " fp=0x[hex]+ sp=0x[hex]+ pc=0x[hex]+" ending the line buf[a:b] starts, or -1. */
static Py_ssize_t registers_at(const char *buf, Py_ssize_t a, Py_ssize_t b) {
    Py_ssize_t i = hex_run(buf, a, b);
    if (i < 0 || (i = ends_with(buf, a, i, " pc=0x")) < 0) return -1;
    if ((i = hex_run(buf, a, i)) < 0 || (i = ends_with(buf, a, i, " sp=0x")) < 0) return -1;
    if ((i = hex_run(buf, a, i)) < 0 || (i = ends_with(buf, a, i, " fp=0x")) < 0) return -1;
    return i;
}

/* Where the arguments "(...)" ending the line buf[a:b] start (no parenthesis inside), or -1. */
static Py_ssize_t args_at(const char *buf, Py_ssize_t a, Py_ssize_t b) {
    if (b - a < 1 || buf[b - 1] != ')') return -1;
    for (Py_ssize_t i = b - 2; i >= a; i--) {
        if (buf[i] == '(') return i;
        if (buf[i] == ')') return -1;
    }
    return -1;
}

/* Where " in goroutine [0-9]+" ending the line buf[a:b] starts, or -1; *digits set. */
static Py_ssize_t creator_at(const char *buf, Py_ssize_t a, Py_ssize_t b, Py_ssize_t *digits) {
    Py_ssize_t i = b;
    while (i > a && is_digit(buf[i - 1])) i--;
    if (i == b) return -1;
    *digits = i;
    return ends_with(buf, a, i, " in goroutine ");
}

/* An int from ASCII digits buf[a:b] (1 to MAX_DIGITS of them, checked by the caller). */
static PyObject *int_from(const char *buf, Py_ssize_t a, Py_ssize_t b) {
    if (b - a <= 18) {
        unsigned long long v = 0;
        for (Py_ssize_t i = a; i < b; i++) v = v * 10 + (unsigned long long)(buf[i] - '0');
        return PyLong_FromUnsignedLongLong(v);
    }
    char text[MAX_DIGITS + 1];
    memcpy(text, buf + a, (size_t)(b - a));
    text[b - a] = '\0';
    return PyLong_FromString(text, NULL, 10);
}

/* The first blank-line pair at or after p before end: the index of its first '\n', or -1. */
static Py_ssize_t next_separator(const char *buf, Py_ssize_t p, Py_ssize_t end) {
    while (p < end) {
        const char *nl = memchr(buf + p, '\n', (size_t)(end - p));
        if (nl == NULL) return -1;
        Py_ssize_t at = nl - buf;
        if (at + 1 < end && buf[at + 1] == '\n') return at;
        p = at + 1;
    }
    return -1;
}

/* Look a key up in `table` ({hash: (key bytes, value, ...)}): the entry tuple (borrowed),
 * Py_None when the hash is there with other bytes, NULL when it is missing. */
static PyObject *lookup(PyObject *table, PyObject *hash, const char *key, Py_ssize_t n) {
    PyObject *entry = PyDict_GetItemWithError(table, hash);
    if (entry == NULL) return NULL;
    if (!PyTuple_Check(entry) || PyTuple_GET_SIZE(entry) < 2) return Py_None;
    PyObject *stored = PyTuple_GET_ITEM(entry, 0);
    if (!PyBytes_Check(stored) || PyBytes_GET_SIZE(stored) != n ||
        memcmp(PyBytes_AS_STRING(stored), key, (size_t)n) != 0)
        return Py_None;
    return entry;
}

/* Blank a header's " gp=0x[hex]+ m=(nil|[0-9]+)( mp=0x[hex]+)? " before its "[" (the rest of
 * the header is buf[a:b], starting at the space after the id) into `out`. */
static int header_key(const char *buf, Py_ssize_t a, Py_ssize_t b, Scratch *out) {
    out->len = 0;
    Py_ssize_t i = a;
    if (b - i >= 6 && memcmp(buf + i, " gp=0x", 6) == 0) {
        Py_ssize_t j = i + 6, k;
        for (k = j; k < b && is_hex(buf[k]); k++);
        if (k > j && b - k >= 3 && memcmp(buf + k, " m=", 3) == 0) {
            j = k + 3;
            if (b - j >= 3 && memcmp(buf + j, "nil", 3) == 0) {
                k = j + 3;
            } else {
                for (k = j; k < b && is_digit(buf[k]); k++);
                if (k == j) k = -1;
            }
            if (k > 0) {
                if (b - k >= 6 && memcmp(buf + k, " mp=0x", 6) == 0) {
                    Py_ssize_t m;
                    for (m = k + 6; m < b && is_hex(buf[m]); m++);
                    if (m > k + 6 && b - m >= 2 && buf[m] == ' ' && buf[m + 1] == '[') k = m;
                }
                if (b - k >= 2 && buf[k] == ' ' && buf[k + 1] == '[') {
                    if (scratch_put(out, " gp=# m=# ", 10) < 0) return -1;
                    return scratch_put(out, buf + k + 1, b - k - 1);
                }
            }
        }
    }
    return scratch_put(out, buf + a, b - a);
}

typedef struct {
    Py_ssize_t end;         /* the block's end (its separator), or -1: no separator */
    Py_ssize_t creator_a;   /* the digits of the last creator id blanked, or -1 */
    Py_ssize_t creator_b;
    Py_ssize_t lines;       /* line ends before the block's last line */
} BodyScan;

/* Blank the lines of buf[p:...] up to the block's end into `out`; p is the first line after
 * the header. */
static int body_key(const char *buf, Py_ssize_t p, Py_ssize_t end, Scratch *out, BodyScan *r) {
    out->len = 0;
    r->end = -1;
    r->creator_a = r->creator_b = -1;
    r->lines = 0;
    while (p < end) {
        const char *nlp = memchr(buf + p, '\n', (size_t)(end - p));
        if (nlp == NULL) return 0; /* no separator: the window's last part */
        Py_ssize_t nl = nlp - buf;
        int last = nl + 1 < end && buf[nl + 1] == '\n';
        Py_ssize_t cut = args_at(buf, p, nl);
        if (cut >= 0) {
            if (scratch_put(out, buf + p, cut - p) < 0 || scratch_put(out, "()", 2) < 0) return -1;
        } else if ((cut = registers_at(buf, p, nl)) >= 0) {
            if (scratch_put(out, buf + p, cut - p) < 0 ||
                scratch_put(out, " fp=# sp=# pc=#", 15) < 0)
                return -1;
        } else {
            Py_ssize_t digits = -1;
            if (!last && (cut = creator_at(buf, p, nl, &digits)) >= 0) {
                if (scratch_put(out, buf + p, cut - p) < 0 ||
                    scratch_put(out, " in goroutine #", 15) < 0)
                    return -1;
                r->creator_a = digits;
                r->creator_b = nl;
            } else if (scratch_put(out, buf + p, nl - p) < 0) {
                return -1;
            }
        }
        if (last) {
            r->end = nl;
            return 0;
        }
        if (scratch_put(out, "\n", 1) < 0) return -1;
        r->lines++;
        p = nl + 1;
    }
    return 0;
}

static PyObject *result(int status, Py_ssize_t pos, Py_ssize_t lines, PyObject *info,
                        PyObject *hash) {
    /* Steals info and hash (either may be NULL: None). */
    if (info == NULL) info = Py_NewRef(Py_None);
    if (hash == NULL) hash = Py_NewRef(Py_None);
    PyObject *r = Py_BuildValue("(innNN)", status, pos, lines, info, hash);
    return r;
}

static PyObject *scan(PyObject *self, PyObject *args) {
    Py_buffer view;
    Py_ssize_t pos, end;
    PyObject *seen, *headers, *bodies, *combos, *ids, *cids, *creators;
    if (!PyArg_ParseTuple(args, "y*nnO!O!O!O!O!O!O!", &view, &pos, &end, &PySet_Type, &seen,
                          &PyDict_Type, &headers, &PyDict_Type, &bodies, &PyDict_Type, &combos,
                          &PyList_Type, &ids, &PyList_Type, &cids, &PyList_Type, &creators))
        return NULL;
    PyObject *ret = NULL;
    Scratch hkey = {NULL, 0, 0}, bkey = {NULL, 0, 0};
    const char *buf = view.buf;
    if (pos < 0 || end > view.len || pos > end) {
        PyErr_SetString(PyExc_ValueError, "scan: window out of the buffer");
        goto done;
    }
    Py_ssize_t lines = 0;
    while (pos < end) {
        Py_ssize_t p = pos;
        PyObject *gid = NULL;
        /* "goroutine " ID " " REST "\n" */
        if (end - p < 10 || memcmp(buf + p, "goroutine ", 10) != 0) goto slow;
        const char *nlp = memchr(buf + p, '\n', (size_t)(end - p));
        if (nlp == NULL) break; /* no separator either */
        Py_ssize_t nl = nlp - buf;
        if (nl + 1 < end && buf[nl + 1] == '\n') goto slow; /* a one-line block */
        const char *sp = memchr(buf + p + 10, ' ', (size_t)(nl - p - 10));
        if (sp == NULL) goto slow;
        Py_ssize_t space = sp - buf;
        if (space == p + 10 || space - (p + 10) > MAX_DIGITS) goto slow;
        int zero = 1;
        for (Py_ssize_t i = p + 10; i < space; i++) {
            if (!is_digit(buf[i])) goto slow;
            if (buf[i] != '0') zero = 0;
        }
        if (zero) goto slow;
        gid = int_from(buf, p + 10, space);
        if (gid == NULL) goto done;
        int known = PySet_Contains(seen, gid);
        if (known < 0) goto fail_gid;
        if (known) goto slow_gid;
        /* The header after the id. */
        if (header_key(buf, space, nl, &hkey) < 0) goto nomem_gid;
        PyObject *hhash = PyLong_FromUnsignedLongLong(hash_bytes(hkey.data, hkey.len));
        if (hhash == NULL) goto fail_gid;
        PyObject *hentry = lookup(headers, hhash, hkey.data, hkey.len);
        if (hentry == NULL) {
            Py_DECREF(gid);
            if (PyErr_Occurred()) {
                Py_DECREF(hhash);
                goto done;
            }
            PyObject *key = PyBytes_FromStringAndSize(hkey.data, hkey.len);
            if (key == NULL) {
                Py_DECREF(hhash);
                goto done;
            }
            ret = result(NEED_HEADER, pos, lines, key, hhash);
            goto done;
        }
        Py_DECREF(hhash);
        if (hentry == Py_None || PyTuple_GET_ITEM(hentry, 1) == Py_None) goto slow_gid;
        long hid = PyLong_AsLong(PyTuple_GET_ITEM(hentry, 1));
        if (hid == -1 && PyErr_Occurred()) goto fail_gid;
        /* The stack text. */
        BodyScan bs;
        if (body_key(buf, nl + 1, end, &bkey, &bs) < 0) goto nomem_gid;
        if (bs.end < 0) {
            Py_DECREF(gid);
            break; /* the window's last part */
        }
        PyObject *bhash = PyLong_FromUnsignedLongLong(hash_bytes(bkey.data, bkey.len));
        if (bhash == NULL) goto fail_gid;
        PyObject *bentry = lookup(bodies, bhash, bkey.data, bkey.len);
        if (bentry == NULL) {
            Py_DECREF(gid);
            if (PyErr_Occurred()) {
                Py_DECREF(bhash);
                goto done;
            }
            PyObject *key = PyBytes_FromStringAndSize(bkey.data, bkey.len);
            if (key == NULL) {
                Py_DECREF(bhash);
                goto done;
            }
            ret = result(NEED_BODY, pos, lines, key, bhash);
            goto done;
        }
        Py_DECREF(bhash);
        if (bentry == Py_None || PyTuple_GET_SIZE(bentry) < 3 ||
            PyTuple_GET_ITEM(bentry, 1) == Py_None)
            goto slow_gid;
        long bid = PyLong_AsLong(PyTuple_GET_ITEM(bentry, 1));
        if (bid == -1 && PyErr_Occurred()) goto fail_gid;
        if (hid < 0 || bid < 0 || hid > 0x7FFFFFFFL || bid > 0x7FFFFFFFL) goto slow_gid;
        PyObject *ckey = PyLong_FromLongLong(((long long)hid << 32) | (long long)bid);
        if (ckey == NULL) goto fail_gid;
        PyObject *cid = PyDict_GetItemWithError(combos, ckey);
        if (cid == NULL) {
            Py_DECREF(gid);
            if (PyErr_Occurred()) {
                Py_DECREF(ckey);
                goto done;
            }
            ret = result(NEED_COMBO, pos, lines, ckey, NULL);
            goto done;
        }
        Py_DECREF(ckey);
        PyObject *creator;
        if (bs.creator_a >= 0) {
            if (bs.creator_b - bs.creator_a <= MAX_DIGITS) {
                creator = int_from(buf, bs.creator_a, bs.creator_b);
                if (creator == NULL) goto fail_gid;
            } else {
                creator = Py_NewRef(Py_None);
            }
        } else {
            creator = Py_NewRef(PyTuple_GET_ITEM(bentry, 2));
        }
        if (PyList_Append(ids, gid) < 0 || PyList_Append(cids, cid) < 0 ||
            PyList_Append(creators, creator) < 0 || PySet_Add(seen, gid) < 0) {
            Py_DECREF(creator);
            goto fail_gid;
        }
        Py_DECREF(creator);
        Py_DECREF(gid);
        lines += bs.lines + 3; /* the header's line end, the body's, the blank line */
        pos = bs.end + 2;
        continue;

    slow_gid:
        Py_DECREF(gid);
    slow : {
        Py_ssize_t sep = next_separator(buf, pos, end);
        if (sep < 0) break;
        ret = result(SLOW, pos, lines, PyLong_FromSsize_t(sep), NULL);
        goto done;
    }
    nomem_gid:
        PyErr_NoMemory();
    fail_gid:
        Py_DECREF(gid);
        goto done;
    }
    ret = result(DONE, pos, lines, NULL, NULL);
done:
    PyMem_Free(hkey.data);
    PyMem_Free(bkey.data);
    PyBuffer_Release(&view);
    return ret;
}

static PyObject *key_hash(PyObject *self, PyObject *arg) {
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) return NULL;
    uint64_t h = hash_bytes(view.buf, view.len);
    PyBuffer_Release(&view);
    return PyLong_FromUnsignedLongLong(h);
}

static PyMethodDef methods[] = {
    {"scan", scan, METH_VARARGS,
     "scan(buf, pos, end, seen, headers, bodies, combos, ids, cids, creators) -> "
     "(status, pos, lines, info, hash)"},
    {"key_hash", key_hash, METH_O, "The hash scan() keys a header or stack text by."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_gscan", "The compiled scanner of Go goroutine dumps.", -1, methods,
};

PyMODINIT_FUNC PyInit__gscan(void) { return PyModule_Create(&module); }
