/* Alarms (告警): rules read from a file (query/rules.c, prefix al_rules_), evaluated by the
 * evaluator (query/alarm.c, prefix al_) over the readings each commit brings (the store's commit
 * hook, store.h), and the events they raise, stored durably in the store's LMDB environment
 * (storage/events.c, prefix st_event_; database "events", disk_format.h section 4) through the
 * writer's group commit like review marks.
 *
 * Errors: JL_OK (0) or a negative JL_* code (common.h), err filled as in store.h. */
#ifndef JIALING_ALARM_H
#define JIALING_ALARM_H

#include <stddef.h>
#include <stdint.h>

#include "jialing/flag.h"
#include "jialing/params.h"
#include "jialing/store.h"
#include "jialing/tz.h"

/* ---------- events (storage/events.c) ---------- */

#define ST_EVENT_MAX_RULE_BYTES 128u /* a rule name, without NUL */

/* Bits of st_event.notified: the notification of each state reached a receiver. */
#define ST_EVENT_NOTIFIED_FIRING 0x1u
#define ST_EVENT_NOTIFIED_RESOLVED 0x2u

/* One event as stored. An event is identified by (rule, series_id, start_ms): the evaluator
 * never makes two with the same identity, which is what keeps a restart from repeating one. */
typedef struct st_event {
    uint64_t id; /* 1, 2, ... in the order made; set by st_event_put() for a new one */
    char rule[ST_EVENT_MAX_RULE_BYTES + 1]; /* rule name, NUL-terminated */
    uint64_t series_id;                     /* the series it is about */
    int64_t start_ms;  /* first reading of the condition (absent: the last reading before the
                          silence) */
    int64_t fired_ms;  /* the reading (or, for absent, the instant) at which it fired */
    int64_t end_ms;    /* resolved: the reading that ended it; 0 while firing */
    int resolved;      /* 0: firing; 1: resolved */
    int late;          /* 1: opened or closed by readings older than the series' frontier */
    double peak;       /* the most extreme value of the run (the rule's direction) */
    uint64_t count;    /* readings in the run */
    unsigned notified; /* ST_EVENT_NOTIFIED_* bits */
    char *series_key;  /* st_event_list() only: canonical key (owned by the list), or NULL */
} st_event;

/* Stores events durably in one commit of the writer: each with id 0 is new and gets the next id
 * (written back into events[i].id); each with an id rewrites that event whole (a firing event
 * resolved, or notified bits set). series_key is ignored. Returns after the durable commit.
 * JL_OK, JL_EINVAL (an empty or too long rule name, an unknown series, an unknown id),
 * JL_EBUSY (read-only or shutting down), JL_ENOMEM or a store error; on error none is stored. */
int st_event_put(st_store *store, st_event *events, size_t count, jl_error *err);

/* Which events st_event_list() returns; zero fields do not filter. */
typedef struct st_event_filter {
    int64_t from_ms, to_ms; /* when has_range: events whose [start, end or +inf) meets
                               [from_ms, to_ms) */
    int has_range;
    int state;                  /* 0: any; 1: firing only; 2: resolved only */
    const char *rule;           /* NULL or exact rule name */
    const uint64_t *series_ids; /* NULL or ascending ids the event's series must be one of */
    size_t series_count;
    size_t max_events; /* 0: no limit; beyond it JL_ELIMIT */
} st_event_filter;

/* Lists the stored events that pass filter (NULL: all) in id order into *events (malloc'ed,
 * *count of them), each with series_key filled; free with st_event_list_free(). JL_OK,
 * JL_ELIMIT, JL_ECORRUPT (an entry failed validation), JL_ENOMEM or a store error. */
int st_event_list(st_store *store, const st_event_filter *filter, st_event **events, size_t *count,
                  jl_error *err);

/* Frees a list from st_event_list(); NULL is ignored. */
void st_event_list_free(st_event *events, size_t count);

/* ---------- rules (query/rules.c) ---------- */

typedef enum al_kind {
    AL_THRESHOLD = 0, /* op/value on valid raw readings, held for `for` (an episode) */
    AL_WINDOW,        /* op/value on a calendar window aggregate (window, agg, tz) */
    AL_ABSENT,        /* no reading for `absent` */
    AL_FLATLINE,      /* the same value `flatline` readings in a row */
    AL_RATE           /* |change| per minute above `rate` between neighbouring readings */
} al_kind;

typedef enum al_op { AL_GT = 0, AL_GE, AL_LT, AL_LE } al_op;
typedef enum al_agg { AL_AGG_MEAN = 0, AL_AGG_MAX, AL_AGG_MIN, AL_AGG_SUM, AL_AGG_COUNT } al_agg;

#define AL_MAX_LABELS 16

typedef struct al_rule {
    char *name;         /* owned; unique in the set; at most ST_EVENT_MAX_RULE_BYTES */
    char *series_text;  /* owned: the selector as written */
    qp_selector series; /* parsed (params.h) */
    al_kind kind;
    al_op op;                          /* threshold, window */
    double value;                      /* threshold, window */
    int64_t for_ms;                    /* threshold: how long the episode must last (0: at once) */
    qp_duration window;                /* window: calendar window length */
    al_agg agg;                        /* window */
    char *tz;                          /* owned, or NULL: UTC; window only */
    tz_zone *zone;                     /* owned, loaded from tz; NULL: UTC */
    int64_t absent_ms;                 /* absent */
    uint32_t flatline;                 /* flatline: readings in a row (>= 2) */
    double rate;                       /* rate: per minute */
    jl_flag_mask flags;                /* readings looked at: "valid" gives the valid mask */
    char *label_keys[AL_MAX_LABELS];   /* owned */
    char *label_values[AL_MAX_LABELS]; /* owned */
    size_t label_count;
    char *summary; /* owned, optional annotation */
    /* window: owned, where its windows start and end: the grid of /query window= in zone
     * (query/query_internal.h), made by al_rules_parse() */
    struct qx_grid *grid;
} al_rule;

typedef struct al_rules {
    al_rule *rules;
    size_t count;
} al_rules;

/* Parses a rules document text[0..len) (JSON; duplicate keys refused) into *out; valid_mask is
 * what "flags": "valid" (the default) selects. JL_OK, or JL_EINVAL naming the rule (index and
 * name) and the field; *out is empty on error. Free with al_rules_free(). */
int al_rules_parse(const char *text, size_t len, jl_flag_mask valid_mask, al_rules *out,
                   jl_error *err);

/* Reads and parses the file at path as al_rules_parse(); JL_EIO when unreadable. */
int al_rules_load(const char *path, jl_flag_mask valid_mask, al_rules *out, jl_error *err);

/* Frees what the rules own and empties them; safe on a zeroed set. */
void al_rules_free(al_rules *rules);

/* "gt" .. "le" of an op. */
const char *al_op_name(al_op op);
const char *al_kind_name(al_kind kind);

/* ---------- the evaluator (query/alarm.c) ---------- */

/* Per-(rule, series) state: one small machine that readings of the series are fed to in time
 * order; it reports an event when one fires and again when it resolves. Public so that tests can
 * drive it reading by reading. */
typedef struct al_state {
    int open;          /* 1 while a run is going */
    int fired;         /* 1 once the open run fired (an event exists) */
    int64_t start_ms;  /* first reading of the run */
    int64_t last_ms;   /* last reading fed (INT64_MIN: none) */
    double last_value; /* value at last_ms */
    double peak;
    uint64_t count;       /* readings in the run */
    int64_t window_start; /* window: start of the window being accumulated */
    double acc;           /* window: running sum / max / min */
    uint64_t acc_count;   /* window: readings in it */
    int64_t window_end;   /* window: end of the window at window_start */
    int64_t arrived_ms;   /* absent: wall clock when a reading last arrived (0: unknown) */
} al_state;

/* What a step of the machine reports. */
typedef enum al_change {
    AL_NONE = 0,
    AL_FIRED = 1,
    AL_RESOLVED = 2,
    AL_FIRED_RESOLVED = 3
} al_change;

/* Resets a state to "no reading yet". */
void al_state_init(al_state *state);

/* Feeds one reading (newer than every one fed before; flags not selected are skipped by the
 * caller) to the machine of rule. When it reports AL_FIRED, AL_RESOLVED or both, *event is
 * filled (rule name, start, fired, end, resolved, peak, count; id and series left 0). Pure: no
 * allocation, no store. */
al_change al_state_feed(const al_rule *rule, al_state *state, int64_t ms, double value,
                        st_event *event);

/* For an absent rule: whether at now_ms the series has been silent for longer than the rule's
 * duration, both since its last reading's time and since a reading last arrived (arrived_ms: a
 * fast load of old readings is not a silence); fills *event (firing, start = the last reading,
 * fired = last reading + absent) when it turns so; AL_NONE otherwise. */
al_change al_state_tick(const al_rule *rule, al_state *state, int64_t now_ms, st_event *event);

typedef struct al_evaluator al_evaluator;

/* Called, on the evaluator's thread, for each state of an event to announce: state is
 * ST_EVENT_NOTIFIED_FIRING or ST_EVENT_NOTIFIED_RESOLVED (the event as it is now; its
 * series_key filled). Once delivered, the caller reports it with al_evaluator_notified(). Called
 * again after a restart for every state not reported delivered. */
typedef void (*al_notify_fn)(void *ctx, const st_event *event, const al_rule *rule, unsigned state);

typedef struct al_options {
    int64_t tick_ms;     /* absent rules are checked this often [1000] */
    al_notify_fn notify; /* may be NULL */
    void *notify_ctx;
    int64_t (*now_ms)(void); /* wall clock, for absent [real time]; tests replace it */
} al_options;

/* Counters for /metrics. */
typedef struct al_stats {
    uint64_t fired;       /* events fired since start */
    uint64_t resolved;    /* events resolved since start */
    uint64_t late;        /* of those, opened or closed late */
    uint64_t readings;    /* readings evaluated */
    uint64_t eval_ns;     /* time spent evaluating */
    uint64_t queue_drops; /* commits not queued (out of memory): their series are recomputed */
    uint64_t errors;      /* events that could not be stored */
    uint64_t replays;     /* (rule, series) pairs replayed from the store (late readings) */
    uint64_t replayed;    /* readings read back from the store by those replays */
    uint64_t ready;       /* 1 once the recompute at start is done */
} al_stats;

/* Starts the evaluator over store with rules (taken: freed by the evaluator): loads the stored
 * events, installs the commit hook and starts its thread, which first offers every un-notified
 * state to notify and recomputes every (rule, series) from the stored readings, storing the
 * events the stored ones lack (so a restart neither loses nor repeats one); al_evaluator_flush()
 * waits for that. *out is stopped with al_evaluator_stop(). JL_OK, JL_ENOMEM or a store error
 * (the rules are freed then too). */
int al_evaluator_start(st_store *store, al_rules *rules, const al_options *options,
                       al_evaluator **out, jl_error *err);

/* Replaces the rule set (taken) between two commits: every (rule, series) is recomputed from
 * the store as at start. JL_OK or as al_evaluator_start(). */
int al_evaluator_reload(al_evaluator *evaluator, al_rules *rules, jl_error *err);

/* Blocks until every commit queued so far has been evaluated and the events it made or
 * resolved are stored and announced (tests, shutdown). */
void al_evaluator_flush(al_evaluator *evaluator);

/* Records that the notification of event_id in the state(s) given reached every receiver. */
void al_evaluator_notified(al_evaluator *evaluator, uint64_t event_id, unsigned bits);

void al_evaluator_stats(al_evaluator *evaluator, al_stats *stats);

/* Calls fn with the rule named name under the evaluator's lock (NULL when there is none). */
void al_evaluator_with_rule(al_evaluator *evaluator, const char *name,
                            void (*fn)(void *ctx, const al_rule *rule), void *ctx);

/* Removes the hook and stops the thread: nothing is evaluated or announced after it returns,
 * while al_evaluator_notified() may still be called (until al_evaluator_stop()). Idempotent;
 * NULL is ignored. */
void al_evaluator_halt(al_evaluator *evaluator);

/* Halts the evaluator (if not yet), stores the delivery reports received and frees it with its
 * rules. NULL is ignored. */
void al_evaluator_stop(al_evaluator *evaluator);

#endif
