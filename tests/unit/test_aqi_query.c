/* Tests of query/aqi_query.c: aq_compute() over a real store. The expected IAQIs are worked out
 * by hand from HJ 633-2012 Table 1 in the comments beside them. */
#include "store_fixture.h"

#include "jialing/aqi.h"

#define HOUR_MS 3600000LL
#define MINUTE_MS 60000LL
/* 2025-01-15T00:00:00+08:00: 20103 days after 1970-01-01, minus 8 hours. */
#define DAY0 (20103LL * 86400000 - 8 * HOUR_MS)

static st_store *store;
static char *store_dir;
static tz_zone *shanghai;

/* What the sink was given. */
#define MAX_ROWS 64
typedef struct recorded {
    size_t stations;
    aq_row rows[MAX_ROWS];
    size_t row_count;
    aq_station_stats stats;
    uint64_t marks[8];
} recorded;

static int on_begin(void *context, size_t station)
{
    recorded *r = context;
    (void)station;
    r->stations++;
    return JL_OK;
}

static int on_row(void *context, const aq_row *row)
{
    recorded *r = context;
    if (r->row_count < MAX_ROWS)
        r->rows[r->row_count++] = *row;
    return JL_OK;
}

static int on_end(void *context, size_t station, const aq_station_stats *stats)
{
    recorded *r = context;
    (void)station;
    r->stats = *stats;
    for (size_t i = 0; i < stats->review_mark_count && i < 8; i++)
        r->marks[i] = stats->review_marks[i];
    r->stats.review_marks = NULL;
    return JL_OK;
}

static void write_point(const char *metric, const char *station, int64_t t, double v, int flag)
{
    test_batch b;
    tb_init(&b);
    uint32_t index = tb_series(&b, metric, station);
    tb_point_flagged(&b, index, t, v, (uint8_t)flag);
    CHECK_INT(tb_write(store, &b), JL_OK);
    tb_destroy(&b);
}

/* s1: one reading per hour of DAY0 for every pollutant, constant values. */
static void write_station_1(void)
{
    static const char *const metrics[6] = {"pm25", "pm10", "so2", "no2", "co", "o3"};
    static const double values[6] = {80, 130, 40, 60, 1.0, 100};
    for (int p = 0; p < 6; p++)
        for (int h = 0; h < 24; h++)
            write_point(metrics[p], "s1", DAY0 + h * HOUR_MS, values[p], JL_FLAG_N);
    /* A flagged reading that would change the PM2.5 mean if it were counted. */
    write_point("pm25", "s1", DAY0 + 3 * HOUR_MS + 30 * MINUTE_MS, 900, JL_FLAG_M);
}

/* s2: PM2.5 minute readings only: 45 minutes in hour 0, 44 in hour 1. */
static void write_station_2(void)
{
    for (int m = 0; m < 45; m++)
        write_point("pm25", "s2", DAY0 + m * MINUTE_MS, 10, JL_FLAG_N);
    for (int m = 0; m < 44; m++)
        write_point("pm25", "s2", DAY0 + HOUR_MS + m * MINUTE_MS, 10, JL_FLAG_N);
}

/* s3: CO only, 0.2 mg/m³ every hour. */
static void write_station_3(void)
{
    for (int h = 0; h < 24; h++)
        write_point("co", "s3", DAY0 + h * HOUR_MS, 0.2, JL_FLAG_N);
}

/* s4: PM2.5 above the top breakpoint, PM10 negative (an analyser's zero drift). */
static void write_station_4(void)
{
    for (int h = 0; h < 24; h++) {
        write_point("pm25", "s4", DAY0 + h * HOUR_MS, 600, JL_FLAG_N);
        write_point("pm10", "s4", DAY0 + h * HOUR_MS, -1, JL_FLAG_N);
    }
}

/* s5: SO2 900 every hour of DAY0 (above the 1-hour row's top, 800). */
static void write_station_5(void)
{
    for (int h = 0; h < 24; h++)
        write_point("so2", "s5", DAY0 + h * HOUR_MS, 900, JL_FLAG_N);
}

static int run(const char *station, aq_window window, int64_t from, int64_t to, aq_choice choice,
               recorded *out)
{
    qp_matcher matcher = {"station", (char *)station, 0};
    aq_station st = {&matcher, 1, {NULL}};
    aq_request request;
    memset(&request, 0, sizeof request);
    request.stations = &st;
    request.station_count = 1;
    request.from_ms = from;
    request.to_ms = to;
    request.window = window;
    request.zone = shanghai;
    request.standard = choice;
    request.flags = (qx_flag_select){JL_FLAG_MASK_N, 1};
    memset(out, 0, sizeof *out);
    aq_sink sink = {out, on_begin, on_row, on_end};
    jl_error err;
    jl_error_clear(&err);
    int rc = aq_compute(store, &request, &sink, &err);
    if (rc != JL_OK)
        fprintf(stderr, "  aq_compute: %s\n", err.message);
    return rc;
}

static void test_aqi_query_daily(void)
{
    recorded r;
    CHECK_INT(run("s1", AQ_WINDOW_DAY, DAY0, DAY0 + 86400000, AQ_CHOOSE_AUTO, &r), JL_OK);
    CHECK_INT(r.stations, 1);
    CHECK_INT(r.row_count, 1);
    const aq_row *row = &r.rows[0];
    CHECK_INT(row->time_ms, DAY0);
    /* 24-hour means: PM2.5 80 -> 107; PM10 130 -> 90; SO2 40 -> 50/50*40 = 40; NO2 60 ->
     * 50 + 50/40*20 = 75; CO 1.0 -> 50/2*1 = 25; O3 daily max 8-hour 100 -> 50; O3 daily max
     * 1-hour 100 -> 50/160*100 = 31.25 -> 32. AQI 107, PM2.5 primary. */
    CHECK_INT(row->has_aqi, 1);
    CHECK_INT(row->aqi, 107);
    CHECK_INT(row->level, 3);
    CHECK_INT(row->primary, 1u << AQ_P_PM25);
    static const int iaqi[AQ_COLUMN_COUNT] = {107, 90, 40, 75, 25, 50, 32};
    static const double value[AQ_COLUMN_COUNT] = {80, 130, 40, 60, 1.0, 100, 100};
    for (int c = 0; c < AQ_COLUMN_COUNT; c++) {
        CHECK_INT(row->has_iaqi[c], 1);
        CHECK_INT(row->iaqi[c], iaqi[c]);
        CHECK_DOUBLE_BITS(row->value[c], value[c]);
    }
    CHECK_STR(row->note, "");
    /* 24 valid readings per pollutant, and the one flagged M left out. */
    CHECK_INT(r.stats.valid[AQ_P_PM25], 24);
    CHECK_INT(r.stats.invalid[AQ_P_PM25], 1);
    CHECK_INT(r.stats.valid[AQ_P_O3], 24);
    CHECK_INT(r.stats.invalid[AQ_P_O3], 0);
    CHECK_INT(r.stats.read_from_ms, DAY0);
    CHECK_INT(r.stats.read_to_ms, DAY0 + 86400000);
    CHECK_INT(r.stats.review_mark_count, 0);
}

static void test_aqi_query_hourly(void)
{
    recorded r;
    CHECK_INT(run("s1", AQ_WINDOW_HOUR, DAY0, DAY0 + 8 * HOUR_MS, AQ_CHOOSE_AUTO, &r), JL_OK);
    CHECK_INT(r.row_count, 8);
    /* Nothing before DAY0: the O3 8-hour mean of hour h has h + 1 valid hours, so hours 0..4
     * are null (6 needed) and hour 5 on has an AQI. */
    for (size_t h = 0; h < 5; h++) {
        CHECK_INT(r.rows[h].has_aqi, 0);
        CHECK_INT(r.rows[h].has_iaqi[AQ_C_O3_8H], 0);
        CHECK(strstr(r.rows[h].note, "o3_8h") != NULL);
    }
    /* Hour 5: 1-hour values: PM2.5 80 -> 107, PM10 130 -> 90 (24-hour rows); SO2 40 ->
     * 50/150*40 = 13.3 -> 14; NO2 60 -> 50/100*60 = 30; CO 1.0 -> 50/5*1 = 10; O3 1-hour
     * 100 -> 32; O3 8-hour 100 -> 50. */
    static const int iaqi[AQ_COLUMN_COUNT] = {107, 90, 14, 30, 10, 50, 32};
    for (size_t h = 5; h < 8; h++) {
        CHECK_INT(r.rows[h].has_aqi, 1);
        CHECK_INT(r.rows[h].aqi, 107);
        CHECK_INT(r.rows[h].time_ms, DAY0 + (int64_t)h * HOUR_MS);
        for (int c = 0; c < AQ_COLUMN_COUNT; c++)
            CHECK_INT(r.rows[h].iaqi[c], iaqi[c]);
    }
    /* 23 hours of lookback are read. */
    CHECK_INT(r.stats.read_from_ms, DAY0 - 23 * HOUR_MS);
}

static void test_aqi_query_minutes(void)
{
    recorded r;
    CHECK_INT(run("s2", AQ_WINDOW_HOUR, DAY0, DAY0 + 2 * HOUR_MS, AQ_CHOOSE_AUTO, &r), JL_OK);
    CHECK_INT(r.row_count, 2);
    /* 45 minutes: valid; 44: not. The other pollutants have no data: no AQI. */
    CHECK_INT(r.rows[0].has_value[AQ_C_PM25], 1);
    CHECK_DOUBLE_BITS(r.rows[0].value[AQ_C_PM25], 10.0);
    CHECK_INT(r.rows[0].iaqi[AQ_C_PM25], 15); /* 50/35*10 = 14.29 -> 15 */
    CHECK_INT(r.rows[1].has_value[AQ_C_PM25], 0);
    CHECK(strstr(r.rows[1].note, "pm25: valid readings in 44 of 60 minutes (45 needed)") != NULL);
    CHECK_INT(r.rows[0].has_aqi, 0);
    CHECK(strstr(r.rows[0].note, "so2: no valid readings in the hour") != NULL);
}

static void test_aqi_query_decimal_mean(void)
{
    recorded r;
    CHECK_INT(run("s3", AQ_WINDOW_DAY, DAY0, DAY0 + 86400000, AQ_CHOOSE_AUTO, &r), JL_OK);
    /* 24 times 0.2 summed one by one is 4.800000000000002 (mean 0.20000000000000007, IAQI
     * 5.0000000000000018 -> 6); the decimal mean is 0.2 and 50/2 * 0.2 = 5 exactly. */
    CHECK_DOUBLE_BITS(r.rows[0].value[AQ_C_CO], 0.2);
    CHECK_INT(r.rows[0].iaqi[AQ_C_CO], 5);
    CHECK_INT(r.rows[0].has_aqi, 0);
}

static void test_aqi_query_out_of_table(void)
{
    recorded r;
    CHECK_INT(run("s4", AQ_WINDOW_DAY, DAY0, DAY0 + 86400000, AQ_CHOOSE_AUTO, &r), JL_OK);
    /* PM2.5 600 > 500: IAQI 500, said in the note; PM10 -1: no IAQI. */
    CHECK_INT(r.rows[0].has_iaqi[AQ_C_PM25], 1);
    CHECK_INT(r.rows[0].iaqi[AQ_C_PM25], 500);
    CHECK(strstr(r.rows[0].note, "pm25: 600 is above the top breakpoint of pm25_24h, IAQI 500"));
    CHECK_INT(r.rows[0].has_iaqi[AQ_C_PM10], 0);
    CHECK_INT(r.rows[0].has_value[AQ_C_PM10], 1);
    CHECK(strstr(r.rows[0].note, "pm10: -1 is negative, no IAQI"));
    CHECK_INT(r.rows[0].has_aqi, 0);
}

static void test_aqi_query_so2_above_800(void)
{
    recorded r;
    /* Hour 2: the 24-hour moving mean has 3 valid hours: no SO2 IAQI. */
    CHECK_INT(run("s5", AQ_WINDOW_HOUR, DAY0 + 2 * HOUR_MS, DAY0 + 3 * HOUR_MS, AQ_CHOOSE_AUTO, &r),
              JL_OK);
    CHECK_INT(r.rows[0].has_iaqi[AQ_C_SO2], 0);
    CHECK(strstr(r.rows[0].note, "so2: 1-hour value 900 is above 800 and the 24-hour mean has 3 "
                                 "valid hourly values (20 needed)"));
    /* Hour 23: 24 valid hours, mean 900 against the 24-hour row: 200 + 100/800 * 100 = 212.5
     * -> 213. */
    CHECK_INT(
        run("s5", AQ_WINDOW_HOUR, DAY0 + 23 * HOUR_MS, DAY0 + 24 * HOUR_MS, AQ_CHOOSE_AUTO, &r),
        JL_OK);
    CHECK_INT(r.rows[0].has_iaqi[AQ_C_SO2], 1);
    CHECK_INT(r.rows[0].iaqi[AQ_C_SO2], 213);
    CHECK_DOUBLE_BITS(r.rows[0].value[AQ_C_SO2], 900.0);
    CHECK(strstr(r.rows[0].note, "so2: 1-hour value 900 is above 800, IAQI from the 24-hour mean"));
}

static void test_aqi_query_standards(void)
{
    recorded r;
    /* 2026-02-28 (Beijing): still HJ 633-2012 under auto. */
    int64_t feb28 = 1772208000000LL, mar1 = 1772294400000LL;
    CHECK_INT(run("s1", AQ_WINDOW_DAY, feb28, mar1, AQ_CHOOSE_AUTO, &r), JL_OK);
    CHECK_INT(r.row_count, 1);
    CHECK_INT(r.rows[0].standard, AQ_STANDARD_2012);
    /* From 2026-03-01 auto needs HJ 633-2026, whose tables are not built in. */
    CHECK_INT(run("s1", AQ_WINDOW_DAY, feb28, mar1 + 1, AQ_CHOOSE_AUTO, &r), JL_EINVAL);
    CHECK_INT(run("s1", AQ_WINDOW_DAY, DAY0, DAY0 + 1, AQ_CHOOSE_2026, &r), JL_EINVAL);
    CHECK_INT(run("s1", AQ_WINDOW_DAY, mar1, mar1 + 1, AQ_CHOOSE_2012, &r), JL_OK);
    /* Bad ranges. */
    CHECK_INT(run("s1", AQ_WINDOW_DAY, DAY0, DAY0, AQ_CHOOSE_AUTO, &r), JL_EINVAL);
    CHECK_INT(run("s1", AQ_WINDOW_DAY, DAY0, DAY0 + 400LL * 86400000, AQ_CHOOSE_AUTO, &r),
              JL_ELIMIT);
}

int main(void)
{
    store_dir = make_temp_dir_named("aqi");
    store = open_store(store_dir, 16, 64u << 20);
    jl_error err;
    if (tz_zone_load("Asia/Shanghai", &shanghai, &err) != JL_OK) {
        fprintf(stderr, "no Asia/Shanghai zone: %s\n", err.message);
        return 1;
    }
    write_station_1();
    write_station_2();
    write_station_3();
    write_station_4();
    write_station_5();
    RUN(test_aqi_query_daily);
    RUN(test_aqi_query_hourly);
    RUN(test_aqi_query_minutes);
    RUN(test_aqi_query_decimal_mean);
    RUN(test_aqi_query_out_of_table);
    RUN(test_aqi_query_so2_above_800);
    RUN(test_aqi_query_standards);
    tz_zone_free(shanghai);
    st_store_close(store);
    remove_dir(store_dir);
    return CHECK_DONE();
}
