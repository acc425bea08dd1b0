/* Shared by the fuzz targets that take a query string: splits text in place at '&' into
 * key=value parameters, as libmicrohttpd hands them over (already decoded; a key without '='
 * gets ""), and the copy of the input they split. */
#ifndef JIALING_FUZZ_SPLIT_PARAMS_H
#define JIALING_FUZZ_SPLIT_PARAMS_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jialing/request.h"

/* Returns a NUL-terminated heap copy of data after its first byte (which picks what to fuzz), or
 * NULL when size is 0 or memory is short; the caller frees it. */
static inline char *fuzz_text_after_selector(const uint8_t *data, size_t size)
{
    char *text = size ? malloc(size) : NULL;
    if (text == NULL)
        return NULL;
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    return text;
}

/* Fills at most max entries of params (pointing into text); returns how many. */
static inline size_t fuzz_split_params(char *text, rq_param *params, size_t max)
{
    size_t count = 0;
    char *save = NULL;
    for (char *part = strtok_r(text, "&", &save); part && count < max;
         part = strtok_r(NULL, "&", &save)) {
        char *equals = strchr(part, '=');
        if (equals)
            *equals = '\0';
        params[count].key = part;
        params[count++].value = equals ? equals + 1 : "";
    }
    return count;
}

#endif
