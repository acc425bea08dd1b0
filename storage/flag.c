/* Flag letters and codes (include/jialing/flag.h). */
#include "jialing/flag.h"

#include <string.h>

static const char FLAG_LETTERS[JL_FLAG_COUNT + 1] = "NFMSDCTB";

int jl_flag_from_letter(char c)
{
    if (c == '\0')
        return -1;
    const char *at = memchr(FLAG_LETTERS, c, JL_FLAG_COUNT);
    return at ? (int)(at - FLAG_LETTERS) : -1;
}

char jl_flag_letter(unsigned code)
{
    return code < JL_FLAG_COUNT ? FLAG_LETTERS[code] : '?';
}

int jl_flag_parse_list(const char *text, size_t len, jl_flag_mask *mask, jl_error *err)
{
    jl_flag_mask out = 0;
    size_t i = 0;
    for (;;) {
        while (i < len && text[i] == ' ')
            i++;
        size_t start = i;
        while (i < len && text[i] != ',' && text[i] != ' ')
            i++;
        size_t end = i;
        while (i < len && text[i] == ' ')
            i++;
        int code = end - start == 1 ? jl_flag_from_letter(text[start]) : -1;
        if (code < 0 || (i < len && text[i] != ',')) {
            int rc = jl_error_set(err, JL_EINVAL,
                                  "flag list: item at column %zu is not one of the flag letters "
                                  "N F M S D C T B",
                                  start + 1);
            if (err)
                err->column = (long)start + 1;
            return rc;
        }
        out |= (jl_flag_mask)(1u << code);
        if (i >= len)
            break;
        i++; /* the comma */
    }
    *mask = out;
    return JL_OK;
}

char *jl_flag_format_list(jl_flag_mask mask, char out[16])
{
    size_t n = 0;
    for (unsigned code = 0; code < JL_FLAG_COUNT; code++) {
        if (!(mask & (1u << code)))
            continue;
        if (n)
            out[n++] = ',';
        out[n++] = FLAG_LETTERS[code];
    }
    out[n] = '\0';
    return out;
}
