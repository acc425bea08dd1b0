/* Tests of storage/flag.c: the HJ 212-2017 letters map to the stored codes of flag.h, lists parse
 * and print, and anything else is refused. */
#include "check.h"

#include "jialing/flag.h"

static void test_flag_letters(void)
{
    /* The stored numbering, written out here as disk_format.h fixes it. */
    const char *letters = "NFMSDCTB";
    for (int code = 0; code < 8; code++) {
        CHECK_INT(jl_flag_from_letter(letters[code]), code);
        CHECK_INT(jl_flag_letter((unsigned)code), letters[code]);
    }
    CHECK_INT(jl_flag_from_letter('n'), -1);
    CHECK_INT(jl_flag_from_letter('X'), -1);
    CHECK_INT(jl_flag_from_letter('\0'), -1);
    CHECK_INT(jl_flag_letter(8), '?');
}

static void test_flag_lists(void)
{
    jl_flag_mask mask = 0;
    jl_error err;
    CHECK_INT(jl_flag_parse_list("M,C", 3, &mask, &err), JL_OK);
    CHECK_INT(mask, (1 << 2) | (1 << 5));
    CHECK_INT(jl_flag_parse_list(" N , S,N", 8, &mask, &err), JL_OK);
    CHECK_INT(mask, (1 << 0) | (1 << 3));
    char text[16];
    CHECK_STR(jl_flag_format_list(0xff, text), "N,F,M,S,D,C,T,B");
    CHECK_STR(jl_flag_format_list(1 << 6, text), "T");
    CHECK_STR(jl_flag_format_list(0, text), "");

    const char *bad[] = {"", "M,", ",M", "MM", "M C", "x", "N,Q"};
    const long column[] = {1, 3, 1, 1, 1, 1, 3};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        mask = 0x42;
        CHECK_INT(jl_flag_parse_list(bad[i], strlen(bad[i]), &mask, &err), JL_EINVAL);
        CHECK_INT(err.column, column[i]);
        CHECK_INT(mask, 0x42);
    }
}

int main(void)
{
    RUN(test_flag_letters);
    RUN(test_flag_lists);
    return CHECK_DONE();
}
