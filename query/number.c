/* Number parsing for the HTTP API: the whole parameter as one finite number, as strtod reads it
 * (decimal or hexadecimal, exponent allowed), with no white space before or after. */
#include "jialing/params.h"
#include "text_scan.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

int qp_parse_number(const char *text, double *out, jl_error *err)
{
    *out = 0;
    jl_error_clear(err);
    if (text == NULL || text[0] == '\0')
        return jl_error_set(err, JL_EINVAL, "number is empty");
    /* strtod skips leading white space; the whole text must be the number. */
    if (is_space(text[0]) || text[0] == '\f' || text[0] == '\v')
        return jl_error_set(err, JL_EINVAL, "number \"%.*s%s\" starts with white space",
                            quote_len(text), text, quote_suffix(text));
    char *end = NULL;
    errno = 0;
    double value = strtod(text, &end);
    if (end == text || *end != '\0')
        return jl_error_set(err, JL_EINVAL, "\"%.*s%s\" is not a number", quote_len(text), text,
                            quote_suffix(text));
    if (!isfinite(value))
        return jl_error_set(err, JL_EINVAL, "number \"%.*s%s\" is not finite", quote_len(text),
                            text, quote_suffix(text));
    *out = value;
    return JL_OK;
}
