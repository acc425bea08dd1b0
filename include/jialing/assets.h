/* The web console's and public page's files, built into jialingd: a table the build generates
 * (tools/embed_assets.py -> build/gen/web_assets.c) from server/web/ and the pinned uPlot, and the
 * handler that serves them with their Content-Type, ETag and Cache-Control. Nothing is read from
 * disk or fetched at run time, so both pages work offline.
 *
 * Caching: the pages themselves ("/", "/public") are `no-cache` (revalidated by ETag, so an
 * upgraded server is seen at once); the files under /assets/ are named in the pages with
 * `?v=<their ETag>`, so they may be cached for a year and never go stale. */
#ifndef JIALING_ASSETS_H
#define JIALING_ASSETS_H

#include <stddef.h>

#include "jialing/server.h"

/* One built-in file. Every pointer is static data of the binary. */
typedef struct as_asset {
    const char *path;          /* URL path: "/", "/public", "/assets/console.js" */
    const char *content_type;  /* e.g. "text/html; charset=utf-8" */
    const unsigned char *data; /* the file's bytes */
    size_t len_bytes;          /* bytes at data */
    const char *etag;          /* strong ETag with its quotes: "\"3f2a...\"" */
    const char *cache_control; /* the Cache-Control header to send */
} as_asset;

/* The generated table (build/gen/web_assets.c) and its length. */
extern const as_asset as_table[];
extern const size_t as_table_count;

/* Returns the built-in file served at path (query string excluded), or NULL (static data). */
const as_asset *as_find(const char *path);

/* Returns 1 when an If-None-Match header value (NULL: absent) names etag (with its quotes) or is
 * "*", else 0. Weak validators (W/"...") match as well, as RFC 9110 asks for GET. */
int as_etag_matches(const char *if_none_match, const char *etag);

/* Answers GET/HEAD of a built-in file: 200 with the file (sent from static memory, no copy), or
 * 304 without a body when If-None-Match holds its ETag, or 404 JSON when there is no such file.
 * Query parameters are ignored (the ?v= cache buster). Never fails. */
void as_serve(const sv_request *request, sv_response *response);

#endif
