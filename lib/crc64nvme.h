/* SPDX-License-Identifier: MIT */
/* CRC64NVME itself (lib/crc64nvme.c), below the checksum interface that
 * offers it with the other algorithms.  Pure functions: any thread. */
#ifndef SLUICE_LIB_CRC64NVME_H
#define SLUICE_LIB_CRC64NVME_H

#include <stddef.h>
#include <stdint.h>

/* CRC64NVME itself: the carry-less path when the CPU has it, else tables;
 * _table always uses the tables (the tests compare the two). */
uint64_t sluice__crc64nvme(uint64_t crc, const void *buf, size_t len);
uint64_t sluice__crc64nvme_table(uint64_t crc, const void *buf, size_t len);
int sluice__crc64nvme_has_clmul(void);

#endif
