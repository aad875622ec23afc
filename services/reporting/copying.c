/* A batch's rows in PostgreSQL's binary COPY format, in C (services/reporting/projector/
 * writing.py).
 *
 * The projector folds each batch into one dict per row (`projection.batch.Batch`). PostgreSQL
 * took about 4.5 µs a row to parse them as JSON (`json_to_recordset`) and check each value with
 * its type's input function; binary COPY hands it each value as it is stored, and building
 * tuples for asyncpg's own COPY encoder cost the projector more than it saved PostgreSQL. Here
 * each dict is written as one COPY tuple with no Python object made on the way.
 *
 * The format: https://www.postgresql.org/docs/current/sql-copy.html (Binary Format). */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <datetime.h>
#include <stdint.h>

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "copying.c writes big-endian numbers by swapping a little-endian machine's bytes"
#endif

/* The kinds of column `rows` knows, as `copying.py` numbers them. */
enum kind { GENERATION = 0, INTEGER = 1, TEXT = 2, DATE = 3, TIMESTAMPTZ = 4, BOOLEAN = 5 };

struct buffer {
    char *data;
    Py_ssize_t size, capacity;
};

static int reserve(struct buffer *b, Py_ssize_t more)
{
    if (b->size + more <= b->capacity)
        return 0;
    Py_ssize_t capacity = b->capacity ? b->capacity : 65536;
    while (capacity < b->size + more)
        capacity *= 2;
    char *data = PyMem_Realloc(b->data, (size_t)capacity);
    if (data == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    b->data = data;
    b->capacity = capacity;
    return 0;
}

/* Network byte order (big-endian), as COPY's binary format has it. */
static void put16(struct buffer *b, int16_t v)
{
    uint16_t u = __builtin_bswap16((uint16_t)v);
    memcpy(b->data + b->size, &u, sizeof u);
    b->size += sizeof u;
}

static void put32(struct buffer *b, int32_t v)
{
    uint32_t u = __builtin_bswap32((uint32_t)v);
    memcpy(b->data + b->size, &u, sizeof u);
    b->size += sizeof u;
}

static void put64(struct buffer *b, int64_t v)
{
    uint64_t u = __builtin_bswap64((uint64_t)v);
    memcpy(b->data + b->size, &u, sizeof u);
    b->size += sizeof u;
}

/* Days from 1970-01-01 to a day of the proleptic Gregorian calendar (H. Hinnant's
 * days_from_civil). */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

#define POSTGRES_EPOCH_DAYS 10957 /* 2000-01-01, PostgreSQL's day 0, from 1970-01-01 */

static int put_text(struct buffer *b, PyObject *value)
{
    Py_ssize_t length;
    const char *text = PyUnicode_AsUTF8AndSize(value, &length);
    if (text == NULL)
        return -1;
    if (length > INT32_MAX || reserve(b, 4 + length) < 0) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_OverflowError, "a text longer than COPY takes");
        return -1;
    }
    put32(b, (int32_t)length);
    memcpy(b->data + b->size, text, (size_t)length);
    b->size += length;
    return 0;
}

/* Microseconds from 2000-01-01T00:00Z to an aware datetime (naive ones are refused). */
static int microseconds_of(PyObject *value, const char *column, int64_t *out)
{
    PyObject *zone = PyDateTime_DATE_GET_TZINFO(value);
    int64_t offset = 0;
    if (zone == Py_None) {
        PyErr_Format(PyExc_ValueError, "column %s: a time without its UTC offset", column);
        return -1;
    }
    if (zone != PyDateTime_TimeZone_UTC) {
        PyObject *delta = PyObject_CallMethod(value, "utcoffset", NULL);
        if (delta == NULL)
            return -1;
        offset = ((int64_t)PyDateTime_DELTA_GET_DAYS(delta) * 86400 +
                  PyDateTime_DELTA_GET_SECONDS(delta)) * 1000000 +
                 PyDateTime_DELTA_GET_MICROSECONDS(delta);
        Py_DECREF(delta);
    }
    int64_t days = days_from_civil(PyDateTime_GET_YEAR(value), PyDateTime_GET_MONTH(value),
                                   PyDateTime_GET_DAY(value)) - POSTGRES_EPOCH_DAYS;
    int64_t seconds = days * 86400 + PyDateTime_DATE_GET_HOUR(value) * 3600 +
                      PyDateTime_DATE_GET_MINUTE(value) * 60 + PyDateTime_DATE_GET_SECOND(value);
    *out = seconds * 1000000 + PyDateTime_DATE_GET_MICROSECOND(value) - offset;
    return 0;
}

static int wrong(const char *column, const char *expected, PyObject *value)
{
    /* The type only: a value is never repeated in an error (it may be personal data). */
    PyErr_Format(PyExc_TypeError, "column %s takes %s, not %.100s", column, expected,
                 Py_TYPE(value)->tp_name);
    return -1;
}

static int put_value(struct buffer *b, int kind, const char *column, PyObject *value)
{
    if (value == NULL || value == Py_None) {
        if (reserve(b, 4) < 0)
            return -1;
        put32(b, -1);
        return 0;
    }
    switch (kind) {
    case INTEGER: {
        if (!PyLong_CheckExact(value))
            return wrong(column, "an int", value);
        long v = PyLong_AsLong(value);
        if (v == -1 && PyErr_Occurred())
            return -1;
        if (v < INT32_MIN || v > INT32_MAX) {
            PyErr_Format(PyExc_OverflowError, "column %s: beyond a 4-byte integer", column);
            return -1;
        }
        if (reserve(b, 8) < 0)
            return -1;
        put32(b, 4);
        put32(b, (int32_t)v);
        return 0;
    }
    case TEXT:
        if (!PyUnicode_Check(value))
            return wrong(column, "a str", value);
        return put_text(b, value);
    case DATE:
        if (!PyDate_Check(value) || PyDateTime_Check(value))
            return wrong(column, "a date", value);
        if (reserve(b, 8) < 0)
            return -1;
        put32(b, 4);
        put32(b, (int32_t)(days_from_civil(PyDateTime_GET_YEAR(value), PyDateTime_GET_MONTH(value),
                                           PyDateTime_GET_DAY(value)) - POSTGRES_EPOCH_DAYS));
        return 0;
    case TIMESTAMPTZ: {
        if (!PyDateTime_Check(value))
            return wrong(column, "a datetime", value);
        int64_t microseconds;
        if (microseconds_of(value, column, &microseconds) < 0 || reserve(b, 12) < 0)
            return -1;
        put32(b, 8);
        put64(b, microseconds);
        return 0;
    }
    case BOOLEAN:
        if (!PyBool_Check(value))
            return wrong(column, "a bool", value);
        if (reserve(b, 5) < 0)
            return -1;
        put32(b, 1);
        b->data[b->size++] = (char)(value == Py_True);
        return 0;
    default:
        PyErr_Format(PyExc_ValueError, "column %s: no kind %d", column, kind);
        return -1;
    }
}

static const char HEADER[19] = "PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0";

static PyObject *finish(struct buffer *b)
{
    if (reserve(b, 2) < 0) {
        PyMem_Free(b->data);
        return NULL;
    }
    put16(b, -1);
    PyObject *bytes = PyBytes_FromStringAndSize(b->data, b->size);
    PyMem_Free(b->data);
    return bytes;
}

static int start(struct buffer *b)
{
    if (reserve(b, sizeof HEADER) < 0)
        return -1;
    memcpy(b->data, HEADER, sizeof HEADER);
    b->size = sizeof HEADER;
    return 0;
}

/* rows(rows, columns, generation) -> bytes: each dict of `rows` as a tuple of `columns`
 * ((name, kind) pairs, in the table's order), a missing or None value as NULL, the
 * GENERATION column as `generation`. */
static PyObject *rows(PyObject *module, PyObject *args)
{
    PyObject *iterable, *columns;
    int generation;
    if (!PyArg_ParseTuple(args, "OO!i", &iterable, &PyTuple_Type, &columns, &generation))
        return NULL;
    Py_ssize_t width = PyTuple_GET_SIZE(columns);
    if (width > INT16_MAX) {
        PyErr_SetString(PyExc_ValueError, "more columns than a COPY tuple holds");
        return NULL;
    }
    PyObject **names = PyMem_Malloc(sizeof(PyObject *) * (size_t)(width ? width : 1));
    const char **labels = PyMem_Malloc(sizeof(char *) * (size_t)(width ? width : 1));
    int *kinds = PyMem_Malloc(sizeof(int) * (size_t)(width ? width : 1));
    struct buffer b = {NULL, 0, 0};
    PyObject *iterator = NULL, *row = NULL, *result = NULL;
    if (names == NULL || labels == NULL || kinds == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t c = 0; c < width; c++) {
        PyObject *column = PyTuple_GET_ITEM(columns, c);
        if (!PyArg_ParseTuple(column, "Ui", &names[c], &kinds[c]))
            goto done;
        if ((labels[c] = PyUnicode_AsUTF8(names[c])) == NULL)
            goto done;
    }
    if (start(&b) < 0 || (iterator = PyObject_GetIter(iterable)) == NULL)
        goto done;
    while ((row = PyIter_Next(iterator)) != NULL) {
        if (!PyDict_Check(row)) {
            PyErr_Format(PyExc_TypeError, "a row is a dict, not %.100s", Py_TYPE(row)->tp_name);
            goto done;
        }
        if (reserve(&b, 2) < 0)
            goto done;
        put16(&b, (int16_t)width);
        for (Py_ssize_t c = 0; c < width; c++) {
            if (kinds[c] == GENERATION) {
                if (reserve(&b, 8) < 0)
                    goto done;
                put32(&b, 4);
                put32(&b, generation);
                continue;
            }
            PyObject *value = PyDict_GetItemWithError(row, names[c]); /* borrowed */
            if (value == NULL && PyErr_Occurred())
                goto done;
            if (put_value(&b, kinds[c], labels[c], value) < 0)
                goto done;
        }
        Py_CLEAR(row);
    }
    if (PyErr_Occurred())
        goto done;
    result = finish(&b);
    b.data = NULL;
done:
    Py_XDECREF(row);
    Py_XDECREF(iterator);
    PyMem_Free(b.data);
    PyMem_Free(names);
    PyMem_Free(labels);
    PyMem_Free(kinds);
    return result;
}

/* ids(ids, generation) -> bytes: `projected_events`' (generation, event_id) tuples. */
static PyObject *ids(PyObject *module, PyObject *args)
{
    PyObject *iterable, *iterator, *id;
    int generation;
    if (!PyArg_ParseTuple(args, "Oi", &iterable, &generation))
        return NULL;
    struct buffer b = {NULL, 0, 0};
    if (start(&b) < 0 || (iterator = PyObject_GetIter(iterable)) == NULL) {
        PyMem_Free(b.data);
        return NULL;
    }
    while ((id = PyIter_Next(iterator)) != NULL) {
        int failed = reserve(&b, 10) < 0;
        if (!failed) {
            put16(&b, 2);
            put32(&b, 4);
            put32(&b, generation);
            failed = put_value(&b, TEXT, "event_id", id) < 0;
        }
        Py_DECREF(id);
        if (failed)
            break;
    }
    Py_DECREF(iterator);
    if (PyErr_Occurred()) {
        PyMem_Free(b.data);
        return NULL;
    }
    return finish(&b);
}

static PyMethodDef methods[] = {
    {"rows", rows, METH_VARARGS, "Dicts as binary COPY tuples of the given columns."},
    {"ids", ids, METH_VARARGS, "Event ids as binary COPY tuples of projected_events."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_copying", "Rows in PostgreSQL's binary COPY format.", -1, methods,
};

PyMODINIT_FUNC PyInit__copying(void)
{
    PyDateTime_IMPORT;
    if (PyDateTimeAPI == NULL)
        return NULL;
    return PyModule_Create(&module);
}
