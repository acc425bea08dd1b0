/* InfluxQL, the subset Grafana's InfluxDB data source and InfluxDB 1.x clients send: a parser
 * turning the text of `q` into statements, and a planner mapping a SELECT onto the existing query
 * engine's request (qx_query_request of include/jialing/query.h). There is no second engine: what
 * the engine cannot answer is refused with a message naming it. Pure functions; no storage.
 *
 * Grammar (keywords case-insensitive; identifiers bare or "double-quoted", strings 'single-quoted';
 * statements separated by ';'):
 *   SELECT item[, item...] FROM [db.][rp.]measurement [WHERE cond] [GROUP BY group[, group...]]
 *       [fill(null|none|previous|linear|<number>)] [ORDER BY time [ASC|DESC]] [LIMIT n]
 *       [OFFSET n] [tz('Zone/Name')]
 *     item:  "field" | agg("field") | percentile("field", N), each [AS alias]; agg is one of mean
 *            median max min sum count first last spread stddev; all items name one field, and
 *            either all or none are aggregates.
 *     cond:  terms joined by AND and OR (AND binds tighter), in parentheses or not:
 *            time >=|>|<=|<|= T, "tag" =|!=|<> 'v', "tag" =~|!~ /^v$/ or /^(v1|v2|...)$/ (a
 *            literal or an alternation of literals, backslash escapes as Grafana writes them:
 *            /^(a\.b|c)$/). Tag conditions are expanded into disjunctive normal form, at most
 *            IQ_MAX_DISJUNCTS AND-only alternatives; =~ of n literals is n alternatives, !~ of n
 *            literals n ANDed != conditions. Time conditions must be ANDed at the top level
 *            (under no OR); the bounds they give are intersected.
 *            T: integer with a unit (1596240000000ms; ns u µ ms s m h d w; a bare integer is
 *            nanoseconds), an RFC 3339 string ('2025-01-01T00:00:00Z'), or now() [+|- duration].
 *     group: time(duration[, offset]) | "tag".
 *   SHOW MEASUREMENTS [ON db] [LIMIT n] [OFFSET n]
 *   SHOW TAG KEYS [ON db] [FROM m] [LIMIT n] [OFFSET n]
 *   SHOW TAG VALUES [ON db] [FROM m] WITH KEY = "k" | KEY IN ("k1", ...) [LIMIT n] [OFFSET n]
 *   SHOW FIELD KEYS [ON db] [FROM m];  SHOW DATABASES;  SHOW RETENTION POLICIES [ON db]
 *   CREATE DATABASE name (accepted, does nothing: Jialing has one store)
 *
 * Naming (DESIGN §2): measurement m with field "value" is metric m; field f is metric m_f. Times
 * are milliseconds: finer bounds are rounded inward to whole milliseconds.
 *
 * Caveats: a statement that does not parse or is outside the subset becomes an IQ_ERROR statement
 * carrying the message, so the other statements of the query still run (as InfluxDB answers per
 * statement). Strings in statements are owned by the query and freed by iq_query_destroy(). */
#ifndef JIALING_INFLUXQL_H
#define JIALING_INFLUXQL_H

#include "jialing/common.h"
#include "jialing/params.h"
#include "jialing/query.h"
#include "jialing/tz.h"

#define IQ_MAX_STATEMENTS 64
#define IQ_MAX_KEYS 64

typedef enum iq_kind {
    IQ_ERROR = 0, /* message in error */
    IQ_SELECT,
    IQ_SHOW_MEASUREMENTS,
    IQ_SHOW_TAG_KEYS,
    IQ_SHOW_TAG_VALUES,
    IQ_SHOW_FIELD_KEYS,
    IQ_SHOW_DATABASES,
    IQ_SHOW_RETENTION_POLICIES,
    IQ_NOOP /* CREATE DATABASE: answered with an empty result */
} iq_kind;

/* A tag condition: key = value, or key != value when negate. */
typedef struct iq_condition {
    char *key;   /* owned */
    char *value; /* owned */
    int negate;
} iq_condition;

/* Bound on the alternatives a WHERE clause expands to (its disjunctive normal form): each is
 * one selector resolved by the store, so the bound keeps a query's catalog work small. */
#define IQ_MAX_DISJUNCTS 32

/* One alternative of a WHERE clause: tag conditions that all must hold. */
typedef struct iq_conjunct {
    iq_condition conditions[QP_MAX_MATCHERS];
    size_t condition_count; /* >= 1 */
} iq_conjunct;

/* One parsed statement. Fields not used by its kind are zero. */
typedef struct iq_statement {
    iq_kind kind;
    char error[JL_ERROR_MESSAGE_MAX]; /* IQ_ERROR: what is wrong or not supported */
    char *measurement;                /* FROM (SELECT, SHOW ... FROM), owned; NULL if absent */
    /* SELECT */
    char *field;                                /* the one field the items select, owned */
    int raw;                                    /* 1: no aggregates, columns time,<field> */
    qx_aggregate aggregates[QX_MAX_AGGREGATES]; /* when !raw */
    double percentiles[QX_MAX_AGGREGATES];      /* p of QX_AGG_PERCENTILE entries */
    char *columns[QX_MAX_AGGREGATES];           /* output column names after "time", owned */
    size_t column_count;                        /* items selected */
    iq_conjunct *disjuncts;              /* ORed alternatives, owned; NULL when no tag condition */
    size_t disjunct_count;               /* 0 (every series of the metric) .. IQ_MAX_DISJUNCTS */
    int has_from, has_to;                /* time bounds given */
    int64_t from_ms;                     /* inclusive, when has_from */
    int64_t to_ms;                       /* exclusive, when has_to */
    int has_window;                      /* GROUP BY time(...) */
    int64_t window_ms;                   /* its length */
    int64_t window_offset_ms;            /* its offset argument (0 when absent) */
    char *group_tags[QX_MAX_GROUP_TAGS]; /* GROUP BY "tag"..., owned */
    size_t group_tag_count;
    int has_fill; /* fill(...) given; else null with a window */
    qx_fill fill;
    double fill_value;
    int order_desc;         /* ORDER BY time DESC */
    uint64_t limit, offset; /* rows per series; 0 limit: none */
    char *tz;               /* tz('...') argument, owned; NULL if absent */
    /* SHOW */
    char *keys[IQ_MAX_KEYS]; /* SHOW TAG VALUES WITH KEY = / IN (...), owned */
    size_t key_count;
} iq_statement;

/* A parsed `q`: its statements in order. */
typedef struct iq_query {
    iq_statement *statements; /* count entries, owned */
    size_t count;
} iq_query;

/* Parses text (len bytes, need not be NUL-terminated) into *out (zeroed first). now_ms is the
 * time now() stands for. Every statement, even one with errors, is an entry (IQ_ERROR with its
 * message). Returns JL_OK; JL_EINVAL when the text holds no statement at all or more than
 * IQ_MAX_STATEMENTS (err says so); JL_ENOMEM. Free *out with iq_query_destroy() in every case. */
int iq_parse(const char *text, size_t len, int64_t now_ms, iq_query *out, jl_error *err);

/* Frees everything the query owns; safe on a zeroed or destroyed query. */
void iq_query_destroy(iq_query *query);

/* The metric a measurement and field name: m for field "value", else m_f. Writes it into out
 * (cap bytes, NUL-terminated). Returns JL_OK, or JL_EINVAL when it is not a valid metric name or
 * does not fit. */
int iq_metric_name(const char *measurement, const char *field, char *out, size_t cap,
                   jl_error *err);

/* A SELECT mapped onto the engine: the request and what it points at. */
typedef struct iq_plan {
    qp_selector selectors[IQ_MAX_DISJUNCTS]; /* one per disjunct (at least one), owned
                                                (qp_selector_destroy by iq_plan_destroy) */
    size_t selector_count;
    tz_zone *zone;            /* owned, NULL without tz() */
    qx_query_request request; /* selector, more_selectors and zone point into this plan */
    char metric[SK_MAX_NAME_BYTES * 2 + 2]; /* the metric queried */
    int64_t row_time_ms; /* without GROUP BY time: every row's time (InfluxDB reports the
                            range's start); INT64_MIN with a window or raw */
} iq_plan;

/* Plans statement st (IQ_SELECT) for the engine. now_ms
 * supplies the default upper bound of a GROUP BY time query. limits are copied into the request.
 * Returns JL_OK; JL_EINVAL with a message naming what the engine cannot answer (for the
 * statement's error); JL_ENOMEM; the error of loading the tz() zone. Destroy *out with
 * iq_plan_destroy() in every case. */
int iq_plan_select(const iq_statement *st, int64_t now_ms, const qx_limits *limits, iq_plan *out,
                   jl_error *err);

/* Frees what the plan owns; safe on a zeroed or destroyed plan. */
void iq_plan_destroy(iq_plan *plan);

#endif
