/* TensorBoard's scalar event records (see hf_events.h). Everything is
 * stored byte by byte in little-endian order, whatever the host's. */
#include "hf_events.h"

#include <string.h>

#include "hf_crc32c.h"

static void store_le(unsigned char *p, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* TFRecord's checksum: the CRC rotated and offset, so that a CRC stored
 * inside checksummed data does not weaken it. */
static uint32_t masked_crc32c(const unsigned char *data, size_t n)
{
    uint32_t crc = hf_crc32c(0, data, n);
    return ((crc >> 15) | (crc << 17)) + 0xA282EAD8u;
}

/* int64 fields are varints of their two's complement: 1 to 10 bytes. */
static size_t varint_size(uint64_t v)
{
    size_t n = 1;
    for (; v > 0x7F; v >>= 7)
        n++;
    return n;
}

static size_t store_varint(unsigned char *p, uint64_t v)
{
    size_t n = 0;
    for (; v > 0x7F; v >>= 7)
        p[n++] = (unsigned char)((v & 0x7F) | 0x80);
    p[n++] = (unsigned char)v;
    return n;
}

enum { FRAME_HEAD = 12, FRAME_TAIL = 4, WALL_TIME_FIELD = 9 };

size_t hf_scalar_event_size(int64_t step, size_t summary_size)
{
    return FRAME_HEAD + WALL_TIME_FIELD + 1 + varint_size((uint64_t)step) + summary_size + FRAME_TAIL;
}

void hf_scalar_event(unsigned char *out, double wall_time, int64_t step,
                     const unsigned char *summary, size_t summary_size,
                     const size_t *value_at, const float *values, size_t n)
{
    unsigned char *event = out + FRAME_HEAD;
    uint64_t bits;
    uint32_t fbits;
    size_t at = 0;

    event[at++] = 0x09; /* wall_time: field 1, 64-bit */
    memcpy(&bits, &wall_time, sizeof bits);
    store_le(event + at, bits, 8);
    at += 8;
    event[at++] = 0x10; /* step: field 2, varint */
    at += store_varint(event + at, (uint64_t)step);
    memcpy(event + at, summary, summary_size);
    for (size_t i = 0; i < n; i++) {
        memcpy(&fbits, &values[i], sizeof fbits);
        store_le(event + at + value_at[i], fbits, 4);
    }
    at += summary_size;

    store_le(out, (uint64_t)at, 8);
    store_le(out + 8, masked_crc32c(out, 8), 4);
    store_le(event + at, masked_crc32c(event, at), 4);
}
