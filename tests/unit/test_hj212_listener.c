/* Tests of the pure pieces of server/hj212_listener.c: the capped reply queue, the per-connection
 * log limiter, the CN classes, and the round: messages' readings collected into one batch and
 * committed with one write, retried message by message when that write is refused as invalid.
 * The writer here is a fake that records what it was given; expected readings are written out by
 * hand. Also the listener's flags (server/config.c). */
#include "check.h"

#include "../../server/hj212_listener.h"

/* ---- a fake st_write ---- */

typedef struct fake_writer {
    int calls;
    int code;               /* returned when the batch holds no poisoned value */
    size_t points_seen[16]; /* points of each call's batch */
    double first_value[16]; /* value of each call's first point */
    double stored[64];      /* values of the batches accepted, in order */
    size_t stored_count;
} fake_writer;

#define POISON 666.0 /* a batch holding this value is refused with JL_EINVAL, like a bad point */

static int fake_write(void *ctx, const st_batch *batch, jl_error *err)
{
    fake_writer *w = ctx;
    size_t n = st_batch_point_count(batch);
    if (w->calls < 16) {
        w->points_seen[w->calls] = n;
        w->first_value[w->calls] = n ? st_batch_point_value(batch, 0) : 0;
    }
    w->calls++;
    for (size_t i = 0; i < n; i++)
        if (st_batch_point_value(batch, i) == POISON)
            return jl_error_set(err, JL_EINVAL, "point %zu is poisoned", i);
    if (w->code != JL_OK)
        return jl_error_set(err, w->code, "store says no");
    for (size_t i = 0; i < n && w->stored_count < 64; i++)
        w->stored[w->stored_count++] = st_batch_point_value(batch, i);
    return JL_OK;
}

/* A message's readings: values v[0..n) of series key at times 1000, 2000, ... */
static void readings(st_batch *b, const char *key, const double *v, size_t n)
{
    st_batch_reset(b);
    uint32_t index;
    CHECK_INT(st_batch_series(b, key, strlen(key), &index), JL_OK);
    for (size_t i = 0; i < n; i++)
        CHECK_INT(st_batch_point_flagged(b, index, (int64_t)(i + 1) * 1000, v[i], (uint8_t)i),
                  JL_OK);
}

static void test_cn_classes(void)
{
    CHECK_INT(hs_cn_is_data("2011"), 1);
    CHECK_INT(hs_cn_is_data("2051"), 1);
    CHECK_INT(hs_cn_is_data("2061"), 1);
    CHECK_INT(hs_cn_is_data("2031"), 1);
    CHECK_INT(hs_cn_is_data("2021"), 0);
    CHECK_INT(hs_cn_is_data("2081"), 0);
    CHECK_INT(hs_cn_is_data("9011"), 0);
    CHECK_INT(hs_cn_is_data("9014"), 0);
    CHECK_INT(hs_cn_is_data("20110"), 0);
    CHECK_INT(hs_cn_is_data(""), 0);
}

static void test_outq(void)
{
    hs_outq q;
    hs_outq_init(&q, 10);
    size_t len = 99;
    hs_outq_peek(&q, &len);
    CHECK_INT(len, 0);
    CHECK_INT(hs_outq_push(&q, "abcdef", 6), JL_OK);
    CHECK_INT(hs_outq_push(&q, "ghij", 4), JL_OK); /* exactly the cap */
    CHECK_INT(hs_outq_push(&q, "k", 1), JL_ELIMIT);
    const char *data = hs_outq_peek(&q, &len);
    CHECK_INT(len, 10);
    CHECK(memcmp(data, "abcdefghij", 10) == 0);
    hs_outq_consume(&q, 3); /* "defghij" pending: 3 bytes of room */
    CHECK_INT(hs_outq_push(&q, "klmn", 4), JL_ELIMIT);
    CHECK_INT(hs_outq_push(&q, "klm", 3), JL_OK);
    data = hs_outq_peek(&q, &len);
    CHECK_INT(len, 10);
    CHECK(memcmp(data, "defghijklm", 10) == 0);
    hs_outq_consume(&q, 10);
    hs_outq_peek(&q, &len);
    CHECK_INT(len, 0);
    CHECK_INT(hs_outq_push(&q, "0123456789", 10), JL_OK);
    CHECK_INT(hs_outq_push(&q, "0123456789x", 11), JL_ELIMIT);
    /* many small sends and pushes: the pending bytes stay in order */
    hs_outq_consume(&q, 10);
    char expect[4] = {0};
    for (int i = 0; i < 1000; i++) {
        char bytes[3] = {(char)('a' + i % 26), (char)('A' + i % 26), (char)('0' + i % 10)};
        CHECK_INT(hs_outq_push(&q, bytes, 3), JL_OK);
        data = hs_outq_peek(&q, &len);
        CHECK_INT(len, i % 2 ? 4 : 3);
        memcpy(expect, bytes, 3);
        CHECK(memcmp(data + len - 3, expect, 3) == 0);
        hs_outq_consume(&q, i % 2 ? 4 : 2);
    }
    hs_outq_destroy(&q);
}

static void test_log_allow(void)
{
    unsigned logged = 0;
    uint64_t unlogged = 0;
    CHECK_INT(hs_log_allow(&logged, &unlogged, 3), 1);
    CHECK_INT(hs_log_allow(&logged, &unlogged, 3), 1);
    CHECK_INT(hs_log_allow(&logged, &unlogged, 3), 1);
    CHECK_INT(hs_log_allow(&logged, &unlogged, 3), 0);
    CHECK_INT(hs_log_allow(&logged, &unlogged, 3), 0);
    CHECK_INT(logged, 3);
    CHECK_INT(unlogged, 2);
}

static hs_round round_;
static st_batch msg, scratch;

static void add(const char *key, const double *v, size_t n, uint32_t slot, const char *reply)
{
    readings(&msg, key, v, n);
    CHECK_INT(hs_round_add(&round_, &msg, slot, slot + 100, "127.0.0.1:5000", "MN1", "QN1", reply,
                           reply ? strlen(reply) : 0),
              JL_OK);
}

static void test_round_one_write(void)
{
    hs_round_reset(&round_);
    double a[] = {1.5, 2.5}, b[] = {3.5}, c[] = {4.5, 5.5, 6.5};
    add("pm25,mn=A", a, 2, 0, "R0");
    add("pm25,mn=B", b, 1, 1, NULL);
    add("pm25,mn=A", c, 3, 2, "R2-long");
    CHECK_INT(round_.count, 3);
    CHECK_INT(hs_round_points(&round_), 6);
    CHECK_INT(st_batch_series_count(&round_.batch), 2);
    /* where each message's readings and reply are */
    CHECK_INT(round_.messages[0].first, 0);
    CHECK_INT(round_.messages[0].count, 2);
    CHECK_INT(round_.messages[1].first, 2);
    CHECK_INT(round_.messages[1].count, 1);
    CHECK_INT(round_.messages[2].first, 3);
    CHECK_INT(round_.messages[2].count, 3);
    CHECK_INT(round_.messages[0].reply_len, 2);
    CHECK_INT(round_.messages[1].reply_len, 0);
    CHECK_INT(round_.messages[2].reply_off, 2);
    CHECK_INT(round_.messages[2].reply_len, 7);
    CHECK(memcmp(round_.replies.data, "R0R2-long", 9) == 0);
    CHECK_INT(round_.messages[2].slot, 2);
    CHECK_INT(round_.messages[2].gen, 102);
    CHECK_STR(round_.messages[1].peer, "127.0.0.1:5000");
    CHECK_STR(round_.messages[1].mn, "MN1");
    /* the points themselves, with their keys, times and flags */
    CHECK_STR(st_batch_series_key(&round_.batch, st_batch_point_series(&round_.batch, 4), NULL),
              "pm25,mn=A");
    CHECK_INT(st_batch_point_ms(&round_.batch, 4), 2000);
    CHECK_DOUBLE_BITS(st_batch_point_value(&round_.batch, 4), 5.5);
    CHECK_INT(st_batch_point_flag(&round_.batch, 4), 1);
    CHECK_STR(st_batch_series_key(&round_.batch, st_batch_point_series(&round_.batch, 2), NULL),
              "pm25,mn=B");

    fake_writer w = {0};
    CHECK_INT(hs_round_commit(&round_, fake_write, &w, &scratch), 3);
    CHECK_INT(w.calls, 1);
    CHECK_INT(w.points_seen[0], 6);
    CHECK_INT(round_.commit_rc, JL_OK);
    for (size_t i = 0; i < 3; i++)
        CHECK_INT(round_.messages[i].result, JL_OK);
    double expect[] = {1.5, 2.5, 3.5, 4.5, 5.5, 6.5};
    CHECK_INT(w.stored_count, 6);
    for (size_t i = 0; i < 6; i++)
        CHECK_DOUBLE_BITS(w.stored[i], expect[i]);
}

static void test_round_retry_per_message(void)
{
    hs_round_reset(&round_);
    CHECK_INT(round_.count, 0);
    CHECK_INT(hs_round_points(&round_), 0);
    double a[] = {1.0}, bad[] = {7.0, POISON}, c[] = {3.0, 4.0};
    add("no2,mn=A", a, 1, 0, "R0");
    add("no2,mn=B", bad, 2, 1, "R1");
    add("hj212_x,mn=C", NULL, 0, 2, "R2"); /* a data message with no readings */
    add("no2,mn=C", c, 2, 3, "R3");
    fake_writer w = {0};
    CHECK_INT(hs_round_commit(&round_, fake_write, &w, &scratch), 3);
    CHECK_INT(round_.commit_rc, JL_EINVAL);
    CHECK_STR(round_.commit_err.message, "point 2 is poisoned");
    /* the combined write, then one write per message with readings */
    CHECK_INT(w.calls, 4);
    CHECK_INT(w.points_seen[0], 5);
    CHECK_INT(w.points_seen[1], 1);
    CHECK_DOUBLE_BITS(w.first_value[1], 1.0);
    CHECK_INT(w.points_seen[2], 2);
    CHECK_DOUBLE_BITS(w.first_value[2], 7.0);
    CHECK_INT(w.points_seen[3], 2);
    CHECK_DOUBLE_BITS(w.first_value[3], 3.0);
    CHECK_INT(round_.messages[0].result, JL_OK);
    CHECK_INT(round_.messages[1].result, JL_EINVAL);
    CHECK_INT(round_.messages[2].result, JL_OK);
    CHECK_INT(round_.messages[3].result, JL_OK);
    CHECK_INT(w.stored_count, 3);
    CHECK_DOUBLE_BITS(w.stored[0], 1.0);
    CHECK_DOUBLE_BITS(w.stored[1], 3.0);
    CHECK_DOUBLE_BITS(w.stored[2], 4.0);
}

static void test_round_other_failure(void)
{
    /* a failure other than JL_EINVAL (disk full, shutting down) fails every message at once:
     * no retry, no reply, the loggers re-send */
    hs_round_reset(&round_);
    double a[] = {1.0}, b[] = {2.0};
    add("so2,mn=A", a, 1, 0, "R0");
    add("so2,mn=B", b, 1, 1, "R1");
    fake_writer w = {0};
    w.code = JL_EDISKFULL;
    CHECK_INT(hs_round_commit(&round_, fake_write, &w, &scratch), 0);
    CHECK_INT(w.calls, 1);
    CHECK_INT(round_.commit_rc, JL_EDISKFULL);
    CHECK_INT(round_.messages[0].result, JL_EDISKFULL);
    CHECK_INT(round_.messages[1].result, JL_EDISKFULL);

    /* one message refused as invalid is not retried: there is no other to save */
    hs_round_reset(&round_);
    double bad[] = {POISON};
    add("so2,mn=A", bad, 1, 0, "R0");
    fake_writer w2 = {0};
    CHECK_INT(hs_round_commit(&round_, fake_write, &w2, &scratch), 0);
    CHECK_INT(w2.calls, 1);
    CHECK_INT(round_.messages[0].result, JL_EINVAL);
}

static int parse(sv_config *config, jl_error *err, int argc, const char *const *argv)
{
    jl_error_clear(err);
    return sv_config_parse(config, argc, (char **)argv, err);
}

static void test_flags(void)
{
    sv_config config;
    jl_error err;
    const char *none[] = {"jialingd"};
    CHECK_INT(parse(&config, &err, 1, none), JL_OK);
    CHECK_INT(config.hj212_enabled, 0);
    CHECK_INT(config.hj212_max_connections, 4096);
    CHECK_INT(config.hj212_idle_timeout_s, 600);
    CHECK_INT(config.hj212_max_reply_bytes, 65536);
    CHECK_INT(config.hj212_utc_offset_ms, 28800000); /* +08:00 */
    CHECK_INT(config.hj212_split_timeout_s, 120);
    CHECK(config.hj212_stations_path == NULL && config.hj212_codes_path == NULL);

    const char *all[] = {"jialingd",
                         "--hj212",
                         "0.0.0.0:9212",
                         "--hj212-max-connections",
                         "10",
                         "--hj212-idle-timeout=30",
                         "--hj212-max-reply-bytes",
                         "2048",
                         "--hj212-tz",
                         "-05:30",
                         "--hj212-stations",
                         "st.txt",
                         "--hj212-codes",
                         "codes.txt",
                         "--hj212-split-timeout",
                         "9"};
    CHECK_INT(parse(&config, &err, 16, all), JL_OK);
    CHECK_INT(config.hj212_enabled, 1);
    CHECK_STR(config.hj212_host, "0.0.0.0");
    CHECK_INT(config.hj212_port, 9212);
    CHECK_INT(config.hj212_max_connections, 10);
    CHECK_INT(config.hj212_idle_timeout_s, 30);
    CHECK_INT(config.hj212_max_reply_bytes, 2048);
    CHECK_INT(config.hj212_utc_offset_ms, -19800000); /* -(5 h 30 min) */
    CHECK_STR(config.hj212_stations_path, "st.txt");
    CHECK_STR(config.hj212_codes_path, "codes.txt");
    CHECK_INT(config.hj212_split_timeout_s, 9);
    /* --listen still parses as before, beside --hj212 */
    const char *both[] = {"jialingd", "--listen", "[::1]:8000", "--hj212", "[::1]:0"};
    CHECK_INT(parse(&config, &err, 5, both), JL_OK);
    CHECK_STR(config.listen_host, "::1");
    CHECK_INT(config.listen_port, 8000);
    CHECK_STR(config.hj212_host, "::1");
    CHECK_INT(config.hj212_port, 0);

    const char *bad_tz[] = {"jialingd", "--hj212-tz", "+25:00"};
    CHECK_INT(parse(&config, &err, 3, bad_tz), JL_EINVAL);
    CHECK(strncmp(err.message, "--hj212-tz: ", 12) == 0);
    const char *bad_port[] = {"jialingd", "--hj212", "127.0.0.1:70000"};
    CHECK_INT(parse(&config, &err, 3, bad_port), JL_EINVAL);
    CHECK_STR(err.message, "--hj212 port: expected a whole number from 0 to 65535, got \"70000\"");
    const char *no_port[] = {"jialingd", "--hj212", "9212"};
    CHECK_INT(parse(&config, &err, 3, no_port), JL_EINVAL);
    CHECK_STR(err.message, "--hj212: expected HOST:PORT, got \"9212\"");
    const char *zero[] = {"jialingd", "--hj212-max-connections", "0"};
    CHECK_INT(parse(&config, &err, 3, zero), JL_EINVAL);
    const char *small[] = {"jialingd", "--hj212-max-reply-bytes", "100"};
    CHECK_INT(parse(&config, &err, 3, small), JL_EINVAL);
}

int main(void)
{
    hs_round_init(&round_);
    st_batch_init(&msg);
    st_batch_init(&scratch);
    RUN(test_cn_classes);
    RUN(test_outq);
    RUN(test_log_allow);
    RUN(test_round_one_write);
    RUN(test_round_retry_per_message);
    RUN(test_round_other_failure);
    RUN(test_flags);
    hs_round_destroy(&round_);
    st_batch_destroy(&msg);
    st_batch_destroy(&scratch);
    return CHECK_DONE();
}
