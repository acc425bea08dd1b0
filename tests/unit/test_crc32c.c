/* Tests of storage/crc32c.c: published CRC-32C check values and continuation across every
 * split. */
#include "chunk_testing.h"

static void test_crc32c_vectors(void)
{
    /* Check values of CRC-32C (RFC 3720, appendix B.4, and the common "123456789" check). */
    CHECK_INT(ck_crc32c(0, "123456789", 9), 0xE3069283u);
    uint8_t zeros[32] = {0}, ones[32], rising[32];
    memset(ones, 0xff, sizeof ones);
    for (int i = 0; i < 32; i++)
        rising[i] = (uint8_t)i;
    CHECK_INT(ck_crc32c(0, zeros, 32), 0x8A9136AAu);
    CHECK_INT(ck_crc32c(0, ones, 32), 0x62A8AB43u);
    CHECK_INT(ck_crc32c(0, rising, 32), 0x46DD794Eu);
    CHECK_INT(ck_crc32c(0, "", 0), 0);
    /* Continuation equals one pass, at every split (exercises the word and byte loops). */
    static const char digits[] = "123456789";
    for (size_t split = 0; split <= 9; split++)
        CHECK_INT(ck_crc32c(ck_crc32c(0, digits, split), &digits[split], 9 - split), 0xE3069283u);
}

int main(void)
{
    RUN(test_crc32c_vectors);
    return CHECK_DONE();
}
