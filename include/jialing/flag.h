/* Data flags: the one-letter code HJ 212-2017 attaches to every value a monitoring station sends
 * (its table of data flags), kept per reading. Stored as the small integers below (their numbers
 * are on disk: storage/disk_format.h), shown as the letters. Readings written without a flag are
 * JL_FLAG_N. Implemented by storage/flag.c; reentrant, no allocation. */
#ifndef JIALING_FLAG_H
#define JIALING_FLAG_H

#include <stddef.h>
#include <stdint.h>

#include "jialing/common.h"

/* Flag codes, as stored. */
enum {
    JL_FLAG_N = 0, /* normal: the instrument worked normally */
    JL_FLAG_F = 1, /* stopped (停运) */
    JL_FLAG_M = 2, /* maintenance (维护) */
    JL_FLAG_S = 3, /* a value entered by hand (手工输入的设定值) */
    JL_FLAG_D = 4, /* fault (故障) */
    JL_FLAG_C = 5, /* calibration (校准) */
    JL_FLAG_T = 6, /* over the instrument's upper limit (超测上限) */
    JL_FLAG_B = 7, /* communication fault (通讯异常) */
    JL_FLAG_COUNT = 8
};

/* A set of flags: bit (1u << code) for each code in it. */
typedef uint8_t jl_flag_mask;
#define JL_FLAG_MASK_ALL ((jl_flag_mask)0xff)
#define JL_FLAG_MASK_N ((jl_flag_mask)(1u << JL_FLAG_N))

/* Returns the code of the upper-case letter c (one of "NFMSDCTB"), or -1 for any other byte
 * (lower case included: HJ 212 sends upper case, and a letter we do not know must not pass). */
int jl_flag_from_letter(char c);

/* Returns the letter of code (< JL_FLAG_COUNT), or '?' for any other value. */
char jl_flag_letter(unsigned code);

/* Parses a comma-separated list of flag letters (text[0..len), e.g. "N,S"; spaces around items
 * allowed, repeats harmless) into *mask. Returns JL_OK, or JL_EINVAL when the list is empty or an
 * item is not one letter of "NFMSDCTB" (err names the item and its 1-based position in column). */
int jl_flag_parse_list(const char *text, size_t len, jl_flag_mask *mask, jl_error *err);

/* Writes the letters of mask in code order, comma-separated, NUL-terminated, into out (at least
 * 16 bytes); returns out. */
char *jl_flag_format_list(jl_flag_mask mask, char out[16]);

#endif
