/* TensorBoard's scalar event records: TFRecord-framed tensorflow.Event
 * protobufs holding a Summary of simple values, written many per call (a
 * fit's epoch records, given in a run). */
#ifndef HF_EVENTS_H
#define HF_EVENTS_H

#include <stddef.h>
#include <stdint.h>

/* The framed size of an event at ``step`` whose Event.summary field (its
 * key, its length and the encoded Summary) takes ``summary_size`` bytes. */
size_t hf_scalar_event_size(int64_t step, size_t summary_size);

/* Writes that event at ``out`` (hf_scalar_event_size bytes): wall_time
 * (field 1, double), step (field 2, int64 varint), then ``summary`` with
 * the ``n`` values stored as little-endian float32 at the byte offsets
 * ``value_at`` (each at most summary_size - 4); framed as TFRecord: the
 * length (uint64), its masked CRC-32C, the event, the event's masked
 * CRC-32C. */
void hf_scalar_event(unsigned char *out, double wall_time, int64_t step,
                     const unsigned char *summary, size_t summary_size,
                     const size_t *value_at, const float *values, size_t n);

#endif
