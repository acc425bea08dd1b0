/* Serves the built-in files of the web console and the public page (include/jialing/assets.h)
 * from the table the build generates, and owns the If-None-Match check both pages' answers use. */
#include "jialing/assets.h"

#include <stdio.h>
#include <string.h>

#include "jialing/format.h"

const as_asset *as_find(const char *path)
{
    for (size_t i = 0; i < as_table_count; i++)
        if (strcmp(as_table[i].path, path) == 0)
            return &as_table[i];
    return NULL;
}

int as_etag_matches(const char *if_none_match, const char *etag)
{
    if (if_none_match == NULL || etag == NULL || etag[0] == '\0')
        return 0;
    size_t etag_len = strlen(etag);
    const char *p = if_none_match;
    /* A comma-separated list of entity tags, each maybe W/-prefixed, or "*". */
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (*p == '*')
            return 1;
        if (p[0] == 'W' && p[1] == '/')
            p += 2;
        const char *start = p;
        if (*p == '"') {
            p = strchr(p + 1, '"');
            if (p == NULL)
                return 0; /* unterminated: not a tag */
            p++;
        } else {
            while (*p && *p != ',')
                p++;
        }
        if ((size_t)(p - start) == etag_len && memcmp(start, etag, etag_len) == 0)
            return 1;
        while (*p && *p != ',')
            p++;
    }
    return 0;
}

void as_serve(const sv_request *request, sv_response *response)
{
    const as_asset *asset = as_find(request->path);
    response->body.len = 0;
    if (asset == NULL) {
        char message[JL_ERROR_MESSAGE_MAX];
        snprintf(message, sizeof message, "no such endpoint: %.200s", request->path);
        sv_respond_error(response, JL_ENOROUTE, message);
        return;
    }
    response->content_type = asset->content_type;
    response->cache_control = asset->cache_control;
    snprintf(response->etag, sizeof response->etag, "%s", asset->etag);
    if (as_etag_matches(request->if_none_match, asset->etag)) {
        response->status = JL_STATUS_NOT_MODIFIED;
        return;
    }
    sv_respond_ok(response, asset->content_type);
    response->static_body = asset->data;
    response->static_body_bytes = asset->len_bytes;
}
