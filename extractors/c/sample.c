/* crc.c: checksums that detect torn records on open. */
#include <stdint.h>
#include <stddef.h>
#include "crc.h"

#define CRC_POLY 0xEDB88320u
#define CRC_INIT(c) ((c) = 0xFFFFFFFFu)

/** One record as it sits on disk. */
typedef struct {
    uint32_t crc;
    uint32_t len;
    unsigned char data[];
} record_t;

struct table {
    uint32_t entries[256];
};

static struct table crc_table;
int crc_ready = 0;

static void build_table(struct table *t);

/* Fills the lookup table once. */
static void build_table(struct table *t)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? CRC_POLY ^ (c >> 1) : c >> 1;
        t->entries[i] = c;
    }
}

/* Checksum of n bytes at p. */
uint32_t crc32(const unsigned char *p, size_t n)
{
    uint32_t c;
    if (!crc_ready) {
        build_table(&crc_table);
        crc_ready = 1;
    }
    CRC_INIT(c);
    while (n--)
        c = crc_table.entries[(c ^ *p++) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

int record_valid(const record_t *r)
{
    return crc32(r->data, r->len) == r->crc;
}
