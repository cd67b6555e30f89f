/* The detection cores' inner loops in C: the same results as the numpy and Python code in
 * minhash.py, duplicates.py, text.py and ngrams.py (bit for bit; the spam feature weights to the
 * last bits of a float), without numpy's per-call cost or Python's per-item one, which dominate on
 * texts of a few hundred characters and the few dozen candidates of each comment.
 * tests/unit/detect/test_kernels.py compares the two.
 *
 * Optional: when this module is not built (no C compiler at install time), native.py says so and
 * the callers use numpy.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MIX1 0xFF51AFD7ED558CCDULL
#define MIX2 0xC4CEB9FE1A85EC53ULL

/* Every k-byte window of `raw` (k <= 8) as one little-endian integer, the low k bytes. */
static inline uint64_t window(const unsigned char *raw, Py_ssize_t i, int k) {
    uint64_t w = 0;
    for (int j = k - 1; j >= 0; j--) w = (w << 8) | raw[i + j];
    return w;
}

static inline uint64_t mix(uint64_t x) {
    x *= MIX1;
    x ^= x >> 33;
    x *= MIX2;
    return x;
}

/* signature(raw, k, a, b, rows) -> bytes
 * raw: the Latin-1 bytes of a normalised text (len >= k, 1 <= k <= 8); a, b: uint32 buffers of at
 * least `rows` multipliers and offsets. Row r's byte is bits 8-15 of the minimum over shingles of
 * (a[r] * (mix(window) >> 32) + b[r]) mod 2**32: MinHasher.signature(shingle_hashes(...)). */
static PyObject *signature(PyObject *self, PyObject *args) {
    Py_buffer raw, a, b;
    int k;
    Py_ssize_t rows;
    if (!PyArg_ParseTuple(args, "y*iy*y*n", &raw, &k, &a, &b, &rows)) return NULL;
    PyObject *out = NULL;
    Py_ssize_t m = raw.len - k + 1;
    if (k < 1 || k > 8 || m < 1 || rows < 0 || a.len < rows * 4 || b.len < rows * 4) {
        PyErr_SetString(PyExc_ValueError, "signature: needs 1 <= k <= 8, len(raw) >= k and rows multipliers and offsets");
        goto done;
    }
    uint32_t *x = PyMem_Malloc(m * sizeof(uint32_t));
    uint32_t *mins = PyMem_Malloc((rows ? rows : 1) * sizeof(uint32_t));
    if (x == NULL || mins == NULL) {
        PyMem_Free(x);
        PyMem_Free(mins);
        PyErr_NoMemory();
        goto done;
    }
    const unsigned char *bytes = raw.buf;
    for (Py_ssize_t i = 0; i < m; i++) x[i] = (uint32_t)(mix(window(bytes, i, k)) >> 32);
    const uint32_t *av = a.buf, *bv = b.buf;
    for (Py_ssize_t r = 0; r < rows; r++) {
        uint32_t ar = av[r], br = bv[r], lo = UINT32_MAX;
        for (Py_ssize_t i = 0; i < m; i++) {
            uint32_t v = ar * x[i] + br;
            lo = v < lo ? v : lo;
        }
        mins[r] = lo;
    }
    out = PyBytes_FromStringAndSize(NULL, rows);
    if (out != NULL) {
        unsigned char *o = (unsigned char *)PyBytes_AS_STRING(out);
        for (Py_ssize_t r = 0; r < rows; r++) o[r] = (unsigned char)(mins[r] >> 8);
    }
    PyMem_Free(x);
    PyMem_Free(mins);
done:
    PyBuffer_Release(&raw);
    PyBuffer_Release(&a);
    PyBuffer_Release(&b);
    return out;
}

/* Sorts n values of k significant bytes (the low ones): one counting pass per byte (LSD radix),
 * several times faster than qsort's comparator calls on a few hundred values. `tmp` holds n. */
static void radix_sort(uint64_t *v, uint64_t *tmp, Py_ssize_t n, int k) {
    for (int byte = 0; byte < k; byte++) {
        Py_ssize_t count[257] = {0};
        int shift = 8 * byte;
        for (Py_ssize_t i = 0; i < n; i++) count[((v[i] >> shift) & 0xFF) + 1]++;
        for (int c = 0; c < 256; c++) count[c + 1] += count[c];
        for (Py_ssize_t i = 0; i < n; i++) tmp[count[(v[i] >> shift) & 0xFF]++] = v[i];
        uint64_t *swap = v;
        v = tmp;
        tmp = swap;
    }
    if (k & 1) memcpy(tmp, v, n * sizeof(uint64_t)); /* an odd count of passes ends in tmp */
}

/* exact_shingles(raw, k) -> bytes: every k-byte window of `raw` (len >= k, 1 <= k <= 7) as a
 * little-endian integer, sorted and unique, as native uint64 values (minhash.exact_shingles). */
static PyObject *exact_shingles(PyObject *self, PyObject *args) {
    Py_buffer raw;
    int k;
    if (!PyArg_ParseTuple(args, "y*i", &raw, &k)) return NULL;
    PyObject *out = NULL;
    Py_ssize_t m = raw.len - k + 1;
    if (k < 1 || k > 7 || m < 1) {
        PyErr_SetString(PyExc_ValueError, "exact_shingles: needs 1 <= k <= 7 and len(raw) >= k");
        goto done;
    }
    uint64_t *v = PyMem_Malloc(2 * m * sizeof(uint64_t));
    if (v == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    const unsigned char *bytes = raw.buf;
    for (Py_ssize_t i = 0; i < m; i++) v[i] = window(bytes, i, k);
    radix_sort(v, v + m, m, k);
    Py_ssize_t n = 1;
    for (Py_ssize_t i = 1; i < m; i++)
        if (v[i] != v[n - 1]) v[n++] = v[i];
    out = PyBytes_FromStringAndSize((const char *)v, n * (Py_ssize_t)sizeof(uint64_t));
    PyMem_Free(v);
done:
    PyBuffer_Release(&raw);
    return out;
}

/* (*out)[j] = n for a new list; on failure *out is cleared and -1 returned. */
static int put_count(PyObject **out, Py_ssize_t j, Py_ssize_t n) {
    PyObject *value = PyLong_FromSsize_t(n);
    if (value == NULL) {
        Py_CLEAR(*out);
        return -1;
    }
    PyList_SET_ITEM(*out, j, value);
    return 0;
}

/* intersection_sizes(mine, others) -> list[int]: how many values each of `others` shares with
 * `mine`; all are buffers of sorted unique uint64 values (minhash.intersection_sizes). */
static PyObject *intersection_sizes(PyObject *self, PyObject *args) {
    Py_buffer mine;
    PyObject *others;
    if (!PyArg_ParseTuple(args, "y*O", &mine, &others)) return NULL;
    PyObject *seq = PySequence_Fast(others, "intersection_sizes: others must be a sequence");
    PyObject *out = NULL;
    if (seq == NULL) goto done;
    Py_ssize_t count = PySequence_Fast_GET_SIZE(seq);
    out = PyList_New(count);
    if (out == NULL) goto done;
    const uint64_t *a = mine.buf;
    Py_ssize_t na = mine.len / (Py_ssize_t)sizeof(uint64_t);
    for (Py_ssize_t j = 0; j < count; j++) {
        Py_buffer other;
        if (PyObject_GetBuffer(PySequence_Fast_GET_ITEM(seq, j), &other, PyBUF_SIMPLE) < 0) {
            Py_CLEAR(out);
            goto done;
        }
        const uint64_t *b = other.buf;
        Py_ssize_t nb = other.len / (Py_ssize_t)sizeof(uint64_t), i = 0, h = 0, shared = 0;
        while (i < na && h < nb) {
            if (a[i] < b[h]) i++;
            else if (b[h] < a[i]) h++;
            else {
                shared++;
                i++;
                h++;
            }
        }
        PyBuffer_Release(&other);
        if (put_count(&out, j, shared) < 0) goto done;
    }
done:
    Py_XDECREF(seq);
    PyBuffer_Release(&mine);
    return out;
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* near_records(sig, postings, get, at, rows, floor) -> list[tuple[bytes, int]]: the duplicate
 * index's candidates in one pass. `postings` holds bytes of big-endian uint32 arrival numbers (or
 * None); each distinct number, as its 4-byte key, is read with `get` (None: gone); a record whose
 * `rows` bytes from `at` equal `sig`'s in at least `floor` places is returned with that count. */
static PyObject *near_records(PyObject *self, PyObject *args) {
    Py_buffer sig;
    PyObject *postings, *get;
    Py_ssize_t at, rows;
    double floor;
    if (!PyArg_ParseTuple(args, "y*OOnnd", &sig, &postings, &get, &at, &rows, &floor)) return NULL;
    PyObject *seq = PySequence_Fast(postings, "near_records: postings must be a sequence");
    PyObject *out = NULL;
    uint32_t *seqs = NULL;
    if (seq == NULL) goto done;
    if (at < 0 || rows < 0 || sig.len < rows) {
        PyErr_SetString(PyExc_ValueError, "near_records: the signature is shorter than rows");
        goto done;
    }
    Py_ssize_t count = PySequence_Fast_GET_SIZE(seq), total = 0;
    for (Py_ssize_t j = 0; j < count; j++) {
        PyObject *item = PySequence_Fast_GET_ITEM(seq, j);
        if (item == Py_None) continue;
        if (!PyBytes_Check(item) || PyBytes_GET_SIZE(item) % 4) {
            PyErr_SetString(PyExc_ValueError, "near_records: each posting must be None or bytes of uint32s");
            goto done;
        }
        total += PyBytes_GET_SIZE(item) / 4;
    }
    seqs = malloc(sizeof(uint32_t) * (total ? total : 1));
    if (seqs == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    Py_ssize_t n = 0;
    for (Py_ssize_t j = 0; j < count; j++) {
        PyObject *item = PySequence_Fast_GET_ITEM(seq, j);
        if (item == Py_None) continue;
        const unsigned char *b = (const unsigned char *)PyBytes_AS_STRING(item);
        for (Py_ssize_t i = 0; i < PyBytes_GET_SIZE(item); i += 4)
            seqs[n++] = (uint32_t)b[i] << 24 | (uint32_t)b[i + 1] << 16 | (uint32_t)b[i + 2] << 8 | b[i + 3];
    }
    qsort(seqs, (size_t)n, sizeof(uint32_t), cmp_u32);
    out = PyList_New(0);
    if (out == NULL) goto done;
    const unsigned char *s = sig.buf;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (i && seqs[i] == seqs[i - 1]) continue;
        unsigned char k[4] = {seqs[i] >> 24, seqs[i] >> 16 & 0xFF, seqs[i] >> 8 & 0xFF, seqs[i] & 0xFF};
        PyObject *key = PyBytes_FromStringAndSize((const char *)k, 4);
        PyObject *data = key == NULL ? NULL : PyObject_CallOneArg(get, key);
        Py_XDECREF(key);
        if (data == NULL) {
            Py_CLEAR(out);
            goto done;
        }
        if (data == Py_None) {
            Py_DECREF(data);
            continue;
        }
        if (!PyBytes_Check(data) || PyBytes_GET_SIZE(data) < at + rows) {
            Py_DECREF(data);
            PyErr_SetString(PyExc_ValueError, "near_records: each record must be bytes holding the rows");
            Py_CLEAR(out);
            goto done;
        }
        const unsigned char *d = (const unsigned char *)PyBytes_AS_STRING(data) + at;
        Py_ssize_t same = 0;
        for (Py_ssize_t r = 0; r < rows; r++) same += d[r] == s[r];
        if (same < floor) {
            Py_DECREF(data);
            continue;
        }
        PyObject *pair = Py_BuildValue("(On)", data, same);
        Py_DECREF(data);
        if (pair == NULL || PyList_Append(out, pair) < 0) {
            Py_XDECREF(pair);
            Py_CLEAR(out);
            goto done;
        }
        Py_DECREF(pair);
    }
done:
    free(seqs);
    Py_XDECREF(seq);
    PyBuffer_Release(&sig);
    return out;
}

static inline int ascii_word_char(unsigned char b) {
    return (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9') || b == '_';
}

/* ascii_words(text) -> str: the end of text.normalise_duplicate for ASCII text in one pass: every
 * run of characters other than [A-Za-z0-9_] becomes one space (none at the ends), and a run of
 * three or more of one letter a-z is cut to two. */
static PyObject *ascii_words(PyObject *self, PyObject *args) {
    PyObject *text;
    if (!PyArg_ParseTuple(args, "U", &text)) return NULL;
    if (!PyUnicode_IS_ASCII(text)) {
        PyErr_SetString(PyExc_ValueError, "ascii_words: the text must be ASCII");
        return NULL;
    }
    Py_ssize_t n = PyUnicode_GET_LENGTH(text), j = 0;
    const unsigned char *in = PyUnicode_1BYTE_DATA(text);
    unsigned char *out = malloc(n ? n : 1);
    if (out == NULL) return PyErr_NoMemory();
    int space = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        unsigned char b = in[i];
        if (!ascii_word_char(b)) {
            space = j > 0;
            continue;
        }
        if (space) {
            out[j++] = ' ';
            space = 0;
        }
        if (b >= 'a' && b <= 'z' && j >= 2 && out[j - 1] == b && out[j - 2] == b) continue;
        out[j++] = b;
    }
    PyObject *result = PyUnicode_DecodeASCII((const char *)out, j, NULL);
    free(out);
    return result;
}

/* band_keys(sig, plan) -> list[int]: for each (number, lo, hi) in `plan` (int32 triples, native
 * order), number | the big-endian integer of sig[lo:hi] (at most three bytes). */
static PyObject *band_keys(PyObject *self, PyObject *args) {
    Py_buffer sig, plan;
    if (!PyArg_ParseTuple(args, "y*y*", &sig, &plan)) return NULL;
    PyObject *out = NULL;
    if (plan.len % (3 * sizeof(int32_t))) {
        PyErr_SetString(PyExc_ValueError, "band_keys: the plan must be int32 triples");
        goto done;
    }
    Py_ssize_t count = plan.len / (3 * sizeof(int32_t));
    const int32_t *p = plan.buf;
    const unsigned char *s = sig.buf;
    out = PyList_New(count);
    if (out == NULL) goto done;
    for (Py_ssize_t j = 0; j < count; j++) {
        int32_t number = p[3 * j], lo = p[3 * j + 1], hi = p[3 * j + 2];
        if (lo < 0 || hi < lo || hi - lo > 3 || hi > sig.len) {
            PyErr_SetString(PyExc_ValueError, "band_keys: a band is outside the signature");
            Py_CLEAR(out);
            goto done;
        }
        int64_t key = 0;
        for (int32_t r = lo; r < hi; r++) key = key << 8 | s[r];
        PyObject *item = PyLong_FromLongLong(key | number);
        if (item == NULL) {
            Py_CLEAR(out);
            goto done;
        }
        PyList_SET_ITEM(out, j, item);
    }
done:
    PyBuffer_Release(&sig);
    PyBuffer_Release(&plan);
    return out;
}

#define NGRAM_MULT 0x100000001B3ULL
#define NGRAM_MIX 0x9E3779B97F4A7C15ULL

/* char_features(low, lo, hi) -> (bytes, bytes): the spam model's character n-grams of " low "
 * for lo <= n <= hi (ngrams.char_hashes: a rolling polynomial over code points, mixed, the high 32
 * bits), as sorted distinct uint32 hashes and float64 weights 1 + log(count) scaled to unit
 * length (ngrams.sublinear). */
static PyObject *char_features(PyObject *self, PyObject *args) {
    PyObject *text;
    int lo, hi;
    if (!PyArg_ParseTuple(args, "Uii", &text, &lo, &hi)) return NULL;
    if (lo < 2 || hi < lo) {
        PyErr_SetString(PyExc_ValueError, "char_features: needs 2 <= lo <= hi");
        return NULL;
    }
    Py_ssize_t len = PyUnicode_GET_LENGTH(text) + 2, total = 0;
    for (int n = lo; n <= hi && n <= len; n++) total += len - n + 1;
    uint64_t *codes = PyMem_Malloc(2 * len * sizeof(uint64_t));
    uint64_t *h = PyMem_Malloc(2 * (total ? total : 1) * sizeof(uint64_t)); /* 32-bit values */
    double *values = PyMem_Malloc((total ? total : 1) * sizeof(double));
    PyObject *out = NULL;
    if (codes == NULL || h == NULL || values == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    uint32_t *distinct_hashes = (uint32_t *)(h + total); /* the sort's scratch, used after it */
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    uint64_t *acc = codes + len;
    codes[0] = codes[len - 1] = ' ';
    for (Py_ssize_t i = 0; i + 2 < len; i++) codes[i + 1] = PyUnicode_READ(kind, data, i);
    memcpy(acc, codes, len * sizeof(uint64_t));
    Py_ssize_t m = 0;
    for (int n = 2; n <= hi && n <= len; n++) {
        for (Py_ssize_t i = 0; i + n <= len; i++) acc[i] = acc[i] * NGRAM_MULT + codes[i + n - 1];
        if (n >= lo)
            for (Py_ssize_t i = 0; i + n <= len; i++) h[m++] = (uint32_t)((acc[i] * NGRAM_MIX) >> 32);
    }
    radix_sort(h, h + total, total, 4);
    Py_ssize_t distinct = 0;
    for (Py_ssize_t i = 0; i < total; distinct++) {
        Py_ssize_t j = i + 1;
        while (j < total && h[j] == h[i]) j++;
        distinct_hashes[distinct] = (uint32_t)h[i];
        values[distinct] = 1.0 + log((double)(j - i));
        i = j;
    }
    if (distinct == total) { /* every n-gram once: all weights 1 */
        for (Py_ssize_t i = 0; i < distinct; i++) values[i] = 1.0 / sqrt((double)total);
    } else {
        double norm = 0.0;
        for (Py_ssize_t i = 0; i < distinct; i++) norm += values[i] * values[i];
        norm = sqrt(norm);
        for (Py_ssize_t i = 0; i < distinct; i++) values[i] /= norm;
    }
    out = Py_BuildValue("(y#y#)", (const char *)distinct_hashes, distinct * (Py_ssize_t)sizeof(uint32_t),
                        (const char *)values, distinct * (Py_ssize_t)sizeof(double));
done:
    PyMem_Free(codes);
    PyMem_Free(h);
    PyMem_Free(values);
    return out;
}

static PyMethodDef methods[] = {
    {"signature", signature, METH_VARARGS, "MinHash signature bytes of a Latin-1 text's k-byte windows."},
    {"exact_shingles", exact_shingles, METH_VARARGS, "Sorted unique k-byte windows as native uint64 bytes."},
    {"intersection_sizes", intersection_sizes, METH_VARARGS, "Shared values of sorted unique uint64 buffers."},
    {"band_keys", band_keys, METH_VARARGS, "LSH band keys of a signature from a plan of (number, lo, hi)."},
    {"ascii_words", ascii_words, METH_VARARGS, "normalise_duplicate's word runs and letter repeats of ASCII text."},
    {"near_records", near_records, METH_VARARGS, "Distinct indexed records whose signature estimate reaches a floor."},
    {"char_features", char_features, METH_VARARGS, "The spam model's character n-gram hashes and weights."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    .m_base = PyModuleDef_HEAD_INIT, .m_name = "_kernels", .m_size = -1, .m_methods = methods};

PyMODINIT_FUNC PyInit__kernels(void) { return PyModule_Create(&module); }
