/* CRC-32C (Castagnoli) of storage/crc32c.c (storage-internal). The same function is part of the
 * public chunk interface (jialing/chunk.h) for tools and tests that check stored bytes; code
 * inside storage includes this header when it needs only the checksum. */
#ifndef JIALING_STORAGE_CRC32C_H
#define JIALING_STORAGE_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* CRC-32C of data[0..len), continuing from crc: start with 0, and pass the result of one call
 * to the next to checksum pieces as if they were one buffer. Cannot fail; data is only read. */
uint32_t ck_crc32c(uint32_t crc, const void *data, size_t len);

#endif
