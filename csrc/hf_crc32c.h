/* CRC-32C (Castagnoli), the checksum of TFRecord framing (TensorBoard's
 * event files). */
#ifndef HF_CRC32C_H
#define HF_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* The CRC-32C of n bytes at data, continuing from crc (0 to start; a
 * previous result to checksum data that follows). Thread-safe. */
uint32_t hf_crc32c(uint32_t crc, const void *data, size_t n);

#endif
