/* clock_gettime, write */
#define _POSIX_C_SOURCE 200809L

#include "hf_progbar.h"

#include <errno.h>
#include <inttypes.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The longest text of one number: "%.4f" of DBL_MAX is 309 digits and ".0000". */
#define NUM_ROOM 330

size_t hf_progbar_line_room(const hf_progbar *b)
{
    size_t w = 2 * 24 + 8 + (size_t)(b->width > 0 ? b->width : 0) + 48 + 3 * NUM_ROOM;
    for (size_t i = 0; i < b->n_keys; i++)
        w += strlen(b->keys[i]) + 4 + NUM_ROOM;
    /* '\b' over the previous draw, '\r', the text and its padding, '\n'. */
    return 2 * w + 8;
}

double hf_progbar_clock(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    /* As time.time(): the nanoseconds as a double, then divided. */
    return (double)((int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec) / 1e9;
}

/* A bounded printf at p; returns the new end (never past end - 1). Only
 * for "%.4e" and numbers too large for the by-hand writers below (printf's
 * code and tables would be cold here, right after a pass over the data).
 * Python's numbers ignore the locale, so a decimal point other than "."
 * (LC_NUMERIC set by the program) is put back to ".". */
static char *putf(char *p, char *end, const char *fmt, ...)
{
    if (p >= end - 1)
        return p;
    char text[NUM_ROOM + 32];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    if (n < 0)
        return p;
    size_t len = (size_t)n < sizeof(text) ? (size_t)n : sizeof(text) - 1;
    const char *point = localeconv()->decimal_point;
    size_t plen = point != NULL ? strlen(point) : 0;
    const char *at = (plen > 0 && strcmp(point, ".") != 0) ? strstr(text, point) : NULL;
    for (size_t i = 0; i < len && p < end - 1;) {
        if (text + i == at) {
            *p++ = '.';
            i += plen;
        } else {
            *p++ = text[i++];
        }
    }
    return p;
}

static char *put_str(char *p, char *end, const char *s, size_t n)
{
    if (n > (size_t)(end - 1 - p))
        n = (size_t)(end - 1 - p);
    memcpy(p, s, n);
    return p + n;
}

#define PUT_LIT(p, end, lit) put_str((p), (end), (lit), sizeof(lit) - 1)

static char *put_chars(char *p, char *end, char c, size_t n)
{
    if (n > (size_t)(end - 1 - p))
        n = (size_t)(end - 1 - p);
    memset(p, c, n);
    return p + n;
}

/* v in decimal, right-aligned in `width` characters ("%*llu"). */
static char *put_u64(char *p, char *end, uint64_t v, int width)
{
    char digits[24];
    int n = 0;
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    if (width > n)
        p = put_chars(p, end, ' ', (size_t)(width - n));
    while (n > 0 && p < end - 1)
        *p++ = digits[--n];
    return p;
}

/* Python's "%.0f" of a float (round half to even, "-0" for a negative
 * that rounds to 0, "nan"/"inf" spelled as Python does). */
static char *put_round0(char *p, char *end, double x)
{
    if (isnan(x))
        return PUT_LIT(p, end, "nan");
    if (!(fabs(x) < 1e15))
        return isinf(x) ? (x > 0 ? PUT_LIT(p, end, "inf") : PUT_LIT(p, end, "-inf"))
                        : putf(p, end, "%.0f", x);
    double r = nearbyint(x); /* the default rounding: half to even, as printf */
    if (signbit(x)) {
        p = PUT_LIT(p, end, "-");
        r = -r;
    }
    return put_u64(p, end, (uint64_t)r, 0);
}

/* Python's "%.4f" of a float, by hand when |x| < 1e14 (exact: x is
 * m * 2^e, so x * 10^4 = (m * 625) * 2^(e + 4) with m * 625 < 2^63, rounded
 * half to even as printf rounds the exact binary value). */
static char *put_fixed4(char *p, char *end, double x)
{
    if (!(fabs(x) < 1e14))
        return isnan(x) ? PUT_LIT(p, end, "nan") : putf(p, end, "%.4f", x);
    int exp2;
    double f = frexp(fabs(x), &exp2);                /* |x| = f * 2^exp2, f in [0.5, 1) */
    uint64_t q = (uint64_t)ldexp(f, 53) * 625u;      /* |x| * 10^4 = q * 2^(exp2 - 49) */
    int shift = 49 - exp2;
    uint64_t n;
    if (shift <= 0) {
        n = q << -shift;                             /* < 10^18: |x| < 1e14 */
    } else if (shift >= 64) {
        n = 0;                                       /* below half a unit */
    } else {
        n = q >> shift;
        uint64_t rem = q & ((UINT64_C(1) << shift) - 1), half = UINT64_C(1) << (shift - 1);
        if (rem > half || (rem == half && (n & 1)))
            n++;
    }
    if (signbit(x))
        p = PUT_LIT(p, end, "-");
    p = put_u64(p, end, n / 10000, 0);
    unsigned frac = (unsigned)(n % 10000);
    const char digits[5] = {'.', (char)('0' + frac / 1000), (char)('0' + frac / 100 % 10),
                            (char)('0' + frac / 10 % 10), (char)('0' + frac % 10)};
    return put_str(p, end, digits, sizeof(digits));
}

/* Python's x // y and x % y for floats (CPython's float_divmod). */
static void py_divmod(double x, double y, double *div_out, double *mod_out)
{
    double mod = fmod(x, y);
    double div = (x - mod) / y;
    if (mod != 0.0) {
        if ((y < 0) != (mod < 0)) {
            mod += y;
            div -= 1.0;
        }
    } else {
        mod = copysign(0.0, y);
    }
    double floordiv;
    if (div != 0.0) {
        floordiv = floor(div);
        if (div - floordiv > 0.5)
            floordiv += 1.0;
    } else {
        floordiv = copysign(0.0, x / y);
    }
    *div_out = floordiv;
    *mod_out = mod;
}

/* Python's "%d" of a float: its integer part, printed in full. */
static char *put_int(char *p, char *end, double v, int zero_pad2)
{
    double t = trunc(v);
    if (t == 0.0)
        t = 0.0; /* int(-0.5) is 0, not -0 */
    if (zero_pad2 && t >= 0.0 && t < 10.0)
        p = PUT_LIT(p, end, "0");
    return put_round0(p, end, t);
}

/* The twin's format_time: " 2ms/step". */
static char *put_time(char *p, char *end, double s, const char *unit)
{
    const char *suffix = "s";
    if (!(s >= 1 || s == 0)) {
        if (s >= 1e-3) {
            s *= 1e3;
            suffix = "ms";
        } else {
            s *= 1e6;
            suffix = "us";
        }
    }
    p = PUT_LIT(p, end, " ");
    p = put_round0(p, end, s);
    p = put_str(p, end, suffix, strlen(suffix));
    p = PUT_LIT(p, end, "/");
    return put_str(p, end, unit, strlen(unit));
}

/* The twin's format_eta: "1:02:03", "2:03" or "3s". */
static char *put_eta(char *p, char *end, double s)
{
    double q, r, q2, r2;
    if (s > 3600) {
        py_divmod(s, 3600, &q, &r);
        py_divmod(r, 60, &q2, &r2);
        p = put_int(p, end, q, 0);
        p = PUT_LIT(p, end, ":");
        p = put_int(p, end, q2, 1);
        p = PUT_LIT(p, end, ":");
        py_divmod(s, 60, &q, &r);
        return put_int(p, end, r, 1);
    }
    if (s > 60) {
        py_divmod(s, 60, &q, &r);
        p = put_int(p, end, q, 0);
        p = PUT_LIT(p, end, ":");
        return put_int(p, end, r, 1);
    }
    p = put_int(p, end, s, 0);
    return PUT_LIT(p, end, "s");
}

/* " - name: 0.1234" for each value; use_abs: verbose 1's rule for "%.4e". */
static char *put_values(char *p, char *end, const hf_progbar *b, const double *values, size_t n,
                        int use_abs)
{
    for (size_t i = 0; i < n && i < b->n_keys; i++) {
        double v = values[i];
        p = PUT_LIT(p, end, " - ");
        p = put_str(p, end, b->keys[i], strlen(b->keys[i]));
        p = PUT_LIT(p, end, ":");
        if (isnan(v))
            p = PUT_LIT(p, end, " nan");
        else if (use_abs ? fabs(v) > 1e-3 : v > 1e-3)
            p = put_fixed4(PUT_LIT(p, end, " "), end, v);
        else
            p = putf(p, end, " %.4e", v);
    }
    return p;
}

/* Writes n bytes at text; returns how many went out: all of them, or
 * fewer when a write failed (b->error) or, with give_way, when a signal
 * interrupted a blocked write (b->interrupted: the caller lets Python run
 * the handler, Ctrl-C's included, then writes the rest). */
static size_t write_some(hf_progbar *b, const char *text, size_t n, int give_way)
{
    size_t done = 0;
    while (done < n && !b->error) {
        ssize_t k = write(b->fd, text + done, n - done);
        if (k < 0) {
            if (errno != EINTR) {
                b->error = errno ? errno : EIO;
            } else if (give_way) {
                b->interrupted = b->gave_way = 1;
                break;
            }
        } else if (k == 0) {
            b->error = EIO;
        } else {
            done += (size_t)k;
        }
    }
    return done;
}

static void write_kept(hf_progbar *b, int give_way)
{
    size_t done = b->out_len > 0 ? write_some(b, b->out, b->out_len, give_way) : 0;
    if (b->error) {
        b->out_len = 0;
        return;
    }
    memmove(b->out, b->out + done, b->out_len - done);
    b->out_len -= done;
}

int hf_progbar_flush(hf_progbar *b)
{
    write_kept(b, 1);
    return b->error;
}

void hf_progbar_write_if_due(hf_progbar *b, double now)
{
    /* Half full is due too: the write that may block (a reader that stopped
     * reading) happens here, where a signal can end it, and not in emit. */
    if (b->out_len > 0 && (now - b->pending_since >= b->interval || b->gap >= b->interval
                           || b->out_len > b->out_cap / 2))
        hf_progbar_flush(b);
}

void hf_progbar_run_begin(hf_progbar *b, double now)
{
    b->run_started = b->last_check = now;
}

void hf_progbar_batch_done(hf_progbar *b, double now)
{
    b->gap = now - b->last_check;
    b->last_check = now;
    hf_progbar_write_if_due(b, now);
}

void hf_progbar_run_end(hf_progbar *b, double now)
{
    if (now - b->run_started >= b->interval)
        hf_progbar_flush(b);
}

static void emit(hf_progbar *b, const char *text, size_t n, double now)
{
    if (b->error || n == 0)
        return;
    if (b->out_len + n > b->out_cap) {
        write_kept(b, 0); /* room is needed now (rare: half full is written when due) */
        if (b->error)
            return;
        if (n > b->out_cap) {
            write_some(b, text, n, 0);
            return;
        }
    }
    if (b->out_len == 0)
        b->pending_since = now;
    memcpy(b->out + b->out_len, text, n);
    b->out_len += n;
}

void hf_progbar_start(hf_progbar *b, double now, int64_t epoch, int64_t epochs)
{
    b->start = now;
    b->last_update = 0.0;
    b->has_after_first = 0;
    b->total_width = 0;
    if (epochs > 1) {
        char header[64], *p = header, *end = header + sizeof(header);
        p = PUT_LIT(p, end, "Epoch ");
        p = epoch < 0 ? putf(p, end, "%" PRId64, epoch) : put_u64(p, end, (uint64_t)epoch, 0);
        p = PUT_LIT(p, end, "/");
        p = put_u64(p, end, (uint64_t)epochs, 0);
        p = PUT_LIT(p, end, "\n");
        emit(b, header, (size_t)(p - header), now);
    }
}

int hf_progbar_due(const hf_progbar *b, double now)
{
    return b->verbose == 1 && !(now - b->last_update < b->interval);
}

static char *put_counter(char *p, char *end, const hf_progbar *b, int64_t current)
{
    p = current < 0 ? putf(p, end, "%*" PRId64, b->digits, current)
                    : put_u64(p, end, (uint64_t)current, b->digits);
    p = PUT_LIT(p, end, "/");
    return put_u64(p, end, (uint64_t)b->target, 0);
}

/* verbose 1: one redraw of the bar (the twin's _draw_line). */
static void draw(hf_progbar *b, int64_t current, double now, const double *values, size_t n,
                 int finalize)
{
    char *p = b->line, *end = b->line + b->line_cap;
    size_t previous = b->total_width;
    if (b->dynamic) {
        p = put_chars(p, end, '\b', previous);
        p = PUT_LIT(p, end, "\r");
    } else {
        p = PUT_LIT(p, end, "\n");
    }
    char *text = p;
    p = put_counter(p, end, b, current);
    p = PUT_LIT(p, end, " [");
    /* int(width * current / target): exact products below 2^53, as Python's. */
    double share = (double)b->width * (double)current / (double)b->target;
    int64_t filled = (int64_t)fmax(fmin(share, 1e18), -1e9); /* (the line is bounded anyway) */
    if (filled > 0) {
        p = put_chars(p, end, '=', (size_t)(filled - 1));
        p = put_chars(p, end, current < b->target ? '>' : '=', 1);
    }
    if (filled < b->width)
        p = put_chars(p, end, '.', (size_t)(b->width - filled));
    p = PUT_LIT(p, end, "]");
    /* Seconds per step; the first (often a warm-up) is left out once there are others. */
    double per_step;
    if (current == 0) {
        per_step = 0.0;
    } else if (current > 1 && b->has_after_first) {
        per_step = (now - b->after_first) / (double)(current - 1);
    } else {
        per_step = (now - b->start) / (double)current;
        if (current == 1) {
            b->after_first = now;
            b->has_after_first = 1;
        }
    }
    if (finalize) {
        p = PUT_LIT(p, end, " - ");
        p = put_round0(p, end, now - b->start);
        p = PUT_LIT(p, end, "s");
        p = put_time(p, end, per_step, "step");
    } else {
        p = PUT_LIT(p, end, " - ETA: ");
        p = put_eta(p, end, per_step * (double)(b->target - current));
    }
    p = put_values(p, end, b, values, n, 1);
    size_t width = (size_t)(p - text);
    b->total_width = width;
    if (previous > width)
        p = put_chars(p, end, ' ', previous - width);
    if (finalize)
        p = PUT_LIT(p, end, "\n");
    emit(b, b->line, (size_t)(p - b->line), now);
}

/* verbose 2: the line at the end of a bar (the twin's _print_summary). */
static void summary(hf_progbar *b, int64_t current, double now, const double *values, size_t n)
{
    char *p = b->line, *end = b->line + b->line_cap;
    p = put_counter(p, end, b, current);
    p = PUT_LIT(p, end, " - ");
    p = put_round0(p, end, now - b->start);
    p = PUT_LIT(p, end, "s");
    p = put_values(p, end, b, values, n, 0);
    if (current == b->target) {
        double epoch_time = now - b->start;
        p = PUT_LIT(p, end, " -");
        p = put_time(p, end, epoch_time, "epoch");
        p = PUT_LIT(p, end, " -");
        p = put_time(p, end, epoch_time / (double)b->target, "step");
        p = PUT_LIT(p, end, "\n");
    }
    emit(b, b->line, (size_t)(p - b->line), now);
}

void hf_progbar_update(hf_progbar *b, int64_t current, double now, const double *values,
                       size_t n_values, int finalize)
{
    if (b->verbose == 1) {
        if (!finalize && now - b->last_update < b->interval)
            return;
        draw(b, current, now, values, n_values, finalize);
    } else if (b->verbose == 2 && finalize) {
        summary(b, current, now, values, n_values);
    }
    b->last_update = now;
}
