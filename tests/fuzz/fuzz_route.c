/* Fuzz target for the read endpoints' query strings: the first byte picks an endpoint, the rest
 * is split at '&' into key=value parameters (as libmicrohttpd hands them over, already decoded)
 * and routed through sv_route() against a small real store with sealed chunks and tails. Any
 * answer but 200, 4xx or 503 (a 500, a crash, a leak) is a finding; a 200 must be a document. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jialing/server.h"
#include "jialing/serieskey.h"
#include "split_params.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static sv_context context;
static sv_config config;
static char directory[] = "/tmp/jialing-fuzz-route-XXXXXX";

static void remove_store(void)
{
    st_store_close(context.store);
    char command[128];
    snprintf(command, sizeof command, "rm -rf '%s'", directory);
    if (system(command) != 0)
        fprintf(stderr, "could not remove %s\n", directory);
}

/* Three series over two days, with late readings, so queries meet chunks and tails. */
static void open_store(void)
{
    if (mkdtemp(directory) == NULL)
        abort();
    st_options options;
    memset(&options, 0, sizeof options);
    options.directory = directory;
    options.chunk_target = 64;
    jl_error err;
    if (st_store_open(&options, &context.store, &err) != JL_OK)
        abort();
    atexit(remove_store);
    st_batch batch;
    st_batch_init(&batch);
    jl_buf key;
    jl_buf_init(&key);
    const char *stations[] = {"a", "b", "c"};
    for (int s = 0; s < 3; s++) {
        sk_tag tags[2] = {{{"station", 7}, {stations[s], 1}},
                          {{"district", 8}, {s ? "d2" : "d1", 2}}};
        key.len = 0;
        uint32_t index;
        if (sk_build((sk_text){"pm25", 4}, tags, 2, &key, &err) != JL_OK ||
            st_batch_series(&batch, key.data, key.len, &index) != JL_OK)
            abort();
        for (int i = 0; i < 2880; i++)
            st_batch_point(&batch, index, 1735689600000LL + i * 60000LL, (i * 7 % 1000) / 10.0);
    }
    if (st_write(context.store, &batch, &err) != JL_OK)
        abort();
    st_batch_reset(&batch);
    uint32_t index;
    st_batch_series(&batch, key.data, key.len, &index);
    for (int i = 0; i < 50; i++)
        st_batch_point(&batch, index, 1735689600000LL + i * 30000LL + 15000, -i / 4.0);
    if (st_write(context.store, &batch, &err) != JL_OK)
        abort();
    st_batch_destroy(&batch);
    jl_buf_destroy(&key);
    sv_config_defaults(&config);
    config.limits.max_rows = 20000;
    config.limits.max_windows = 20000;
    config.limits.timeout_ms = 2000;
    context.config = &config;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const paths[] = {"/api/v1/query", "/api/v1/scan", "/api/v1/latest",
                                        "/api/v1/series"};
    if (context.store == NULL)
        open_store();
    char *text = fuzz_text_after_selector(data, size);
    if (text == NULL)
        return 0;
    sv_request request;
    memset(&request, 0, sizeof request);
    request.method = "GET";
    request.path = paths[data[0] % 4];
    request.content_length = -1;
    request.param_count = fuzz_split_params(text, request.params, SV_MAX_PARAMS);
    sv_response response;
    sv_response_init(&response);
    sv_route(&context, &request, &response);
    int status = response.status;
    if (status == 200) {
        char head[16] = {0};
        if (response.body_fd >= 0) {
            if (pread(response.body_fd, head, 10, 0) != 10)
                abort();
        } else if (response.body.len > 0) { /* an empty CSV answer has no body at all */
            memcpy(head, response.body.data, response.body.len < 10 ? response.body.len : 10);
        }
        if (strncmp(head, "{\"series\":", 10) != 0 && strncmp(head, "metric,", 7) != 0 &&
            (unsigned char)head[0] != 0x81 && head[0] != '\0')
            abort();
    } else if (status < 400 || (status >= 500 && status != 503)) {
        fprintf(stderr, "status %d: %.*s\n", status, (int)response.body.len, response.body.data);
        abort();
    }
    sv_response_destroy(&response);
    free(text);
    return 0;
}
