/* Keras 2's progress bar (tf-keras's Progbar) drawn by the core, inside a
 * run of batches: fit's default bar then costs no Python call per batch and
 * one per epoch. The lines are byte for byte those of the Python twin,
 * python/hookfit/utils/progbar.py (values given as they are shown: the
 * model's running means). Text is kept and written in one write() once it
 * has waited `interval` seconds (the bar's own redraw interval), at once
 * when batches take that long, after a run that took that long, and at
 * hf_progbar_flush: fewer system calls on short epochs, the same bytes.
 * Numbers are written as Python writes them, whatever the C locale. */
#ifndef HF_PROGBAR_H
#define HF_PROGBAR_H

#include <stddef.h>
#include <stdint.h>

typedef struct hf_progbar {
    /* Set once by the caller. */
    int verbose;              /* 1: a bar redrawn in place; 2: one line at the end */
    int dynamic;              /* 1: redraw over the line ('\b' * width, '\r'); 0: a new line */
    int fd;                   /* where the text goes */
    int64_t target;           /* steps in a bar (>= 1) */
    int digits;               /* decimal digits of target */
    int width;                /* bar width in characters (>= 0) */
    double interval;          /* seconds between two redraws */
    size_t n_keys;            /* the values' names, in the order shown */
    const char *const *keys;  /* NUL-terminated ASCII (one byte per character) */
    char *line;               /* room for one draw: line_cap >= hf_progbar_line_room() bytes */
    size_t line_cap;
    char *out;                /* the text not written yet: out_cap bytes */
    size_t out_cap;
    /* One bar (hf_progbar_start). */
    double start, last_update;
    double after_first;       /* when the draw at current 1 was made, if has_after_first */
    int has_after_first;
    size_t total_width;       /* characters of the last draw (keys are ASCII) */
    /* Output. */
    size_t out_len;
    double pending_since;     /* when the oldest unwritten byte was made */
    double run_started, last_check;
    double gap;               /* seconds between the last two batch ends (or run start) */
    int error;                /* errno of the first failed write: nothing more is written */
    int interrupted;          /* a signal ended a blocked write early (the rest is kept) */
    int gave_way;             /* that happened at least once */
} hf_progbar;

/* The bytes `line` must hold for any draw of a bar with these keys. */
size_t hf_progbar_line_room(const hf_progbar *b);

/* Seconds since the epoch (time.time()'s clock). */
double hf_progbar_clock(void);

/* A new bar at time now for epoch `epoch` (1-based) of `epochs`
 * (ProgbarLogger makes one per epoch), after the header "Epoch k/N" when
 * epochs > 1. */
void hf_progbar_start(hf_progbar *b, double now, int64_t epoch, int64_t epochs);

/* Whether an update at now would draw (verbose 1, interval elapsed). */
int hf_progbar_due(const hf_progbar *b, double now);

/* Progbar.update(current, values, finalize) at time now, values being the
 * first n_values keys' values (n_values <= n_keys), shown as given. */
void hf_progbar_update(hf_progbar *b, int64_t current, double now, const double *values,
                       size_t n_values, int finalize);

/* Write the kept text if its oldest byte has waited `interval` seconds,
 * if the last batch took that long (the next check is as far away), or if
 * the buffer is over half full. */
void hf_progbar_write_if_due(hf_progbar *b, double now);

/* A run of batches starts at now. */
void hf_progbar_run_begin(hf_progbar *b, double now);

/* A batch of the run ended at now (after its update): its time becomes the
 * gap, and the kept text is written if due. */
void hf_progbar_batch_done(hf_progbar *b, double now);

/* The run ended at now: all kept text is written if it took `interval`
 * or longer (what follows, a validation, may take as long). */
void hf_progbar_run_end(hf_progbar *b, double now);

/* Write all kept text now; returns b->error (0: every write succeeded).
 * Here and in the calls that write when due, a signal arriving while a
 * write is blocked (a reader that stopped reading) ends it early with the
 * rest kept and b->interrupted set: the caller lets Python handle the
 * signal (Ctrl-C raises), clears the flag and may write again. */
int hf_progbar_flush(hf_progbar *b);

#endif
