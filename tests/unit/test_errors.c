/* Tests the error table (jialing/errors.h): every row has a distinct code, a text and an error
 * status; jl_strerror() (storage/common.c) and sv_status_for() (server/routes.c) agree with it;
 * and the contract's codes, texts and statuses (DESIGN.md §3, §4; the e2e suite) are written out
 * here as literals, so a row changed by mistake fails. Also the router's own refusals (no such
 * endpoint, method not allowed, unauthorized, forbidden, too large), which need no store. */
#include "check.h"

#include "jialing/server.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct row {
    int code;
    int number;
    const char *name;
    const char *text;
    int status;
} row;

#define TABLE_ROW(name, number, text, status) {name, number, #name, text, status},
static const row table[] = {JL_ERROR_TABLE(TABLE_ROW)};
#undef TABLE_ROW
#define TABLE_ROWS (sizeof table / sizeof table[0])

static void test_rows_are_distinct_and_complete(void)
{
    CHECK_INT(TABLE_ROWS, 18);
    for (size_t i = 0; i < TABLE_ROWS; i++) {
        CHECK_INT(table[i].code, table[i].number);
        CHECK(table[i].code < 0);
        CHECK(table[i].text != NULL && table[i].text[0] != '\0');
        CHECK(table[i].status >= 400 && table[i].status <= 599);
        for (size_t j = 0; j < i; j++) {
            if (table[i].code == table[j].code)
                fprintf(stderr, "  %s and %s share %d\n", table[i].name, table[j].name,
                        table[i].code);
            CHECK(table[i].code != table[j].code);
            CHECK(strcmp(table[i].text, table[j].text) != 0);
        }
    }
}

static void test_strerror_and_status_follow_the_table(void)
{
    for (size_t i = 0; i < TABLE_ROWS; i++) {
        CHECK_STR(jl_strerror(table[i].code), table[i].text);
        CHECK_INT(sv_status_for(table[i].code), table[i].status);
    }
    CHECK_STR(jl_strerror(JL_OK), "ok");
    CHECK_INT(sv_status_for(JL_OK), 200);
    CHECK_STR(jl_strerror(-30900), "unknown error");
    CHECK_STR(jl_strerror(-30999), "unknown error");
    CHECK_STR(jl_strerror(1), "unknown error");
    CHECK_INT(sv_status_for(-30900), 500);
    CHECK_INT(sv_status_for(-30781), 500); /* an LMDB code leaking through is an internal error */
}

/* The contract, as clients and the e2e suite see it: numbers never change, statuses as DESIGN
 * says (400 bad input, 401/403 tokens, 404, 405, 413 body, 415 encoding, 422 limits, 503 busy or
 * slow, 507 a full store or disk, 500 the server's own trouble). */
static void test_contract_values(void)
{
    static const row expected[] = {
        {JL_EINVAL, -30901, "JL_EINVAL", "invalid input", 400},
        {JL_ENOMEM, -30902, "JL_ENOMEM", "out of memory", 500},
        {JL_EIO, -30903, "JL_EIO", "I/O error", 500},
        {JL_EFULL, -30904, "JL_EFULL", "store full", 507},
        {JL_ECORRUPT, -30905, "JL_ECORRUPT", "corrupt data", 500},
        {JL_ENOTFOUND, -30906, "JL_ENOTFOUND", "not found", 404},
        {JL_ELIMIT, -30907, "JL_ELIMIT", "limit exceeded", 422},
        {JL_EBUSY, -30908, "JL_EBUSY", "busy", 503},
        {JL_ESTORE, -30909, "JL_ESTORE", "storage error", 500},
        {JL_ETOOLARGE, -30910, "JL_ETOOLARGE", "too large", 413},
        {JL_ETIMEOUT, -30911, "JL_ETIMEOUT", "timed out", 503},
        {JL_EAUTH, -30912, "JL_EAUTH", "unauthorized", 401},
        {JL_EFORBIDDEN, -30913, "JL_EFORBIDDEN", "forbidden", 403},
        {JL_EDISKFULL, -30914, "JL_EDISKFULL", "disk full", 507},
        {JL_ENOROUTE, -30915, "JL_ENOROUTE", "no such endpoint", 404},
        {JL_EMETHOD, -30916, "JL_EMETHOD", "method not allowed", 405},
        {JL_EMEDIATYPE, -30917, "JL_EMEDIATYPE", "unsupported media type", 415},
        {JL_ECONFLICT, -30918, "JL_ECONFLICT", "conflict", 409},
    };
    CHECK_INT(sizeof expected / sizeof expected[0], TABLE_ROWS);
    for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++) {
        CHECK_INT(expected[i].code, expected[i].number);
        CHECK_STR(jl_strerror(expected[i].code), expected[i].text);
        CHECK_INT(sv_status_for(expected[i].code), expected[i].status);
    }
}

/* A context without a store: the router refuses these before any handler runs. */
static sv_config config;
static sv_context context;

static void route(const char *method, const char *path, const char *authorization,
                  int64_t content_length, sv_response *response)
{
    sv_request request;
    memset(&request, 0, sizeof request);
    request.method = method;
    request.path = path;
    request.authorization = authorization;
    request.content_length = content_length;
    sv_response_init(response);
    sv_route(&context, &request, response);
}

static void check_refusal(const char *method, const char *path, int64_t content_length, int status,
                          const char *body)
{
    sv_response response;
    route(method, path, NULL, content_length, &response);
    CHECK_INT(response.status, status);
    CHECK_STR(response.body.data, body);
    CHECK_STR(response.content_type, "application/json");
    sv_response_destroy(&response);
}

static void test_router_refusals(void)
{
    sv_config_defaults(&config);
    config.max_body_bytes = 1000;
    memset(&context, 0, sizeof context);
    context.config = &config;
    check_refusal("GET", "/api/v1/nothing", -1, 404,
                  "{\"error\":\"no such endpoint: /api/v1/nothing\"}");
    check_refusal("DELETE", "/api/v1/query", -1, 405,
                  "{\"error\":\"method DELETE is not allowed on /api/v1/query; use GET, HEAD\"}");
    check_refusal("POST", "/api/v1/write", 1001, 413,
                  "{\"error\":\"request body exceeds the limit of 1000 bytes\"}");
    check_refusal("POST", "/api/v1/backup", -1, 404,
                  "{\"error\":\"backups are not enabled; start jialingd with --backup-dir "
                  "DIR\"}");
    sv_response response;
    route("GET", "/api/v1/query", NULL, -1, &response);
    CHECK_INT(response.status, 400);
    CHECK_STR(response.body.data, "{\"error\":\"parameter series is required, e.g. "
                                  "series=pm25{station=\\\"s01\\\"}\"}");
    sv_response_destroy(&response);
    route("PUT", "/write", NULL, -1, &response);
    CHECK_INT(response.status, 405);
    CHECK_STR(response.allow, "POST");
    sv_response_destroy(&response);
    route("GET", "/health", NULL, -1, &response);
    CHECK_INT(response.status, 200);
    CHECK_STR(response.body.data, "{\"status\":\"ok\"}");
    sv_response_destroy(&response);
    /* Every refusal above counted as an error of its route (4 of "other": the route was not
     * admitted), the health check as none. */
    CHECK_INT(atomic_load(&context.metrics.errors[SV_ROUTE_OTHER]), 4);
    CHECK_INT(atomic_load(&context.metrics.errors[SV_ROUTE_BACKUP]), 1);
    CHECK_INT(atomic_load(&context.metrics.errors[SV_ROUTE_QUERY]), 1);
    CHECK_INT(atomic_load(&context.metrics.errors[SV_ROUTE_HEALTH]), 0);
}

static void test_token_refusals(void)
{
    char path[] = "/tmp/jialing-test-errors-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    const char tokens[] = "w-token write\nr-token read\n";
    CHECK_INT(write(fd, tokens, sizeof tokens - 1), (long)(sizeof tokens - 1));
    close(fd);
    jl_error err;
    CHECK_INT(au_tokens_load(path, &context.tokens, &err), JL_OK);
    unlink(path);
    sv_response response;
    route("POST", "/api/v1/write", NULL, -1, &response);
    CHECK_INT(response.status, 401);
    CHECK_STR(response.body.data,
              "{\"error\":\"a valid token is required: send Authorization: Bearer <token>\"}");
    sv_response_destroy(&response);
    route("POST", "/api/v1/write", "Bearer r-token", -1, &response);
    CHECK_INT(response.status, 403);
    CHECK_STR(response.body.data, "{\"error\":\"this token may read but not write\"}");
    sv_response_destroy(&response);
    au_tokens_free(context.tokens);
    context.tokens = NULL;
}

int main(void)
{
    RUN(test_rows_are_distinct_and_complete);
    RUN(test_strerror_and_status_follow_the_table);
    RUN(test_contract_values);
    RUN(test_router_refusals);
    RUN(test_token_refusals);
    return CHECK_DONE();
}
