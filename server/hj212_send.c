/* `jialing hj212-send`: a simulator of HJ 212 data loggers. It sends data messages (CN 2011
 * real-time, 2051 minute, 2061 hourly) over TCP to a server such as `jialingd --hj212`, asks for
 * a reply to each (Flag=5: version 1 and the A bit), matches the 9014 replies by QN and MN, re-
 * sends a message whose reply does not come within --timeout, and reports what was sent,
 * acknowledged and lost. The messages are generated (a deterministic random walk per station and
 * code from --seed) or replayed from a file. Everything runs in one thread around one epoll
 * loop, so a thousand simulated loggers cost one core at most.
 *
 * The loop is driven by socket events (a reply frees a window slot, which sends the next message
 * at once) and by a sweep every SWEEP_NS over every connection for what time decides: paced
 * sends (--interval), reply timeouts and reconnections after the server went away. */
#include "hj212_send.h"

#include "jialing/calendar.h"
#include "jialing/common.h"
#include "jialing/csvconvert.h"
#include "jialing/flag.h"
#include "jialing/hj212.h"
#include "jialing/ingest.h"
#include "jialing/params.h"
#include "jialing/serieskey.h"
#include "jialing/store.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netdb.h>
#include <signal.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define DEFAULT_CONNECTIONS_MAX 1024 /* one connection per station up to this many */
#define DEFAULT_PW "123456"
#define DEFAULT_MN_PREFIX "JLSIM"
#define MN_WIDTH 24 /* real MNs are 24 characters; the index is zero-padded to reach that */
#define SWEEP_NS 10000000LL
#define RECONNECT_MIN_MS 50
#define RECONNECT_MAX_MS 1000
#define DAY_MS 86400000LL

static const char *const DEFAULT_CODES = "a34004,a34002,a21026,a21004,a21005,a05024";

void hj212_send_usage(FILE *out)
{
    fprintf(out,
            "  hj212-send --to HOST:PORT [options]\n"
            "      Simulate HJ 212 data loggers: send data messages (Flag=5, a 9014 reply asked\n"
            "      for each), match the replies by QN and MN, re-send unanswered ones, and print\n"
            "      one line: sent, acknowledged, lost, retried, elapsed, messages/s, readings/s.\n"
            "      Exit status 0 only when every message was acknowledged; SIGINT or SIGTERM\n"
            "      stops the run, still reporting (messages in flight count as lost), status 130.\n"
            "        --stations N      simulated loggers [1]\n"
            "        --mn-prefix P     MN = P + index from 1, zero-padded to 24 characters\n"
            "                          [" DEFAULT_MN_PREFIX "]\n"
            "        --pw PW           password field [" DEFAULT_PW "]\n"
            "        --st ST           system code [22, air]\n"
            "        --cn 2011|2051|2061  real-time (code-Rtd) or minute/hourly (code-Avg) [2011]\n"
            "        --interval S      seconds between a station's messages; 0 sends each as soon\n"
            "                          as the window allows [0]\n"
            "        --count N         messages per station\n"
            "        --duration S      or: send for S seconds\n"
            "        --start TIME      DataTime of the first message, RFC 3339 or epoch ms [now]\n"
            "        --step S          seconds of DataTime between messages [--interval, or 30,\n"
            "                          60, 3600 for CN 2011, 2051, 2061 when --interval is 0]\n"
            "        --tz +HH:MM       the loggers' time zone for DataTime and QN [+08:00]\n"
            "        --codes C,C,...   pollutant codes [%s]\n"
            "        --seed N          seed of the values' random walk per station and code [1]\n"
            "        --flag-every K    every K-th value of a station gets flag M, others N [0:\n"
            "                          all N]\n"
            "        --replay FILE     send the readings of FILE instead: CSV with the header\n"
            "                          mn,datatime,code,value,flag (datatime 14 digits local, RFC\n"
            "                          3339 or epoch ms) or line protocol (metrics pm25, ... or\n"
            "                          hj212_<code>, tag mn, ms timestamps unless --precision);\n"
            "                          each distinct (mn, time) is one message\n"
            "        --precision P     line-protocol timestamp unit of --replay [ms]\n"
            "        --connections C   TCP connections the stations are spread over [one per\n"
            "                          station, at most %d]\n"
            "        --window W        messages in flight per connection [1: stop-and-wait]\n"
            "        --timeout S       seconds to wait for a reply before re-sending [5]\n"
            "        --retries R       re-sends of a message before it counts as lost [3]\n"
            "        --acked-log FILE  write 'mn,DataTime' of every acknowledged message\n",
            DEFAULT_CODES, DEFAULT_CONNECTIONS_MAX);
}

/* ---- options ---------------------------------------------------------------------------- */

typedef struct hs_options {
    const char *to;
    unsigned long stations;
    const char *mn_prefix;
    const char *pw;
    const char *st;
    const char *cn;
    double interval_s;
    unsigned long long count; /* 0: not given */
    double duration_s;        /* 0: not given */
    int has_start;
    int64_t start_ms;
    double step_s; /* < 0: not given */
    int64_t tz_ms;
    const char *codes;
    unsigned long long seed;
    unsigned long long flag_every;
    const char *replay;
    ig_precision precision;
    unsigned long connections; /* 0: default */
    unsigned long window;
    double timeout_s;
    unsigned long retries;
    const char *acked_log;
} hs_options;

static int hs_usage_error(const char *format, const char *arg)
{
    fprintf(stderr, "jialing hj212-send: ");
    fprintf(stderr, format, arg);
    fprintf(stderr, "\nRun 'jialing hj212-send --help' for usage.\n");
    return 2;
}

static int parse_ull(const char *text, unsigned long long min, unsigned long long max,
                     unsigned long long *out)
{
    char *end;
    if (text[0] < '0' || text[0] > '9')
        return 0;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return 0;
    *out = v;
    return 1;
}

static int parse_seconds(const char *text, double max, double *out)
{
    char *end;
    if (!((text[0] >= '0' && text[0] <= '9') || text[0] == '.'))
        return 0;
    errno = 0;
    double v = strtod(text, &end);
    if (errno != 0 || *end != '\0' || !isfinite(v) || v < 0 || v > max)
        return 0;
    *out = v;
    return 1;
}

/* ---- time ------------------------------------------------------------------------------- */

/* Writes the local civil time local_ms (epoch ms shifted by the zone) as HJ 212 digits:
 * yyyyMMddHHmmss, and the three millisecond digits too when ms17 (QN) or when they are not 0. */
static void format_digits(int64_t local_ms, int ms17, char out[18])
{
    int64_t days = cal_floor_div(local_ms, DAY_MS);
    int64_t in_day = local_ms - days * DAY_MS;
    int64_t year;
    unsigned month, day;
    cal_civil_from_days(days, &year, &month, &day);
    int ms = (int)(in_day % 1000);
    int sec = (int)(in_day / 1000);
    char tmp[64]; /* room for any year the compiler can imagine; real ones have 4 digits */
    snprintf(tmp, sizeof tmp, "%04lld%02u%02u%02d%02d%02d%03d", (long long)year, month, day,
             sec / 3600, sec / 60 % 60, sec % 60, ms);
    size_t n = strlen(tmp) - (ms17 || ms != 0 ? 0 : 3);
    if (n > 17)
        n = 17;
    memcpy(out, tmp, n);
    out[n] = '\0';
}

static int digits_value(const char *s, size_t n)
{
    int v = 0;
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

/* Reads 14 or 17 digits (a DataTime as loggers send it) into local epoch ms. Returns 0, or -1
 * when the text is not such digits or not a real date and time. */
static int parse_digits(const char *s, size_t n, int64_t *local_ms)
{
    if (n != 14 && n != 17)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return -1;
    int year = digits_value(s, 4), month = digits_value(s + 4, 2), day = digits_value(s + 6, 2);
    int hour = digits_value(s + 8, 2), minute = digits_value(s + 10, 2);
    int second = digits_value(s + 12, 2), ms = n == 17 ? digits_value(s + 14, 3) : 0;
    if (month < 1 || month > 12 || day < 1 || day > cal_days_in_month(year, month) || hour > 23 ||
        minute > 59 || second > 59)
        return -1;
    *local_ms = cal_days_from_civil(year, (unsigned)month, (unsigned)day) * DAY_MS +
                ((int64_t)hour * 3600 + minute * 60 + second) * 1000 + ms;
    return 0;
}

/* ---- messages --------------------------------------------------------------------------- */

/* One value of a replayed message. */
typedef struct hs_item {
    char code[HJ_CODE_MAX + 1];
    char value[44]; /* decimal text as sent */
    char flag;      /* letter, or 0: no -Flag item */
} hs_item;

/* One replayed message: a station's readings at one time. */
typedef struct hs_rmsg {
    uint32_t station;
    int64_t local_ms;
    size_t order; /* position of its first row in the file, to keep sorting stable */
    size_t item_first, item_count;
} hs_rmsg;

typedef struct hs_code {
    char code[HJ_CODE_MAX + 1];
    int64_t base; /* start of the walk, in units of 10^-decimals */
    int decimals; /* digits after the point */
} hs_code;

typedef struct hs_station {
    char mn[HJ_FIELD_MAX + 1];
    uint64_t next;  /* index of its next message */
    uint64_t total; /* its messages; UINT64_MAX in --duration mode */
    int64_t due_ns; /* when the next may go (--interval) */
    int64_t last_qn_ms;
    uint64_t rng;
    uint64_t values; /* values generated so far, for --flag-every */
    int64_t *walk;   /* per code, the walk's current value in units (generated mode) */
    size_t first;    /* replay: index of its first message */
} hs_station;

typedef struct hs_slot {
    int used;
    uint32_t station;
    char qn[18];
    char datatime[18];
    size_t readings;
    unsigned long tries; /* transmissions so far */
    int64_t deadline_ns;
    jl_buf frame;
} hs_slot;

enum { CONN_DOWN, CONN_CONNECTING, CONN_UP, CONN_DEAD };

typedef struct hs_conn {
    int fd;
    int state;
    uint32_t *stations;
    size_t station_count;
    size_t rr; /* round-robin position among its stations */
    hs_slot *slots;
    size_t inflight;
    jl_buf out;
    size_t out_off;
    uint32_t events; /* epoll interest registered */
    hj_framer framer;
    int64_t reconnect_ns;
    int64_t connect_ns;    /* when the pending connect() began */
    int64_t down_since_ns; /* 0 while up */
    int backoff_ms;
} hs_conn;

typedef struct hs_sim {
    hs_options opt;
    struct sockaddr_storage addr;
    socklen_t addr_len;
    int epfd;
    hs_code *codes;
    size_t code_count;
    hs_station *stations;
    size_t station_count;
    hs_conn *conns;
    size_t conn_count;
    hs_rmsg *rmsgs;
    size_t rmsg_count;
    hs_item *items;
    size_t item_count;
    size_t last_station; /* replay loading: the station of the previous row */
    int64_t step_ms;
    int64_t interval_ns;
    int64_t timeout_ns;
    int64_t giveup_ns;
    int64_t start_ns;
    int64_t end_ns; /* --duration: no new message after this; INT64_MAX otherwise */
    const char *value_key;
    FILE *acked_log;
    hj_segment *reply; /* parse space for one reply (large, so on the heap) */
    jl_buf segment;    /* scratch for the message being built */
    uint64_t sent, acked, lost, retried, acked_readings, stray;
    int failed; /* a message could not be built: stop */
    char failure[JL_ERROR_MESSAGE_MAX];
} hs_sim;

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* Start and resolution of the walk of a code: typical urban levels, CO in mg/m3 with three
 * decimals, the other air pollutants in ug/m3 with one. */
static void code_defaults(hs_code *c)
{
    static const struct {
        const char *code;
        int64_t base;
        int decimals;
    } table[] = {{"a34004", 350, 1}, {"a34002", 700, 1}, {"a21026", 100, 1},
                 {"a21004", 300, 1}, {"a21005", 800, 3}, {"a05024", 600, 1}};
    c->base = 500;
    c->decimals = 1;
    for (size_t i = 0; i < sizeof table / sizeof *table; i++)
        if (strcmp(table[i].code, c->code) == 0) {
            c->base = table[i].base;
            c->decimals = table[i].decimals;
        }
}

static int code_valid(const char *s, size_t n)
{
    if (n == 0 || n > HJ_CODE_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'z') ||
              (s[i] >= 'A' && s[i] <= 'Z')))
            return 0;
    return 1;
}

/* An MN, PW or ST must not hold the separators of the data segment. */
static int field_valid(const char *s, size_t n)
{
    if (n == 0 || n > HJ_FIELD_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] <= ' ' || s[i] == ';' || s[i] == ',' || s[i] == '=' || s[i] == '&' ||
            (unsigned char)s[i] >= 0x7f)
            return 0;
    return 1;
}

/* HJ 212's strict decimal, as hj_segment_parse() reads it: [+-]digits[.digits]. */
static int decimal_valid(const char *v, size_t n)
{
    size_t i = 0, digits = 0;
    if (i < n && (v[i] == '+' || v[i] == '-'))
        i++;
    while (i < n && v[i] >= '0' && v[i] <= '9')
        i++, digits++;
    if (i < n && v[i] == '.') {
        i++;
        while (i < n && v[i] >= '0' && v[i] <= '9')
            i++, digits++;
    }
    return i == n && digits > 0 && n <= 40;
}

/* Appends the next message of station s to sim->segment and fills the slot's QN, DataTime and
 * readings. Returns JL_OK or JL_ENOMEM. */
static int build_message(hs_sim *sim, uint32_t s, hs_slot *slot)
{
    hs_station *st = &sim->stations[s];
    jl_buf *seg = &sim->segment;
    int64_t local_ms;
    const hs_rmsg *rm = NULL;
    if (sim->rmsgs) {
        rm = &sim->rmsgs[st->first + st->next];
        local_ms = rm->local_ms;
    } else {
        local_ms = sim->opt.start_ms + sim->opt.tz_ms + (int64_t)st->next * sim->step_ms;
    }
    /* QN is the DataTime to the millisecond, made unique per station by counting on from the
     * previous QN when two messages share a time (a --step of 0). */
    int64_t qn_ms = local_ms > st->last_qn_ms ? local_ms : st->last_qn_ms + 1;
    st->last_qn_ms = qn_ms;
    format_digits(qn_ms, 1, slot->qn);
    format_digits(local_ms, 0, slot->datatime);

    seg->len = 0;
    int rc = jl_buf_printf(seg, "QN=%s;ST=%s;CN=%s;PW=%s;MN=%s;Flag=5;CP=&&DataTime=%s", slot->qn,
                           sim->opt.st, sim->opt.cn, sim->opt.pw, st->mn, slot->datatime);
    if (rm) {
        for (size_t i = 0; rc == JL_OK && i < rm->item_count; i++) {
            const hs_item *it = &sim->items[rm->item_first + i];
            rc = jl_buf_printf(seg, ";%s-%s=%s", it->code, sim->value_key, it->value);
            if (rc == JL_OK && it->flag)
                rc = jl_buf_printf(seg, ",%s-Flag=%c", it->code, it->flag);
        }
        slot->readings = rm->item_count;
    } else {
        for (size_t i = 0; rc == JL_OK && i < sim->code_count; i++) {
            const hs_code *c = &sim->codes[i];
            /* a walk of -10..+10 units a step, reflected at 0 (concentrations are not negative) */
            int64_t v = st->walk[i] + (int64_t)(splitmix64(&st->rng) % 21) - 10;
            if (v < 0)
                v = -v;
            st->walk[i] = v;
            st->values++;
            char flag = sim->opt.flag_every && st->values % sim->opt.flag_every == 0 ? 'M' : 'N';
            int64_t scale = 1;
            for (int d = 0; d < c->decimals; d++)
                scale *= 10;
            rc = jl_buf_printf(seg, ";%s-%s=%lld.%0*lld,%s-Flag=%c", c->code, sim->value_key,
                               (long long)(v / scale), c->decimals, (long long)(v % scale), c->code,
                               flag);
        }
        slot->readings = sim->code_count;
    }
    if (rc == JL_OK)
        rc = jl_buf_append_str(seg, "&&");
    return rc;
}

/* ---- replay files ----------------------------------------------------------------------- */

static int station_index(hs_sim *sim, const char *mn, size_t n, size_t *cap, uint32_t *out)
{
    /* a linear search per row is fine for the thousands of stations a file names; remember the
     * last hit, as rows of one station usually come together */
    size_t last = sim->last_station;
    if (last < sim->station_count && strlen(sim->stations[last].mn) == n &&
        memcmp(sim->stations[last].mn, mn, n) == 0) {
        *out = (uint32_t)last;
        return JL_OK;
    }
    for (size_t i = 0; i < sim->station_count; i++)
        if (strlen(sim->stations[i].mn) == n && memcmp(sim->stations[i].mn, mn, n) == 0) {
            sim->last_station = i;
            *out = (uint32_t)i;
            return JL_OK;
        }
    hs_station *grown =
        jl_array_grow(sim->stations, cap, sim->station_count + 1, sizeof *sim->stations, 64);
    if (!grown)
        return JL_ENOMEM;
    sim->stations = grown;
    memset(&sim->stations[sim->station_count], 0, sizeof *sim->stations);
    memcpy(sim->stations[sim->station_count].mn, mn, n);
    sim->stations[sim->station_count].mn[n] = '\0';
    sim->last_station = sim->station_count;
    *out = (uint32_t)sim->station_count++;
    return JL_OK;
}

/* A replay row before grouping. */
typedef struct hs_row {
    uint32_t station;
    int64_t local_ms;
    size_t order;
    hs_item item;
} hs_row;

static int row_cmp(const void *a, const void *b)
{
    const hs_row *x = a, *y = b;
    if (x->station != y->station)
        return x->station < y->station ? -1 : 1;
    if (x->local_ms != y->local_ms)
        return x->local_ms < y->local_ms ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

static void trim(const char **s, size_t *n)
{
    while (*n > 0 && ((*s)[0] == ' ' || (*s)[0] == '\t')) {
        (*s)++;
        (*n)--;
    }
    while (*n > 0 && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t' || (*s)[*n - 1] == '\r' ||
                      (*s)[*n - 1] == '\n'))
        (*n)--;
}

/* Reads a time of a CSV row: 14 or 17 digits are a local DataTime as sent; otherwise RFC 3339 or
 * epoch ms, an instant turned into local time at --tz. */
static int row_time(const hs_sim *sim, const char *s, size_t n, int64_t *local_ms, jl_error *err)
{
    if (parse_digits(s, n, local_ms) == 0)
        return JL_OK;
    int64_t ms;
    if (cv_parse_time_ms(s, n, &ms, err) != JL_OK)
        return JL_EINVAL;
    *local_ms = ms + sim->opt.tz_ms;
    return JL_OK;
}

static int add_row(hs_row **rows, size_t *count, size_t *cap, const hs_row *row)
{
    hs_row *grown = jl_array_grow(*rows, cap, *count + 1, sizeof **rows, 1024);
    if (!grown)
        return JL_ENOMEM;
    *rows = grown;
    (*rows)[(*count)++] = *row;
    return JL_OK;
}

static int parse_csv(hs_sim *sim, const char *text, size_t len, hs_row **rows, size_t *count,
                     size_t *row_cap, size_t *station_cap, jl_error *err)
{
    long line_no = 0;
    size_t pos = 0;
    while (pos < len) {
        const char *line = text + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - line) : len - pos;
        pos += n + (nl != NULL);
        line_no++;
        trim(&line, &n);
        if (n == 0 || line[0] == '#')
            continue;
        if (n >= 3 && memcmp(line, "mn,", 3) == 0)
            continue; /* the header */
        const char *f[5];
        size_t fl[5];
        size_t nf = 0;
        const char *p = line, *end = line + n;
        while (nf < 5) {
            const char *comma = memchr(p, ',', (size_t)(end - p));
            f[nf] = p;
            fl[nf] = comma ? (size_t)(comma - p) : (size_t)(end - p);
            trim(&f[nf], &fl[nf]);
            nf++;
            if (!comma)
                break;
            p = comma + 1;
            if (nf == 5)
                return jl_error_set(err, JL_EINVAL, "line %ld: more than 5 fields", line_no);
        }
        if (nf < 4)
            return jl_error_set(err, JL_EINVAL, "line %ld: expected mn,datatime,code,value,flag",
                                line_no);
        hs_row row;
        memset(&row, 0, sizeof row);
        if (!field_valid(f[0], fl[0]))
            return jl_error_set(err, JL_EINVAL, "line %ld: bad mn", line_no);
        if (row_time(sim, f[1], fl[1], &row.local_ms, err) != JL_OK)
            return jl_error_set(err, JL_EINVAL, "line %ld: bad datatime: %s", line_no,
                                err->message);
        if (!code_valid(f[2], fl[2]))
            return jl_error_set(err, JL_EINVAL, "line %ld: bad code", line_no);
        if (!decimal_valid(f[3], fl[3]))
            return jl_error_set(err, JL_EINVAL, "line %ld: value is not a plain decimal", line_no);
        if (nf == 5 && fl[4] > 0) {
            if (fl[4] != 1 || jl_flag_from_letter(f[4][0]) < 0)
                return jl_error_set(err, JL_EINVAL, "line %ld: flag is not one of NFMSDCTB",
                                    line_no);
            row.item.flag = f[4][0];
        }
        memcpy(row.item.code, f[2], fl[2]);
        memcpy(row.item.value, f[3], fl[3]);
        if (station_index(sim, f[0], fl[0], station_cap, &row.station) != JL_OK)
            return jl_error_set(err, JL_ENOMEM, "out of memory");
        row.order = *count;
        if (add_row(rows, count, row_cap, &row) != JL_OK)
            return jl_error_set(err, JL_ENOMEM, "out of memory");
    }
    return JL_OK;
}

/* The pollutant code of a metric: the 2017 code of a built-in name, or <code> of hj212_<code>. */
static int code_for_metric(const char *metric, size_t n, char out[HJ_CODE_MAX + 1])
{
    static const char *const codes[] = {"a34004", "a34002", "a21026", "a21004", "a21005", "a05024",
                                        "w21003", "w01018", "w01019", "w21011", "w21001", "w01009",
                                        "w01001", "w01010", "w01014", "w01003", "B01"};
    for (size_t i = 0; i < sizeof codes / sizeof *codes; i++) {
        const char *m = hj_metric_for_code(codes[i]);
        if (m && strlen(m) == n && memcmp(m, metric, n) == 0) {
            strcpy(out, codes[i]);
            return 1;
        }
    }
    if (n > 6 && memcmp(metric, "hj212_", 6) == 0 && code_valid(metric + 6, n - 6)) {
        memcpy(out, metric + 6, n - 6);
        out[n - 6] = '\0';
        return 1;
    }
    return 0;
}

/* The shortest fixed-point text (no exponent: HJ 212 has none) that reads back as v. */
static int format_value(double v, char out[44])
{
    for (int decimals = 0; decimals <= 30; decimals++) {
        int n = snprintf(out, 44, "%.*f", decimals, v);
        if (n > 0 && n <= 40 && strtod(out, NULL) == v)
            return 0;
    }
    return -1;
}

static int parse_lp(hs_sim *sim, const char *text, size_t len, hs_row **rows, size_t *count,
                    size_t *row_cap, size_t *station_cap, jl_error *err)
{
    st_batch batch;
    st_batch_init(&batch);
    int rc = ig_parse_line_protocol(text, len, sim->opt.precision, jl_now_ms(), &batch, err);
    for (size_t i = 0; rc == JL_OK && i < st_batch_point_count(&batch); i++) {
        size_t klen;
        const char *key = st_batch_series_key(&batch, st_batch_point_series(&batch, i), &klen);
        sk_parsed parsed;
        if (sk_parse(key, klen, &parsed, err) != JL_OK) {
            rc = JL_EINVAL;
            break;
        }
        hs_row row;
        memset(&row, 0, sizeof row);
        const sk_tag *mn = NULL;
        for (size_t t = 0; t < parsed.tag_count; t++)
            if (parsed.tags[t].key.len == 2 && memcmp(parsed.tags[t].key.data, "mn", 2) == 0)
                mn = &parsed.tags[t];
        if (!mn || !field_valid(mn->value.data, mn->value.len))
            rc = jl_error_set(err, JL_EINVAL, "series %.*s: no usable tag mn", (int)klen, key);
        else if (!code_for_metric(parsed.metric.data, parsed.metric.len, row.item.code))
            rc = jl_error_set(err, JL_EINVAL,
                              "series %.*s: the metric is no HJ 212 pollutant (pm25, ..., or "
                              "hj212_<code>)",
                              (int)klen, key);
        else if (format_value(st_batch_point_value(&batch, i), row.item.value) != 0)
            rc = jl_error_set(err, JL_EINVAL, "series %.*s: a value HJ 212 cannot write", (int)klen,
                              key);
        else if (station_index(sim, mn->value.data, mn->value.len, station_cap, &row.station) !=
                 JL_OK)
            rc = jl_error_set(err, JL_ENOMEM, "out of memory");
        sk_parsed_destroy(&parsed);
        if (rc != JL_OK)
            break;
        row.item.flag = jl_flag_letter(st_batch_point_flag(&batch, i));
        row.local_ms = st_batch_point_ms(&batch, i) + sim->opt.tz_ms;
        row.order = *count;
        if (add_row(rows, count, row_cap, &row) != JL_OK)
            rc = jl_error_set(err, JL_ENOMEM, "out of memory");
    }
    st_batch_destroy(&batch);
    return rc;
}

/* Loads --replay: stations in order of first appearance, one message per (mn, time). */
static int load_replay(hs_sim *sim, jl_error *err)
{
    const char *path = sim->opt.replay;
    jl_buf text;
    int rc = jl_read_file(path, "replay", SIZE_MAX, &text, err);
    if (rc != JL_OK)
        return rc;

    /* CSV when the first line that is not blank is the header, or the name says so. */
    const char *t = text.data ? text.data : "";
    size_t k = 0;
    while (k < text.len && (t[k] == ' ' || t[k] == '\t' || t[k] == '\r' || t[k] == '\n'))
        k++;
    size_t plen = strlen(path);
    int csv = (text.len - k >= 3 && memcmp(t + k, "mn,", 3) == 0) ||
              (plen > 4 && strcmp(path + plen - 4, ".csv") == 0);

    hs_row *rows = NULL;
    size_t count = 0, row_cap = 0, station_cap = 0;
    rc = csv ? parse_csv(sim, t, text.len, &rows, &count, &row_cap, &station_cap, err)
             : parse_lp(sim, t, text.len, &rows, &count, &row_cap, &station_cap, err);
    jl_buf_destroy(&text);
    if (rc == JL_OK && count == 0)
        rc = jl_error_set(err, JL_EINVAL, "no readings");
    if (rc != JL_OK) {
        free(rows);
        char message[JL_ERROR_MESSAGE_MAX];
        snprintf(message, sizeof message, "%s", err->message);
        return jl_error_set(err, rc, "%s: %s", path, message);
    }
    qsort(rows, count, sizeof *rows, row_cmp);

    sim->items = malloc(count * sizeof *sim->items);
    sim->rmsgs = malloc(count * sizeof *sim->rmsgs);
    if (!sim->items || !sim->rmsgs) {
        free(rows);
        return jl_error_set(err, JL_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < count; i++) {
        sim->items[i] = rows[i].item;
        if (i == 0 || rows[i].station != rows[i - 1].station ||
            rows[i].local_ms != rows[i - 1].local_ms) {
            hs_rmsg *m = &sim->rmsgs[sim->rmsg_count++];
            m->station = rows[i].station;
            m->local_ms = rows[i].local_ms;
            m->order = rows[i].order;
            m->item_first = i;
            m->item_count = 0;
            hs_station *st = &sim->stations[rows[i].station];
            if (st->total == 0)
                st->first = sim->rmsg_count - 1;
            st->total++;
        }
        sim->rmsgs[sim->rmsg_count - 1].item_count++;
    }
    sim->item_count = count;
    free(rows);
    return JL_OK;
}

/* Refuses a replay whose message would not fit HJ 212's 1024-byte data segment before anything
 * is sent, by adding up what build_message() writes. */
static int replay_check_sizes(const hs_sim *sim, jl_error *err)
{
    size_t fixed = strlen("QN=;ST=;CN=;PW=;MN=;Flag=5;CP=&&DataTime=&&") + 17 +
                   strlen(sim->opt.st) + strlen(sim->opt.cn) + strlen(sim->opt.pw);
    for (size_t m = 0; m < sim->rmsg_count; m++) {
        const hs_rmsg *rm = &sim->rmsgs[m];
        char datatime[18];
        format_digits(rm->local_ms, 0, datatime);
        size_t len = fixed + strlen(sim->stations[rm->station].mn) + strlen(datatime);
        for (size_t i = 0; i < rm->item_count; i++) {
            const hs_item *it = &sim->items[rm->item_first + i];
            len += strlen(";-=") + strlen(it->code) + strlen(sim->value_key) + strlen(it->value);
            if (it->flag)
                len += strlen(",-Flag=X") + strlen(it->code);
        }
        if (len > HJ_SEGMENT_MAX)
            return jl_error_set(err, JL_EINVAL,
                                "%s: the message of %s at %s would be %zu bytes, over HJ 212's "
                                "%d: send fewer codes per time",
                                sim->opt.replay, sim->stations[rm->station].mn, datatime, len,
                                HJ_SEGMENT_MAX);
    }
    return JL_OK;
}

/* ---- connections ------------------------------------------------------------------------ */

static void set_events(hs_sim *sim, hs_conn *c, uint32_t events)
{
    if (c->fd < 0 || c->events == events)
        return;
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = events;
    ev.data.ptr = c;
    if (epoll_ctl(sim->epfd, EPOLL_CTL_MOD, c->fd, &ev) == 0)
        c->events = events;
}

/* The connection broke (or never came up): messages in flight can no longer be answered, so they
 * are due for a re-send as soon as it is back. */
static void conn_down(hs_sim *sim, hs_conn *c, int64_t now)
{
    (void)sim;
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->state = CONN_DOWN;
    c->events = 0;
    c->out.len = 0;
    c->out_off = 0;
    hj_framer_init(&c->framer);
    if (c->down_since_ns == 0)
        c->down_since_ns = now;
    c->reconnect_ns = now + (int64_t)c->backoff_ms * 1000000;
    c->backoff_ms = c->backoff_ms * 2 > RECONNECT_MAX_MS ? RECONNECT_MAX_MS : c->backoff_ms * 2;
    for (size_t i = 0; i < sim->opt.window; i++)
        if (c->slots[i].used)
            c->slots[i].deadline_ns = now;
}

static void conn_start(hs_sim *sim, hs_conn *c, int64_t now)
{
    int fd = socket(sim->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        conn_down(sim, c, now);
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->fd = fd;
    int rc = connect(fd, (struct sockaddr *)&sim->addr, sim->addr_len);
    if (rc != 0 && errno != EINPROGRESS) {
        conn_down(sim, c, now);
        return;
    }
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLOUT;
    ev.data.ptr = c;
    if (epoll_ctl(sim->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
        conn_down(sim, c, now);
        return;
    }
    c->events = EPOLLOUT;
    c->state = CONN_CONNECTING;
    c->connect_ns = now;
}

static void flush(hs_sim *sim, hs_conn *c, int64_t now)
{
    while (c->state == CONN_UP && c->out_off < c->out.len) {
        ssize_t n = send(c->fd, c->out.data + c->out_off, c->out.len - c->out_off,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            c->out_off += (size_t)n;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            set_events(sim, c, EPOLLIN | EPOLLOUT);
            return;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else {
            conn_down(sim, c, now);
            return;
        }
    }
    if (c->state == CONN_UP) {
        c->out.len = 0;
        c->out_off = 0;
        set_events(sim, c, EPOLLIN);
    }
}

static void fail(hs_sim *sim, const char *message)
{
    if (!sim->failed)
        snprintf(sim->failure, sizeof sim->failure, "%s", message);
    sim->failed = 1;
}

static int station_has_more(const hs_sim *sim, const hs_station *st, int64_t now)
{
    return st->next < st->total && now < sim->end_ns;
}

/* Sends the due messages of c's stations while its window has room. */
static void fill(hs_sim *sim, hs_conn *c, int64_t now)
{
    while (c->state == CONN_UP && c->inflight < sim->opt.window && !sim->failed) {
        uint32_t pick = UINT32_MAX;
        for (size_t k = 0; k < c->station_count; k++) {
            uint32_t s = c->stations[(c->rr + k) % c->station_count];
            hs_station *st = &sim->stations[s];
            if (station_has_more(sim, st, now) && st->due_ns <= now) {
                pick = s;
                c->rr = (c->rr + k + 1) % c->station_count;
                break;
            }
        }
        if (pick == UINT32_MAX)
            return;
        hs_slot *slot = NULL;
        for (size_t i = 0; i < sim->opt.window; i++)
            if (!c->slots[i].used) {
                slot = &c->slots[i];
                break;
            }
        hs_station *st = &sim->stations[pick];
        slot->frame.len = 0;
        int rc = build_message(sim, pick, slot);
        if (rc == JL_OK)
            rc = hj_frame_encode(sim->segment.data, sim->segment.len, &slot->frame);
        if (rc != JL_OK) {
            char message[256];
            snprintf(message, sizeof message,
                     rc == JL_EINVAL ? "station %s: a message of %zu bytes is over HJ 212's "
                                       "1024 (send fewer codes)"
                                     : "station %s: out of memory (%zu bytes)",
                     st->mn, sim->segment.len);
            fail(sim, message);
            return;
        }
        st->next++;
        st->due_ns = sim->interval_ns > 0 ? st->due_ns + sim->interval_ns : now;
        slot->used = 1;
        slot->station = pick;
        slot->tries = 1;
        slot->deadline_ns = now + sim->timeout_ns;
        c->inflight++;
        sim->sent++;
        if (jl_buf_append(&c->out, slot->frame.data, slot->frame.len) != JL_OK) {
            fail(sim, "out of memory");
            return;
        }
    }
}

typedef struct hs_reply_ctx {
    hs_sim *sim;
    hs_conn *conn;
} hs_reply_ctx;

static void on_reply(void *ctx, const char *segment, size_t len)
{
    hs_reply_ctx *rctx = ctx;
    hs_sim *sim = rctx->sim;
    hs_conn *c = rctx->conn;
    jl_error err;
    if (hj_segment_parse(segment, len, sim->reply, &err) != JL_OK ||
        strcmp(sim->reply->cn, "9014") != 0) {
        sim->stray++;
        return;
    }
    for (size_t i = 0; i < sim->opt.window; i++) {
        hs_slot *slot = &c->slots[i];
        if (slot->used && strcmp(slot->qn, sim->reply->qn) == 0 &&
            strcmp(sim->stations[slot->station].mn, sim->reply->mn) == 0) {
            slot->used = 0;
            c->inflight--;
            sim->acked++;
            sim->acked_readings += slot->readings;
            if (sim->acked_log)
                fprintf(sim->acked_log, "%s,%s\n", sim->stations[slot->station].mn, slot->datatime);
            return;
        }
    }
    sim->stray++; /* e.g. a second reply to a message re-sent after a slow first one */
}

static void on_readable(hs_sim *sim, hs_conn *c, int64_t now)
{
    char buf[65536];
    hs_reply_ctx ctx = {sim, c};
    for (;;) {
        ssize_t n = recv(c->fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n > 0) {
            hj_framer_feed(&c->framer, buf, (size_t)n, on_reply, &ctx);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        conn_down(sim, c, now); /* closed by the server, or reset */
        return;
    }
}

/* What time decides for one connection: reconnecting, giving up, timeouts and paced sends. */
static void sweep_conn(hs_sim *sim, hs_conn *c, int64_t now)
{
    if (c->state == CONN_DEAD)
        return;
    if (c->state == CONN_DOWN) {
        int anything = c->inflight > 0;
        for (size_t k = 0; !anything && k < c->station_count; k++)
            anything = station_has_more(sim, &sim->stations[c->stations[k]], now);
        if (!anything) {
            c->state = CONN_DEAD;
            return;
        }
        if (c->down_since_ns != 0 && now - c->down_since_ns > sim->giveup_ns) {
            /* the server stayed away longer than all re-sends of a message would wait: what
             * is left of these stations is lost */
            for (size_t i = 0; i < sim->opt.window; i++)
                if (c->slots[i].used) {
                    c->slots[i].used = 0;
                    sim->lost++;
                }
            c->inflight = 0;
            for (size_t k = 0; k < c->station_count; k++) {
                hs_station *st = &sim->stations[c->stations[k]];
                if (st->total != UINT64_MAX)
                    sim->lost += st->total - st->next;
                st->next = st->total;
            }
            c->state = CONN_DEAD;
            return;
        }
        if (now >= c->reconnect_ns)
            conn_start(sim, c, now);
        return;
    }
    if (c->state == CONN_CONNECTING && now - c->connect_ns > sim->timeout_ns) {
        conn_down(sim, c, now); /* a host that does not answer at all */
        return;
    }
    if (c->state != CONN_UP)
        return;
    for (size_t i = 0; i < sim->opt.window; i++) {
        hs_slot *slot = &c->slots[i];
        if (!slot->used || slot->deadline_ns > now)
            continue;
        if (slot->tries <= sim->opt.retries) {
            slot->tries++;
            slot->deadline_ns = now + sim->timeout_ns;
            sim->retried++;
            if (jl_buf_append(&c->out, slot->frame.data, slot->frame.len) != JL_OK)
                fail(sim, "out of memory");
        } else {
            slot->used = 0;
            c->inflight--;
            sim->lost++;
        }
    }
    fill(sim, c, now);
    flush(sim, c, now);
}

static int conn_finished(const hs_sim *sim, const hs_conn *c, int64_t now)
{
    if (c->state == CONN_DEAD)
        return 1;
    if (c->inflight > 0)
        return 0;
    for (size_t k = 0; k < c->station_count; k++)
        if (station_has_more(sim, &sim->stations[c->stations[k]], now))
            return 0;
    return 1;
}

static int resolve(hs_sim *sim, jl_error *err)
{
    const char *to = sim->opt.to;
    const char *colon = strrchr(to, ':');
    if (!colon || colon == to || colon[1] == '\0')
        return jl_error_set(err, JL_EINVAL, "--to: expected HOST:PORT, not \"%s\"", to);
    char host[256];
    size_t hlen = (size_t)(colon - to);
    if (hlen >= sizeof host)
        return jl_error_set(err, JL_EINVAL, "--to: host too long");
    memcpy(host, to, hlen);
    host[hlen] = '\0';
    if (host[0] == '[' && hlen > 2 && host[hlen - 1] == ']') {
        memmove(host, host + 1, hlen - 2);
        host[hlen - 2] = '\0';
    }
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo(host, colon + 1, &hints, &res);
    if (rc != 0 || !res)
        return jl_error_set(err, JL_EINVAL, "--to %s: %s", to, gai_strerror(rc));
    memcpy(&sim->addr, res->ai_addr, res->ai_addrlen);
    sim->addr_len = res->ai_addrlen;
    freeaddrinfo(res);
    return JL_OK;
}

/* Raises the open-file limit to what the connections need, as far as the hard limit allows. */
static int raise_nofile(size_t need, jl_error *err)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return JL_OK;
    rlim_t want = (rlim_t)need + 64;
    if (rl.rlim_cur >= want)
        return JL_OK;
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want)
        return jl_error_set(err, JL_ELIMIT,
                            "%zu connections need %llu open files, the limit is %llu", need,
                            (unsigned long long)want, (unsigned long long)rl.rlim_max);
    rl.rlim_cur = want;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
        return jl_error_set(err, JL_ELIMIT, "cannot raise the open-file limit: %s",
                            strerror(errno));
    return JL_OK;
}

static int setup(hs_sim *sim, jl_error *err)
{
    hs_options *o = &sim->opt;
    if (resolve(sim, err) != JL_OK)
        return JL_EINVAL;
    sim->value_key = strcmp(o->cn, "2011") == 0 ? "Rtd" : "Avg";
    if (o->replay) {
        if (load_replay(sim, err) != JL_OK || replay_check_sizes(sim, err) != JL_OK)
            return err->code;
    } else {
        /* codes */
        const char *p = o->codes;
        for (;;) {
            const char *comma = strchr(p, ',');
            size_t n = comma ? (size_t)(comma - p) : strlen(p);
            if (!code_valid(p, n))
                return jl_error_set(err, JL_EINVAL, "--codes: \"%.*s\" is not a code", (int)n, p);
            hs_code *grown = realloc(sim->codes, (sim->code_count + 1) * sizeof *sim->codes);
            if (!grown)
                return jl_error_set(err, JL_ENOMEM, "out of memory");
            sim->codes = grown;
            hs_code *c = &sim->codes[sim->code_count++];
            memcpy(c->code, p, n);
            c->code[n] = '\0';
            code_defaults(c);
            if (!comma)
                break;
            p = comma + 1;
        }
        size_t plen = strlen(o->mn_prefix);
        char digits[24];
        int dn = snprintf(digits, sizeof digits, "%lu", o->stations);
        int width = plen + (size_t)dn >= MN_WIDTH ? dn : (int)(MN_WIDTH - plen);
        if (plen + (size_t)width > HJ_FIELD_MAX)
            return jl_error_set(err, JL_EINVAL, "--mn-prefix: MNs would be over %d characters",
                                HJ_FIELD_MAX);
        sim->station_count = o->stations;
        sim->stations = calloc(sim->station_count, sizeof *sim->stations);
        if (!sim->stations)
            return jl_error_set(err, JL_ENOMEM, "out of memory");
        for (size_t s = 0; s < sim->station_count; s++) {
            hs_station *st = &sim->stations[s];
            snprintf(st->mn, sizeof st->mn, "%s%0*zu", o->mn_prefix, width, s + 1);
            st->total = o->count ? o->count : UINT64_MAX;
            st->rng = o->seed ^ (0x9E3779B97F4A7C15ULL * (uint64_t)(s + 1));
            st->walk = malloc(sim->code_count * sizeof *st->walk);
            if (!st->walk)
                return jl_error_set(err, JL_ENOMEM, "out of memory");
            for (size_t i = 0; i < sim->code_count; i++)
                st->walk[i] = sim->codes[i].base;
        }
        double step = o->step_s >= 0               ? o->step_s
                      : o->interval_s > 0          ? o->interval_s
                      : strcmp(o->cn, "2011") == 0 ? 30
                      : strcmp(o->cn, "2051") == 0 ? 60
                                                   : 3600;
        sim->step_ms = (int64_t)llround(step * 1000);
        if (!o->has_start)
            o->start_ms = jl_now_ms() / 1000 * 1000;
    }
    for (size_t s = 0; s < sim->station_count; s++)
        sim->stations[s].last_qn_ms = INT64_MIN;

    size_t conns = o->connections                                 ? o->connections
                   : sim->station_count < DEFAULT_CONNECTIONS_MAX ? sim->station_count
                                                                  : DEFAULT_CONNECTIONS_MAX;
    if (conns > sim->station_count)
        conns = sim->station_count;
    if (raise_nofile(conns, err) != JL_OK)
        return err->code;
    sim->conn_count = conns;
    sim->conns = calloc(conns, sizeof *sim->conns);
    if (!sim->conns)
        return jl_error_set(err, JL_ENOMEM, "out of memory");
    for (size_t i = 0; i < conns; i++) {
        hs_conn *c = &sim->conns[i];
        c->fd = -1;
        c->state = CONN_DOWN;
        c->backoff_ms = RECONNECT_MIN_MS;
        c->station_count = sim->station_count / conns + (i < sim->station_count % conns);
        c->stations = malloc(c->station_count * sizeof *c->stations);
        c->slots = calloc(o->window, sizeof *c->slots);
        if (!c->stations || !c->slots)
            return jl_error_set(err, JL_ENOMEM, "out of memory");
        hj_framer_init(&c->framer);
    }
    size_t *fillc = calloc(conns, sizeof *fillc);
    if (!fillc)
        return jl_error_set(err, JL_ENOMEM, "out of memory");
    for (size_t s = 0; s < sim->station_count; s++) {
        hs_conn *c = &sim->conns[s % conns];
        c->stations[fillc[s % conns]++] = (uint32_t)s;
    }
    free(fillc);

    sim->reply = malloc(sizeof *sim->reply);
    if (!sim->reply)
        return jl_error_set(err, JL_ENOMEM, "out of memory");
    sim->interval_ns = (int64_t)llround(o->interval_s * 1e9);
    sim->timeout_ns = (int64_t)llround(o->timeout_s * 1e9);
    if (sim->timeout_ns < 1000000)
        sim->timeout_ns = 1000000;
    sim->giveup_ns = sim->timeout_ns * (int64_t)(o->retries + 1);
    if (o->acked_log) {
        sim->acked_log = fopen(o->acked_log, "w");
        if (!sim->acked_log)
            return jl_error_set(err, JL_EIO, "--acked-log %s: %s", o->acked_log, strerror(errno));
        /* line by line, so that a test watching the file sees acknowledgements as they come */
        setvbuf(sim->acked_log, NULL, _IOLBF, 0);
    }
    sim->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (sim->epfd < 0)
        return jl_error_set(err, JL_EIO, "epoll: %s", strerror(errno));
    return JL_OK;
}

/* Set by SIGINT or SIGTERM: the run stops where it is and still reports. */
static volatile sig_atomic_t hs_interrupted;

static void on_signal(int sig)
{
    (void)sig;
    hs_interrupted = 1;
}

static void run(hs_sim *sim)
{
    int64_t now = jl_monotonic_ns();
    sim->start_ns = now;
    sim->end_ns =
        sim->opt.duration_s > 0 ? now + (int64_t)llround(sim->opt.duration_s * 1e9) : INT64_MAX;
    /* real loggers are not in step: spread the stations' first sends over one interval */
    for (size_t s = 0; s < sim->station_count; s++)
        sim->stations[s].due_ns =
            now + (sim->interval_ns > 0 ? (int64_t)((double)sim->interval_ns * (double)s /
                                                    (double)sim->station_count)
                                        : 0);
    for (size_t i = 0; i < sim->conn_count; i++)
        conn_start(sim, &sim->conns[i], now);

    struct epoll_event events[256];
    int64_t next_sweep = now;
    while (!sim->failed && !hs_interrupted) {
        int n = epoll_wait(sim->epfd, events, 256, (int)(SWEEP_NS / 1000000));
        now = jl_monotonic_ns();
        for (int i = 0; i < n; i++) {
            hs_conn *c = events[i].data.ptr;
            if (c->state == CONN_CONNECTING) {
                int soerr = 0;
                socklen_t sl = sizeof soerr;
                if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0 || soerr != 0 ||
                    (events[i].events & (EPOLLERR | EPOLLHUP))) {
                    conn_down(sim, c, now);
                    continue;
                }
                c->state = CONN_UP;
                c->down_since_ns = 0;
                c->backoff_ms = RECONNECT_MIN_MS;
                set_events(sim, c, EPOLLIN);
                sweep_conn(sim, c, now); /* re-send what the last connection left unanswered */
                continue;
            }
            if (c->state != CONN_UP)
                continue;
            if (events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
                on_readable(sim, c, now);
            if (c->state == CONN_UP) {
                fill(sim, c, now);
                flush(sim, c, now);
            }
        }
        if (now >= next_sweep) {
            next_sweep = now + SWEEP_NS;
            int finished = 1;
            for (size_t i = 0; i < sim->conn_count; i++) {
                sweep_conn(sim, &sim->conns[i], now);
                if (!conn_finished(sim, &sim->conns[i], now))
                    finished = 0;
            }
            if (finished)
                break;
        }
    }
}

static void sim_destroy(hs_sim *sim)
{
    for (size_t i = 0; i < sim->conn_count; i++) {
        hs_conn *c = &sim->conns[i];
        if (c->fd >= 0)
            close(c->fd);
        for (size_t k = 0; c->slots && k < sim->opt.window; k++)
            jl_buf_destroy(&c->slots[k].frame);
        free(c->slots);
        free(c->stations);
        jl_buf_destroy(&c->out);
    }
    free(sim->conns);
    for (size_t s = 0; s < sim->station_count; s++)
        free(sim->stations[s].walk);
    free(sim->stations);
    free(sim->codes);
    free(sim->rmsgs);
    free(sim->items);
    free(sim->reply);
    jl_buf_destroy(&sim->segment);
    if (sim->epfd > 0)
        close(sim->epfd);
}

int cmd_hj212_send(int argc, char **argv)
{
    static hs_sim sim_storage;
    hs_sim *sim = &sim_storage;
    memset(sim, 0, sizeof *sim);
    sim->epfd = -1;
    hs_options *o = &sim->opt;
    o->stations = 1;
    o->mn_prefix = DEFAULT_MN_PREFIX;
    o->pw = DEFAULT_PW;
    o->st = "22";
    o->cn = "2011";
    o->step_s = -1;
    o->tz_ms = 8 * 3600000LL;
    o->codes = DEFAULT_CODES;
    o->seed = 1;
    o->precision = IG_PRECISION_MS;
    o->window = 1;
    o->timeout_s = 5;
    o->retries = 3;
    int given_stations = 0;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            printf("usage: jialing hj212-send --to HOST:PORT [options]\n\n");
            hj212_send_usage(stdout);
            return 0;
        }
        if (strncmp(a, "--", 2) != 0)
            return hs_usage_error("unexpected argument '%s'", a);
        if (i + 1 >= argc)
            return hs_usage_error("%s needs a value", a);
        const char *v = argv[++i];
        unsigned long long u;
        jl_error err;
        if (strcmp(a, "--to") == 0) {
            o->to = v;
        } else if (strcmp(a, "--stations") == 0) {
            if (!parse_ull(v, 1, 1000000, &u))
                return hs_usage_error("--stations: expected 1..1000000, not '%s'", v);
            o->stations = (unsigned long)u;
            given_stations = 1;
        } else if (strcmp(a, "--mn-prefix") == 0) {
            if (strlen(v) > 0 && !field_valid(v, strlen(v)))
                return hs_usage_error("--mn-prefix: '%s' has characters an MN cannot hold", v);
            o->mn_prefix = v;
        } else if (strcmp(a, "--pw") == 0) {
            if (!field_valid(v, strlen(v)))
                return hs_usage_error("--pw: '%s' has characters PW cannot hold", v);
            o->pw = v;
        } else if (strcmp(a, "--st") == 0) {
            if (!field_valid(v, strlen(v)))
                return hs_usage_error("--st: '%s' has characters ST cannot hold", v);
            o->st = v;
        } else if (strcmp(a, "--cn") == 0) {
            if (strcmp(v, "2011") != 0 && strcmp(v, "2051") != 0 && strcmp(v, "2061") != 0)
                return hs_usage_error("--cn: expected 2011, 2051 or 2061, not '%s'", v);
            o->cn = v;
        } else if (strcmp(a, "--interval") == 0) {
            if (!parse_seconds(v, 86400, &o->interval_s))
                return hs_usage_error("--interval: expected seconds 0..86400, not '%s'", v);
        } else if (strcmp(a, "--count") == 0) {
            if (!parse_ull(v, 1, 1000000000ULL, &o->count))
                return hs_usage_error("--count: expected 1..1000000000, not '%s'", v);
        } else if (strcmp(a, "--duration") == 0) {
            if (!parse_seconds(v, 1e7, &o->duration_s) || o->duration_s <= 0)
                return hs_usage_error("--duration: expected seconds over 0, not '%s'", v);
        } else if (strcmp(a, "--start") == 0) {
            if (cv_parse_time_ms(v, strlen(v), &o->start_ms, &err) != JL_OK)
                return hs_usage_error("--start: %s", err.message);
            o->has_start = 1;
        } else if (strcmp(a, "--step") == 0) {
            if (!parse_seconds(v, 1e8, &o->step_s))
                return hs_usage_error("--step: expected seconds, not '%s'", v);
        } else if (strcmp(a, "--tz") == 0) {
            if (qp_parse_utc_offset(v, &o->tz_ms, &err) != JL_OK)
                return hs_usage_error("--tz: expected an offset such as +08:00, not '%s'", v);
        } else if (strcmp(a, "--codes") == 0) {
            o->codes = v;
        } else if (strcmp(a, "--seed") == 0) {
            if (!parse_ull(v, 0, UINT64_MAX, &o->seed))
                return hs_usage_error("--seed: expected a whole number, not '%s'", v);
        } else if (strcmp(a, "--flag-every") == 0) {
            if (!parse_ull(v, 0, UINT64_MAX, &o->flag_every))
                return hs_usage_error("--flag-every: expected a whole number, not '%s'", v);
        } else if (strcmp(a, "--replay") == 0) {
            o->replay = v;
        } else if (strcmp(a, "--precision") == 0) {
            if (ig_precision_parse(v, &o->precision, &err) != JL_OK)
                return hs_usage_error("--precision: %s", err.message);
        } else if (strcmp(a, "--connections") == 0) {
            if (!parse_ull(v, 1, 1000000, &u))
                return hs_usage_error("--connections: expected 1..1000000, not '%s'", v);
            o->connections = (unsigned long)u;
        } else if (strcmp(a, "--window") == 0) {
            if (!parse_ull(v, 1, 4096, &u))
                return hs_usage_error("--window: expected 1..4096, not '%s'", v);
            o->window = (unsigned long)u;
        } else if (strcmp(a, "--timeout") == 0) {
            if (!parse_seconds(v, 86400, &o->timeout_s) || o->timeout_s <= 0)
                return hs_usage_error("--timeout: expected seconds over 0, not '%s'", v);
        } else if (strcmp(a, "--retries") == 0) {
            if (!parse_ull(v, 0, 1000, &u))
                return hs_usage_error("--retries: expected 0..1000, not '%s'", v);
            o->retries = (unsigned long)u;
        } else if (strcmp(a, "--acked-log") == 0) {
            o->acked_log = v;
        } else {
            return hs_usage_error("unknown option '%s'", a);
        }
    }
    if (!o->to)
        return hs_usage_error("%s", "--to HOST:PORT is required");
    if (o->replay && (given_stations || o->count || o->duration_s > 0 || o->has_start))
        return hs_usage_error("%s", "--replay takes stations and times from the file: leave out "
                                    "--stations, --count, --duration and --start");
    if (!o->replay && !o->count && o->duration_s <= 0)
        return hs_usage_error("%s", "give --count, --duration or --replay");

    jl_error err;
    jl_error_clear(&err);
    int status = 1;
    if (setup(sim, &err) != JL_OK) {
        fprintf(stderr, "jialing hj212-send: %s\n", err.message);
        goto out;
    }
    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal; /* no SA_RESTART: epoll_wait returns at once */
    sigemptyset(&sa.sa_mask);
    hs_interrupted = 0;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    run(sim);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    double elapsed = (double)(jl_monotonic_ns() - sim->start_ns) / 1e9;
    if (hs_interrupted) {
        /* what was in flight was never acknowledged */
        for (size_t i = 0; i < sim->conn_count; i++)
            sim->lost += sim->conns[i].inflight;
        fprintf(stderr, "jialing hj212-send: interrupted\n");
    }
    if (sim->failed) {
        fprintf(stderr, "jialing hj212-send: %s\n", sim->failure);
        goto out;
    }
    if (sim->stray)
        fprintf(stderr, "jialing hj212-send: %llu replies matched no message in flight\n",
                (unsigned long long)sim->stray);
    printf("sent %llu, acknowledged %llu, lost %llu, retried %llu, elapsed %.3f s, %.1f "
           "messages/s, %.1f readings/s\n",
           (unsigned long long)sim->sent, (unsigned long long)sim->acked,
           (unsigned long long)sim->lost, (unsigned long long)sim->retried, elapsed,
           elapsed > 0 ? (double)sim->acked / elapsed : 0,
           elapsed > 0 ? (double)sim->acked_readings / elapsed : 0);
    fflush(stdout);
    status = hs_interrupted ? 130 : sim->lost == 0 ? 0 : 1;
out:
    if (sim->acked_log && fclose(sim->acked_log) != 0) {
        fprintf(stderr, "jialing hj212-send: --acked-log: %s\n", strerror(errno));
        status = 1;
    }
    sim->acked_log = NULL;
    sim_destroy(sim);
    return status;
}
