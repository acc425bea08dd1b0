/* The store: one LMDB environment holding the series catalog, tag postings, sealed chunks and
 * the write log, plus the in-memory tails (unsealed readings) and latest values. The only module
 * that uses LMDB.
 *
 * Writes: st_write() hands a batch to the single writer thread, which commits many batches in one
 * LMDB transaction (group commit) and returns only after that commit (fsynced unless the store
 * was opened with sync_full = 0). A batch is atomic: all of it is stored or none.
 *
 * Reads: st_select() resolves a selector to series ids; st_snapshot_open() then takes one
 * consistent view (an LMDB read transaction plus the matching in-memory tails) from which
 * cursors read readings and chunk summaries.
 *
 * Errors: every fallible function returns JL_OK (0) or a negative JL_* code (common.h) and, when
 * err is not NULL, fills err with a message; LMDB errors are translated (a full map the
 * writer grows and retries: JL_EFULL; a full disk: JL_EDISKFULL; no reader slot: JL_EBUSY, corrupt
 * pages: JL_ECORRUPT, EIO: JL_EIO, others: JL_ESTORE keeping LMDB's text). JL_ENOMEM may come from
 * any function that allocates.
 *
 * Memory: every series with unsealed readings keeps them in an in-memory tail: the newest up to
 * 32 readings in a plain head of 17 bytes a reading (int64 timestamp, double value, one flag
 * byte; its capacity doubles from 8 to 32), the older ones frozen into compressed segments of
 * 32 (delta-of-delta time varints, decimal mantissa deltas or raw doubles, flags only when some
 * are not N; storage/tail_segment.c) shared by reference count with readers' snapshots.
 * Measured with bench/tail_memory.c through st_write() (bench/REPORT.md, "Tail memory"),
 * anonymous memory: about 0.85-1.0 KB per active series (catalog entry, series state, the
 * first head), then 6-7 bytes per further unsealed reading of a 1-decimal random walk at 60 s
 * (10^5 series x 500 readings: 6.97 B; 10^6 x 300: 5.99 B), 25.5 B while a tail is shorter than
 * one segment (10^6 x 20); the write log's LMDB pages come on top as file-backed RSS. A tail
 * lives until it is sealed (chunk_target, log_max_blocks), so peak memory is about series x
 * (1 KB + 17 B x 32 + ~7 B x the readings a tail reaches before its seal).
 *
 * Caveats:
 * - Close every cursor before its snapshot, and every snapshot before st_store_close(): a cursor
 *   reads through its snapshot's LMDB transaction and tails.
 * - Long readers stall writers. An open snapshot (and a running st_store_backup()) holds the
 *   map lock for reading and pins an LMDB reader slot and old pages; when the map must grow,
 *   the writer waits for every such reader to end, and every st_write() waits behind it. Close
 *   snapshots promptly: copy what a response needs, then close, before streaming it.
 * - Data returned through a cursor (block readings, segment tables) is valid only until the next
 *   call on that cursor; series keys from st_snapshot_series_info() while the snapshot is open.
 * - All functions are thread-safe, except that one snapshot and its cursors belong to one thread
 *   at a time, and one st_batch to one thread. */
#ifndef JIALING_STORE_H
#define JIALING_STORE_H

#include "jialing/common.h"
#include "jialing/chunk.h"
#include "jialing/flag.h"

typedef struct st_store st_store;
typedef struct st_snapshot st_snapshot;
typedef struct st_cursor st_cursor;

/* Settings for st_store_open(); zero fields take the defaults in brackets. */
typedef struct st_options {
    const char *directory;      /* data directory, created if missing (required) */
    int sync_full;              /* 1: fsync every commit [caller sets]; 0: --sync=none (unsafe) */
    int read_only;              /* 1: open an existing store for reading only (no writer
                                   thread; safe beside a running server); st_write: JL_EBUSY */
    uint64_t initial_map_bytes; /* LMDB map size at open [64 GiB]; grows on demand */
    uint64_t max_map_bytes;     /* the map never grows beyond this [1 TiB] */
    uint32_t chunk_target;      /* 0: seal a tail when its chunk will nearly fill whole LMDB
                                   pages (learned per series, starting at 2048 readings);
                                   N: seal once a tail holds N readings [0] */
    uint32_t max_readers;       /* LMDB reader slots [1024] */
    uint32_t group_commit_max_points; /* points per transaction at most [1,000,000] */
    uint32_t log_max_blocks;          /* write-log blocks: past half of this, the tails pinning
                                         the oldest are sealed early (as smaller chunks, merged
                                         into their last chunk), paced so that the log stays near
                                         half; past all of it, at once [2048] */
    int64_t segment_period_ms; /* each sealed chunk keeps summaries of the epoch-aligned periods
                                  of this length it spans, so windows of whole periods need no
                                  decoding [ST_DEFAULT_SEGMENT_PERIOD_MS]; < 0: none */
    /* Retention (storage/retention.c, README.md "Retention"): readings older than
     * now - the retention of their metric are not kept. Whole sealed chunks wholly past the cut
     * are deleted (their pages go to LMDB's freelist and are reused); the newest chunk of a
     * series is always kept (recovery reads the sealed end from it); readings in tails and the
     * log stay until sealed. A write of readings already past the cut stores the others and
     * drops those, counted (st_stats.retention_dropped_readings), as VictoriaMetrics does. */
    int64_t retention_ms; /* every metric without a rule; 0: keep forever [0] */
    const struct st_retention_rule *retention_rules; /* per-metric overrides, borrowed: must
                                                        outlive the store [none] */
    size_t retention_rule_count;
    int64_t retention_interval_ms;      /* a retention cycle over every series starts at most this
                                           often, run by the writer between groups in passes of bounded
                                           work [ST_DEFAULT_RETENTION_INTERVAL_MS]; < 0: never by
                                           itself, only st_retention_run() */
    int64_t (*clock_ms)(void *context); /* "now" of retention, epoch ms [jl_now_ms]; tests set
                                           one that they advance by hand */
    void *clock_context;                /* passed to clock_ms */
} st_options;

/* The retention of one metric, overriding st_options.retention_ms. */
typedef struct st_retention_rule {
    const char *metric; /* metric name, NUL-terminated, compared exactly */
    int64_t ms;         /* readings older than now - ms go; 0: this metric is kept forever */
} st_retention_rule;

#define ST_DEFAULT_RETENTION_INTERVAL_MS (60LL * 1000)

/* 8 hours: days in UTC and in UTC+8 (and every offset that is a multiple of 8 h) are whole
 * periods, for about 2% more bytes on disk (ARCHITECTURE.md, on-disk format). */
#define ST_DEFAULT_SEGMENT_PERIOD_MS (8LL * 3600 * 1000)
/* Longer periods are cut to this (a year of 366 days): no window needs more. */
#define ST_MAX_SEGMENT_PERIOD_MS (366LL * 86400 * 1000)

/* A batch of readings to write, built by parsers. Series are deduplicated by canonical key.
 * The struct is public only so that callers can keep it on the stack: its fields belong to
 * storage (st_batch_*, log_block.c, the writer). Everyone else reads it through the accessors
 * below and builds it with st_batch_series() and st_batch_point(). */
typedef struct st_batch {
    jl_buf keys;              /* canonical keys, each NUL-terminated, back to back */
    uint32_t *key_offsets;    /* offset of each series' key in keys */
    uint32_t *key_lengths;    /* length of each key without NUL */
    uint32_t series_count;    /* distinct series in the batch */
    uint32_t series_capacity; /* allocated entries of key_offsets/key_lengths */
    uint32_t *hash_slots;     /* open addressing: series index + 1, 0 = empty */
    uint32_t hash_capacity;   /* power of two */
    uint32_t *point_series;   /* per point: series index */
    int64_t *point_ms;        /* per point: timestamp */
    double *point_values;     /* per point: value */
    uint8_t *point_flags;     /* per point: flag code (JL_FLAG_*) */
    size_t point_count;       /* points in the batch */
    size_t point_capacity;    /* allocated points */
} st_batch;

/* Initialises an empty batch (no allocation). */
void st_batch_init(st_batch *batch);

/* Frees everything the batch owns. */
void st_batch_destroy(st_batch *batch);

/* Empties the batch, keeping its memory for reuse. */
void st_batch_reset(st_batch *batch);

/* Finds or adds the series with canonical key key[0..len) (copied) and sets *index; JL_OK or
 * JL_ENOMEM (the batch holds what it held before). */
int st_batch_series(st_batch *batch, const char *key, size_t len, uint32_t *index);

/* Appends a point of series `index` with flag JL_FLAG_N; JL_OK or JL_ENOMEM. The caller validated
 * ms and value. */
int st_batch_point(st_batch *batch, uint32_t index, int64_t ms, double value);

/* As st_batch_point(), with the reading's flag code (< JL_FLAG_COUNT, validated by the caller). */
int st_batch_point_flagged(st_batch *batch, uint32_t index, int64_t ms, double value, uint8_t flag);

/* Points in the batch (a series' repeated timestamps each count). */
static inline size_t st_batch_point_count(const st_batch *batch)
{
    return batch->point_count;
}

/* Distinct series in the batch; their indexes are 0 .. count - 1. */
static inline uint32_t st_batch_series_count(const st_batch *batch)
{
    return batch->series_count;
}

/* Series index of point i (i < st_batch_point_count()). */
static inline uint32_t st_batch_point_series(const st_batch *batch, size_t i)
{
    return batch->point_series[i];
}

/* Timestamp of point i. */
static inline int64_t st_batch_point_ms(const st_batch *batch, size_t i)
{
    return batch->point_ms[i];
}

/* Value of point i. */
static inline double st_batch_point_value(const st_batch *batch, size_t i)
{
    return batch->point_values[i];
}

/* Flag code (JL_FLAG_*) of point i. */
static inline uint8_t st_batch_point_flag(const st_batch *batch, size_t i)
{
    return batch->point_flags[i];
}

/* Canonical key of series `index`, NUL-terminated, its length in *len when len is not NULL;
 * owned by the batch and valid until the batch is next changed, reset or destroyed. */
static inline const char *st_batch_series_key(const st_batch *batch, uint32_t index, size_t *len)
{
    if (len)
        *len = batch->key_lengths[index];
    return batch->keys.data + batch->key_offsets[index];
}

/* Opens (creating if needed, unless read_only) the store in options->directory, replays the
 * write log and starts the writer thread. Returns JL_OK and sets *out to a store the caller
 * closes with st_store_close(); on error *out is NULL and the code is JL_EINVAL (no directory),
 * JL_EIO (directory not creatable), JL_ENOTFOUND (read_only and no store there), JL_ECORRUPT
 * (unknown format version, bad catalog, chunk or log), JL_ENOMEM (or thread creation failed),
 * or another translated LMDB error (JL_EFULL, JL_EIO, JL_ESTORE). */
int st_store_open(const st_options *options, st_store **out, jl_error *err);

/* Stops the writer after the batches already queued (their st_write() calls return), closes
 * LMDB and frees the store. Every snapshot must be closed before. NULL is ignored. */
void st_store_close(st_store *store);

/* Readings one st_write() may hold at most (JL_ETOOLARGE beyond). */
#define ST_MAX_BATCH_POINTS (1u << 24)

/* Stores the batch atomically and durably; blocks until committed (and while the map grows, until
 * every open snapshot is closed). The batch stays the caller's and is only read. Returns JL_OK
 * (an empty batch too), JL_EINVAL (a point out of range, not finite, or of no series; or a key
 * that is not canonical), JL_ETOOLARGE (more than ST_MAX_BATCH_POINTS), JL_EDISKFULL (disk) or
 * JL_EFULL (map full; nothing stored), JL_EBUSY (read-only store, or shutting down), JL_ENOMEM,
 * JL_EIO or JL_ESTORE; on error nothing of the batch is stored. */
int st_write(st_store *store, const st_batch *batch, jl_error *err);

/* One condition of a selector. The metric name is matched as key "__name__". */
typedef struct st_matcher {
    const char *key;   /* NUL-terminated tag key */
    const char *value; /* NUL-terminated tag value */
    int negate;        /* 0: key must equal value; 1: key must not equal value (or be absent) */
} st_matcher;

/* Resolves the matchers (ANDed; at least one must be non-negated) to series ids in ascending
 * order, as of the last commit. *ids is malloc'ed and owned by the caller (free()); on error it
 * is NULL. Zero matches is JL_OK with *count 0 (*ids may be NULL). Errors: JL_EINVAL (no
 * non-negated matcher), JL_ELIMIT (more than max_series matches; 0: no limit), JL_EBUSY (no
 * reader slot), JL_ENOMEM, JL_ESTORE. */
int st_select(st_store *store, const st_matcher *matchers, size_t matcher_count, size_t max_series,
              uint64_t **ids, size_t *count, jl_error *err);

/* Takes a consistent view of the given series (unknown ids are dropped; ids are copied) and sets
 * *out to a snapshot the caller closes with st_snapshot_close(), soon (see Caveats). Returns
 * JL_OK, JL_EBUSY (no reader slot), JL_ENOMEM or JL_ESTORE; *out is NULL on error. */
int st_snapshot_open(st_store *store, const uint64_t *ids, size_t count, st_snapshot **out,
                     jl_error *err);

/* Ends the view; its cursors must be closed before. NULL is ignored. */
void st_snapshot_close(st_snapshot *snapshot);

/* What a snapshot knows of one of its series without reading chunks. */
typedef struct st_series_info {
    uint64_t id;       /* series id */
    const char *key;   /* canonical key, NUL-terminated, valid while the snapshot is open */
    size_t key_len;    /* bytes in key */
    uint64_t count;    /* distinct readings stored */
    int64_t first_ms;  /* first reading's time (undefined when count is 0) */
    int64_t last_ms;   /* last reading's time (undefined when count is 0) */
    double last_value; /* value at last_ms */
} st_series_info;

/* Returns the number of series in the snapshot (as given to st_snapshot_open, unknown ids
 * dropped). */
size_t st_snapshot_series_count(const st_snapshot *snapshot);

/* Fills info for the series at position index (0-based, in the order of the ids given); info->key
 * stays valid while the snapshot is open. JL_OK, or JL_ENOTFOUND (index out of range; err is not
 * set). */
int st_snapshot_series_info(st_snapshot *snapshot, size_t index, st_series_info *info);

/* A piece of one series' readings in time order: either a sealed chunk whose summary is known
 * and whose readings are decoded on demand, or decoded readings (from the tail). */
typedef struct st_block {
    ck_summary summary;           /* always filled */
    int decoded;                  /* 1: timestamps/values below are filled */
    const int64_t *timestamps_ms; /* valid until the next cursor call */
    const double *values;         /* valid until the next cursor call */
    const uint8_t *flags;         /* when decoded: per reading its flag code (JL_FLAG_*), or NULL
                                     when every reading is JL_FLAG_N; valid as values */
    size_t count;                 /* readings in timestamps_ms/values when decoded */
} st_block;

/* Opens a cursor over the series at `index` of the snapshot, limited to blocks that overlap
 * [from_ms, to_ms). A block may extend beyond the range; callers filter by time. Sets *out to a
 * cursor the caller closes with st_cursor_close() before the snapshot. JL_OK, JL_ENOTFOUND
 * (index out of range), JL_ENOMEM or JL_ESTORE; *out is NULL on error. */
int st_cursor_open(st_snapshot *snapshot, size_t index, int64_t from_ms, int64_t to_ms,
                   st_cursor **out, jl_error *err);

/* Moves to the next block: the sealed chunks in time order, then the tail. JL_OK with *block
 * filled (its readings valid until the next call on the cursor), JL_ENOTFOUND at the end (err is
 * not set), JL_ECORRUPT (a chunk header failed validation) or JL_ESTORE. */
int st_cursor_next(st_cursor *cursor, st_block *block, jl_error *err);

/* Decodes the current block if it is not yet decoded (block->decoded becomes 1); the readings
 * are in memory the cursor owns, valid until the next call on the cursor. JL_OK, JL_ENOMEM or
 * JL_ECORRUPT. */
int st_cursor_decode(st_cursor *cursor, st_block *block, jl_error *err);

/* Reads the segment table of the current block (a sealed chunk, not yet decoded) into memory
 * the cursor owns, valid until the next call on the cursor; *count is 0 (and *segments NULL)
 * when it has none, as a tail block never has. JL_OK, JL_ENOMEM or JL_ECORRUPT. */
int st_cursor_segments(st_cursor *cursor, const ck_segment **segments, size_t *count,
                       jl_error *err);

/* Frees the cursor; NULL is ignored. */
void st_cursor_close(st_cursor *cursor);

/* A span of time over which the review marks in force decide a series' validity, whatever the
 * readings' device flags say: the newest mark not withdrawn wins where marks overlap. */
typedef struct st_review_span {
    int64_t from_ms;  /* first instant covered */
    int64_t to_ms;    /* end, exclusive */
    int valid;        /* 1: readings here are valid; 0: invalid */
    uint64_t mark_id; /* the review mark that decides this span */
} st_review_span;

/* Sets *spans to the review spans of the series at `index` of the snapshot, sorted by from_ms and
 * not overlapping, *count of them (0, *spans NULL, when no mark touches it); as of the snapshot,
 * owned by the snapshot and valid while it is open. JL_OK, JL_ENOMEM (resolving them), or
 * JL_ENOTFOUND (index out of range); there is no err to fill. */
int st_snapshot_review_spans(st_snapshot *snapshot, size_t index, const st_review_span **spans,
                             size_t *count);

/* Store-wide figures for /metrics and `jialing inspect`. */
typedef struct st_stats {
    uint64_t series;                     /* series in the catalog */
    uint64_t readings;                   /* distinct readings stored */
    uint64_t sealed_readings;            /* of which in sealed chunks */
    uint64_t chunks;                     /* sealed chunks */
    uint64_t chunk_bytes;                /* bytes of sealed chunks (headers included) */
    uint64_t decimal_chunks;             /* chunks using the decimal codec */
    uint64_t log_blocks;                 /* write-log blocks not yet truncated */
    uint64_t log_bytes;                  /* their bytes */
    uint64_t log_rewritten_readings;     /* tail readings written to the log again since open */
    uint64_t file_bytes;                 /* size of the LMDB data file */
    uint64_t map_bytes;                  /* current map size */
    uint64_t points_written;             /* points accepted since open */
    uint64_t commits;                    /* write transactions since open */
    uint64_t flagged_points_written;     /* of points_written, those with a flag other than N */
    uint64_t review_marks;               /* review marks stored (withdrawn ones included) */
    uint64_t review_marks_withdrawn;     /* of which withdrawn */
    uint64_t retention_chunks_deleted;   /* chunks deleted by retention since open */
    uint64_t retention_readings_deleted; /* readings they held */
    uint64_t retention_dropped_readings; /* written already past the cut, dropped, since open */
} st_stats;

/* Fills stats from counters kept in memory; with count_codecs it also walks every chunk header
 * to fill decimal_chunks (cost grows with the number of chunks: for inspection, not scrapes;
 * it holds a read transaction meanwhile, see Caveats). JL_OK; with count_codecs also JL_EBUSY
 * or JL_ESTORE (stats other than decimal_chunks are filled then). */
int st_store_stats(st_store *store, int count_codecs, st_stats *stats, jl_error *err);

/* What st_retention_run() did. */
typedef struct st_retention_result {
    uint64_t series_examined;  /* series of a metric with retention looked at */
    uint64_t chunks_deleted;   /* chunks deleted */
    uint64_t readings_deleted; /* readings they held */
    uint64_t passes;           /* transactions committed (bounded work each) */
} st_retention_result;

/* Runs one whole retention cycle now (at st_options.clock_ms): every series, in passes of
 * bounded work, each committed through the writer like a write, so writes interleave and every
 * snapshot sees a pass whole or not at all. Fills *result (zeroed first) when not NULL. JL_OK
 * (nothing to do when no metric has retention), JL_EBUSY (read-only store, or shutting down),
 * JL_EDISKFULL, JL_ENOMEM, JL_ECORRUPT (a chunk header failed validation) or another
 * translated LMDB error; passes committed before an error stay. */
int st_retention_run(st_store *store, st_retention_result *result, jl_error *err);

/* Returns how many write transactions the store has committed since open: one atomic load, no
 * lock, so a cache can poll it on every request. It grows only after a commit's readings are
 * visible to readers, so an answer built after reading N reflects at least those N commits. */
uint64_t st_store_commit_count(st_store *store);

/* The commit hook: what one committed write carried, handed to the hook after the commit is
 * published (its readings are visible to snapshots), so that an evaluator (the alarms,
 * jialing/alarm.h) need not read them back. */
typedef struct st_commit_batch {
    const st_batch *batch;      /* the readings as written, in arrival order (accessors above) */
    const uint64_t *series_ids; /* the store's id of each batch series index */
} st_commit_batch;

/* Called on the writer thread with the batches of one committed group; everything is valid
 * during the call only. It must copy what it needs and return fast: every write waits for it. */
typedef void (*st_commit_hook)(void *ctx, const st_commit_batch *batches, size_t count);

/* Sets (fn NULL: removes) the commit hook; it applies from the next group the writer takes.
 * When unset a commit pays one pointer test. After removal returns, the hook may still be
 * running for a group taken before: st_store_sync_hook() waits for that. */
void st_store_set_commit_hook(st_store *store, st_commit_hook fn, void *ctx);

/* Waits until every group taken before the call has been committed and handed to the hook. */
void st_store_sync_hook(st_store *store);

/* Copies the store (compacted, one consistent commit, write log included) into out_directory,
 * which must not exist or be empty, and fsyncs it; safe while writes go on, though the map
 * cannot grow until it ends (see Caveats). JL_OK, JL_EINVAL (no or unusable directory, not
 * empty), JL_EDISKFULL, JL_EIO or JL_ESTORE; on error no half copy is left behind. */
int st_store_backup(st_store *store, const char *out_directory, jl_error *err);

#endif
