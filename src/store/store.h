/* The run store: wattlens's system of record for runs and their whole
 * hierarchy (run -> power samples, sections, tokens -> layers -> components
 * -> ops), written while a run happens and queried afterwards.
 *
 * One API over backends selected by an ops table (store_backend.h); SQLite
 * now (store_sqlite.c), PostgreSQL later. A wl_store is one connection, not
 * thread-safe: use it from one thread at a time. The exception is a
 * wl_store_run writer: its add/flush/finish calls are serialised by its own
 * mutex, so the sampler thread and the engine thread may both write to the
 * same run, but then nothing else may use that wl_store concurrently (open a
 * second wl_store for queries during a run). Strings passed in are copied; results
 * returned are owned by the caller and freed with the matching *_free().
 * Energies are joules (energy_j), powers watts (power_w), times milliseconds
 * from the run's start (t_ms, start_ms) unless the name says otherwise.
 */
#ifndef WL_STORE_STORE_H
#define WL_STORE_STORE_H

#include "util/errmsg.h"
#include "wattlens/energy.h"

#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct wl_store wl_store;
typedef struct wl_store_run wl_store_run;

/* ---- run vocabulary ------------------------------------------------------ */

enum wl_run_status {
    WL_RUN_RUNNING = 0, /* being written */
    WL_RUN_COMPLETE,
    WL_RUN_FAILED,
    WL_RUN_INCOMPLETE, /* its writer died; data up to the last flush is kept */
    WL_RUN_CANCELLED,
    WL_RUN_STATUS_COUNT
};

enum wl_run_kind {
    WL_RUN_KIND_MEASURE = 0, /* `wattlens measure -- cmd` */
    WL_RUN_KIND_INFERENCE,   /* `wattlens run`: profiled generation */
    WL_RUN_KIND_COUNT
};

/* Stable keys stored as text: "running", "complete", "failed", "incomplete",
 * "cancelled"; "measure", "inference". "?" when out of range. */
const char *wl_run_status_name(enum wl_run_status s);
int wl_run_status_parse(const char *s, enum wl_run_status *out);
const char *wl_run_kind_name(enum wl_run_kind k);
int wl_run_kind_parse(const char *s, enum wl_run_kind *out);

/* A double field left unknown: stored as NULL, reported as "n/a". */
#define WL_STORE_UNSET NAN

/* ---- opening ------------------------------------------------------------- */

#define WL_STORE_PATH_MAX 4096
#define WL_STORE_SCHEMA_VERSION 3

struct wl_store_params {
    const char *path;    /* database file; NULL = wl_store_default_path() */
    int busy_timeout_ms; /* wait this long for a lock before WL_EBUSY (default 2000):
                            opening, creating a run's row, deleting, gc */
    int run_wait_ms;     /* a run writer's batches and its finish wait this long for
                            the write lock before WL_EBUSY (default 60000; 0 = the
                            busy timeout): the run's row exists, so giving up loses
                            rows, where waiting only delays them (their caller is
                            the recorder's writer thread, or measure after CMD) */
    bool read_only;      /* open without writing (no migration; a dead run reads
                            `incomplete` without being marked so)
                            and without creating or removing any file next to the
                            database (a writer's -wal and -shm are used when they
                            exist); when they are missing or unusable, a database whose
                            write-ahead log is merged is read as an immutable file and
                            one whose log cannot be used is WL_EACCES (rather than miss
                            the log's runs); an immutable read takes no lock, so a
                            writer elsewhere that checkpoints meanwhile can make it
                            fail or miss its new runs (see docs/internals/store.md) */
    bool no_create;      /* fail with WL_ENOENT instead of creating a missing file or
                            initialising an empty one (0 bytes, or an SQLite file
                            without tables), which is left unchanged; read_only
                            does the same */
    bool no_migrate;     /* a file of an older schema is left as it is: read
                            through TEMP views that show the later columns as
                            NULL, not migrated, and its dead runs are not marked
                            `incomplete` (readers show them so anyway); its
                            connection stays writable, with the usual locks,
                            but writes to it fail. A current file opens as
                            without it. For readers (runs, show, export) of a
                            file an older wattlens may still use */
};

void wl_store_default_params(struct wl_store_params *p);

/* Default database path into buf: $WATTLENS_DB if set, else
 * $XDG_DATA_HOME/wattlens/wattlens.db, else ~/.local/share/wattlens/wattlens.db.
 * Returns 0, WL_ERANGE (buffer too small) or WL_ENOENT (no HOME). */
int wl_store_default_path(char *buf, size_t size);

/* Opens (creating the file and its directory when allowed) and migrates the
 * schema to WL_STORE_SCHEMA_VERSION. A writable open stores `incomplete` for
 * runs left `running` by a writer that is gone (same host: its process no
 * longer exists; another host: no sign of life for 24 hours); every query
 * reports that status for them anyway, read-only opens included, without
 * writing it. Errors, with a message in err naming the
 * file: WL_EFORMAT (not a wattlens/SQLite database), WL_EVERSION (written by a
 * newer wattlens; the file is not touched), WL_EACCES, WL_EBUSY (locked past
 * the busy timeout), WL_ENOENT (no file, with no_create), WL_EDB; with no
 * path, WL_EINVAL when there is no default one either (wl_store_default_path:
 * none of WATTLENS_DB, XDG_DATA_HOME and HOME is set). */
int wl_store_open(const struct wl_store_params *p, wl_store **out, struct wl_errmsg *err);

/* Closes; finishes nothing. Finish or abandon its run writers first (a run
 * abandoned stays `running` until an open finds its process gone and marks
 * it `incomplete`). Accepts NULL. */
void wl_store_close(wl_store *s);

/* Makes every wait for the database lock on s (opening excepted: it is
 * done) give up while *flag is non-zero, with WL_ECANCELED ("stopped waiting
 * for the database ..."): a signal handler that sets the flag ends a wait of
 * up to run_wait_ms at once (a signal cuts the wait's sleep short). flag
 * must outlive s; NULL removes it. */
void wl_store_set_cancel(wl_store *s, const volatile sig_atomic_t *flag);

/* The path the store was opened with (valid until close). */
const char *wl_store_path(const wl_store *s);

/* The highest directory wl_store_open made for a new database file, as
 * mkdir -p makes the missing ones from the top down: every directory from
 * it down to the file's was made. "" when it made none. The store prints
 * nothing; a caller that wants it said (the CLI, for a path the user
 * named) says it. Valid until close. */
const char *wl_store_made_dir(const wl_store *s);

/* Message for the last failed call on s (or on one of its runs). */
const char *wl_store_last_error(const wl_store *s);

/* ---- writing a run ------------------------------------------------------- */

/* Run metadata known at start. Every pointer may be NULL and every number
 * may be left 0 / WL_STORE_UNSET when not applicable (a measure run has no
 * model). JSON fields must hold valid JSON text. */
struct wl_run_info {
    enum wl_run_kind kind;
    int64_t created_at_ms; /* Unix ms; 0 = now */
    const char *command;   /* measure: the command line */
    const char *model_name;
    const char *model_path;
    const char *model_sha256;
    const char *model_arch;          /* e.g. "llama" */
    const char *model_features_json; /* architecture features, JSON object */
    const char *prompt;
    const char *const *tags; /* n_tags strings; one given twice is stored once */
    size_t n_tags;
    const char *experiment;
    const char *depth;         /* "off", "module", "deep" */
    const char *sampling_json; /* sampling parameters, JSON object */
    int64_t batch_size;        /* prompt tokens per forward pass (the context's n_ubatch) */
    int64_t n_seq;             /* sequences generated together (--batch); 0 = not given
                                  (NULL, read as 1) */
    int64_t threads;
    int64_t context_length;
    const char *host_cpu;
    int64_t host_cores;
    int64_t host_memory_bytes;
    const char *host_gpus;              /* comma separated */
    const char *sensor_provenance_json; /* sources, scopes, methods, resolution */
};

/* Per hardware domain figures for a run; upserted by (run, domain). */
struct wl_store_domain {
    enum wl_domain domain;
    enum wl_method method;
    const char *source; /* backend, e.g. "rapl_powercap"; may be NULL */
    double energy_j;
    double avg_power_w;
    double baseline_power_w; /* idle power measured before the run */
    double peak_power_w;
    double peak_t_ms;
};

/* Power samples: one row per sampler tick. Domains whose bit is not set in
 * domain_mask are stored as NULL. method_flags: bit (1 << wl_method) for each
 * method behind the values. */
struct wl_store_sample {
    double t_ms;
    const char *phase;    /* sampler's phase tag, e.g. "prefill"; NULL = none */
    uint32_t domain_mask; /* bit (1 << wl_domain) */
    uint32_t method_flags;
    double power_w[WL_DOMAIN_COUNT];
    double energy_j[WL_DOMAIN_COUNT]; /* cumulative since run start */
};

/* A timed section of a phase. Sections of one phase must not overlap: phase
 * totals are their sums. */
struct wl_store_section {
    const char *phase; /* "pre_inference", "prefill", "decode", "post_inference", "measure", ... */
    const char *name;  /* "tokenize", "layers", ... */
    int64_t token_index; /* decode sections: the token; -1 otherwise */
    double start_ms, end_ms;
    double energy_j; /* headline energy (same domain set as the run total) */
    enum wl_method method;
    uint32_t domain_mask;
    double domain_energy_j[WL_DOMAIN_COUNT];
};

struct wl_store_token {
    int64_t index; /* position in the sequence; input tokens first */
    const char *text;
    bool is_input;
    double start_ms, end_ms; /* WL_STORE_UNSET for input tokens processed in a batch */
    double energy_j;
    enum wl_method method;
    double power_w; /* a power sample taken, and averaged, inside the token; UNSET = energy /
                       duration */
    /* Output rows of a batched generation are decode rounds: the number of
     * sequences that produced a token in the round (energy_j is the whole
     * round's). 0 = not given (NULL, read as 1). */
    int32_t n_seq;
};

struct wl_store_layer_metric {
    int64_t token_index;
    int32_t layer;
    double dur_ms;
    double energy_j; /* attributed by time share */
};

struct wl_store_component_metric {
    int64_t token_index;
    int32_t layer;
    int32_t component; /* position within the layer (the recorder's component id) */
    const char *name;  /* "attn_norm", "q", ... */
    double dur_ms;
    double energy_j;
    /* activation statistics; WL_STORE_UNSET when not collected */
    double act_mean_abs, act_std, act_max_abs, act_sparsity;
};

struct wl_store_op_metric {
    int64_t token_index;
    int32_t layer;
    int32_t component;
    int32_t op;       /* position within the component */
    const char *name; /* "qk", "softmax", ... */
    double dur_ms;
    double energy_j;
    /* attention: per head (n_heads values each, may be NULL) and averaged */
    size_t n_heads;
    const float *head_entropy, *head_max_weight, *head_sparsity;
    double entropy, max_weight, sparsity;
    double kill_ratio; /* MLP activation */
    double var_ratio;  /* norm */
};

/* Totals written at the end. */
struct wl_run_totals {
    enum wl_run_status status; /* complete, failed or cancelled */
    double duration_ms;
    double energy_j; /* headline total */
    enum wl_method energy_method;
    const char *energy_scope;            /* what energy_j covers, e.g. "package+dram" */
    int64_t input_tokens, output_tokens; /* -1 = not applicable */
    int64_t kv_cache_bytes;
    const char *response;
    int64_t sample_count;
    double sample_rate_hz;                 /* achieved */
    const char *error;                     /* failed runs: why */
    const char *sensor_provenance_json;    /* replaces the run's when not NULL (known
                                              only once measuring ran) */
    const struct wl_store_domain *domains; /* upserted like wl_store_run_set_domain */
    size_t n_domains;
};

/* Creates the run row (status running) and returns a writer. id_out (>= 37
 * bytes) receives the run's UUID. */
int wl_store_run_begin(wl_store *s, const struct wl_run_info *info, wl_store_run **out,
                       char *id_out);

/* Appends rows. They go into the writer's open transaction, which an add
 * commits when the writer's last commit is older than flush_interval_ms
 * (default 1000), as do wl_store_flush and wl_store_run_finish; after a
 * commit the next add waits until the lock has been free for 25 ms, so
 * that other processes can write (docs/internals/store.md, "Several
 * writers"). A layer needs its token, a
 * component its layer, an op its component, and keys must not repeat:
 * otherwise WL_EINVAL naming the row. Component and op rows are inserted in
 * batches of 64, so their error may come from a later add, a flush or the
 * finish; the other rows are kept either way. */
int wl_store_add_samples(wl_store_run *r, const struct wl_store_sample *v, size_t n);
int wl_store_add_section(wl_store_run *r, const struct wl_store_section *v);
int wl_store_add_token(wl_store_run *r, const struct wl_store_token *v);
int wl_store_add_layer_metric(wl_store_run *r, const struct wl_store_layer_metric *v);
int wl_store_add_component_metric(wl_store_run *r, const struct wl_store_component_metric *v);
int wl_store_add_op_metric(wl_store_run *r, const struct wl_store_op_metric *v);
int wl_store_run_set_domain(wl_store_run *r, const struct wl_store_domain *d);
/* Sets runs.extra.$key to json_value: room for figures that have no column
 * yet (cost, CO2, ...). key is [a-z0-9_]+. json_value is any JSON value
 * (not only an object), parsed first with jansson, the parser the readers
 * (summary, show) use: text it refuses (bytes that are not UTF-8, a number
 * out of a double's range, which SQLite's json() takes) is WL_EINVAL with
 * the parser's message, and nothing is stored, so one bad value never
 * makes the whole of runs.extra unreadable. */
int wl_store_run_set_extra(wl_store_run *r, const char *key, const char *json_value);

/* Commits the open batch now. */
int wl_store_flush(wl_store_run *r);
/* Stamps the run as alive now (runs.updated_at_ms), for a writer that adds
 * nothing for a long while (`measure` while its command runs): a reader on
 * another host takes a `running` run without a sign of life for 24 hours as
 * dead (docs/internals/store.md, "Crash semantics"); commits stamp it too.
 * Commits the open batch when there is one; else takes the write lock for one
 * short update, waiting at most wait_ms for it (then WL_EBUSY: try again
 * later). WL_ENOENT when the run's row was removed meanwhile. */
int wl_store_run_heartbeat(wl_store_run *r, int wait_ms);
/* Changes the automatic flush interval (ms, > 0). */
void wl_store_run_set_flush_interval(wl_store_run *r, int interval_ms);

/* Writes the totals and the final status, builds the run's aggregate rows,
 * commits, and frees r (also on error). */
int wl_store_run_finish(wl_store_run *r, const struct wl_run_totals *totals);

/* Frees the writer without finishing: the run stays `running` (a crash
 * looks like this). For tests and for writers that give up. */
void wl_store_run_abandon(wl_store_run *r);

/* ---- queries ------------------------------------------------------------- */

/* A filter of wl_store_list_runs; a zeroed one (or NULL) matches every run.
 * A NULL string is no filter; any other string filters, "" too (an empty
 * tag or experiment then matches only runs stored with it, and an empty
 * substring matches everything). The time bounds apply only when their flag
 * is set: every int64_t is a time (before 1970 too), none means "none". */
struct wl_store_filter {
    const char *model;      /* substring of model name or path, or of the command */
    const char *tag;        /* runs carrying this tag */
    const char *experiment; /* exact */
    bool has_since, has_until;
    int64_t since_ms;   /* created_at >= since (Unix ms), when has_since */
    int64_t until_ms;   /* created_at < until, when has_until */
    const char *search; /* substring of the prompt (case-insensitive) */
};

enum wl_store_sort {
    WL_SORT_DATE = 0, /* newest first */
    WL_SORT_DURATION, /* longest first */
    WL_SORT_ENERGY,   /* most energy first */
    WL_SORT_JPT,      /* J/token, lowest first; runs without tokens last */
};
int wl_store_sort_parse(const char *s, enum wl_store_sort *out); /* date|duration|energy|jpt */

/* One line of a run listing. Strings may be NULL. */
struct wl_run_row {
    char id[37];
    int64_t created_at_ms;
    enum wl_run_status status;
    enum wl_run_kind kind;
    char *command, *model_name, *prompt, *experiment;
    /* their bytes: text from another writer may hold a NUL byte, where the
     * C string (each is NUL terminated too) would end it */
    size_t command_len, model_name_len, prompt_len, experiment_len;
    char *tags;                   /* comma separated, sorted */
    size_t tags_len;              /* its bytes (a tag may hold a NUL byte) */
    double duration_ms, energy_j; /* UNSET when unknown */
    enum wl_method energy_method;
    bool has_energy_method;
    int64_t input_tokens, output_tokens; /* -1 when unknown */
    double j_per_token;                  /* energy / output tokens; UNSET without tokens */
    /* Listed rows of a run that never finished (running, or incomplete: its
     * writer died), which has no totals: duration, energy, its method, token
     * counts and J/token were derived from the rows it saved (see
     * wl_store_list_runs), so they cover only part of the run. Always false
     * in other rows and in wl_store_summary's. */
    bool partial;
    /* A partial row whose decode sections and output token rows stop at
     * different tokens: its j_per_token covers only the output tokens both
     * hold, up to token span_last_token (span_output_tokens of them, with
     * span_energy_j: every section up to that token's end), as the
     * summary's per_token_span; energy_j and output_tokens keep every
     * saved row. span_last_token is -1 otherwise (and in the summary's
     * row, whose span is in wl_agg_span). */
    int64_t span_last_token, span_output_tokens;
    double span_energy_j;
    /* A partial row's sections saved without energy (a sensor read failed
     * at their start or end: profile.md): its energy_j, and a span's
     * span_energy_j that adds one of them, are then unknown (UNSET), never
     * the sum of the others. 0 in other rows. */
    int64_t sections_no_energy;
    /* The run's extra fields (runs.extra) are stored but are not a JSON
     * object jansson reads (wl_json_load_object's rule, the summary's
     * extra_unreadable): what they hold (price, currency, sequences, gaps,
     * ...) falls back to its defaults wherever it is read. Set in listed
     * rows; false elsewhere (the summary, which parses runs.extra itself,
     * gives its own: wl_summary's extra_unreadable). */
    bool extra_unreadable;
};

struct wl_run_list {
    struct wl_run_row *rows;
    size_t n;
    int64_t total; /* matching runs ignoring limit/offset */
};

/* limit 0 = no limit. A run that never finished has no totals; its row
 * gives what the rows it saved add up to, as wl_store_summary's figures do
 * (docs/internals/store.md, "Queries"), and is marked partial. Sorts use
 * those figures. */
int wl_store_list_runs(wl_store *s, const struct wl_store_filter *f, enum wl_store_sort sort,
                       int64_t limit, int64_t offset, struct wl_run_list *out);
void wl_run_list_free(struct wl_run_list *l);
/* How many runs match f (NULL: all), the list's total without reading a
 * row: what `runs` says when its filters matched none. */
int wl_store_count_runs(wl_store *s, const struct wl_store_filter *f, int64_t *n);

/* Whether id_or_prefix can name a run at all, without a database: 0, or
 * WL_EINVAL with a message in err (NULL allowed) when it is too short
 * (under 4 characters) or not a run id (longer than a full id's 36
 * characters, or characters other than lowercase hex and '-'). The CLI
 * checks its arguments with it before it opens the database, as a usage
 * error (exit 2). */
int wl_store_check_id(const char *id_or_prefix, struct wl_errmsg *err);

/* Resolves a full id or a unique prefix (>= 4 characters) into id_out (37
 * bytes). WL_ENOENT: no such run; WL_EINVAL: ambiguous, or what
 * wl_store_check_id refuses. */
int wl_store_resolve_id(wl_store *s, const char *id_or_prefix, char *id_out);

/* ---- reading rows (export, show) ---------------------------------------- */

/* Holds one read snapshot of the database on s from here to
 * wl_store_read_end: every query in between (wl_store_foreach,
 * wl_store_summary, ...) sees the database as it was at this call, so the
 * tables of a run being recorded agree with each other (an export reads a
 * dozen of them). Writers on other connections are not blocked and keep
 * committing, but a checkpoint cannot move the write-ahead log past the
 * snapshot, so the log grows until it ends: hold it for one export, not
 * longer. WL_ESTATE when s is already in a transaction (one snapshot at a
 * time; not while a wl_store_run writer on s has an open batch). */
int wl_store_read_begin(wl_store *s);
/* Ends the snapshot of wl_store_read_begin (none open: nothing to do). */
void wl_store_read_end(wl_store *s);

enum wl_store_table {
    WL_TABLE_RUN = 0, /* the run row itself (one row); its created_at is NULL, for the
                       * reader to write from created_at_ms (analysis/run_json.h) */
    WL_TABLE_DOMAINS,
    WL_TABLE_SAMPLES,
    WL_TABLE_SECTIONS,
    WL_TABLE_TOKENS,
    WL_TABLE_LAYERS,
    WL_TABLE_COMPONENTS,
    WL_TABLE_OPS,
    WL_TABLE_COUNT
};
/* "run", "run_domains", "power_samples", "sections", "tokens",
 * "layer_metrics", "component_metrics", "op_metrics". */
const char *wl_store_table_name(enum wl_store_table t);

enum wl_value_type { WL_VALUE_NULL = 0, WL_VALUE_INT, WL_VALUE_REAL, WL_VALUE_TEXT, WL_VALUE_BLOB };

/* A column value; text and blob point into backend memory valid only during
 * the callback. Blobs of per-head statistics are little-endian float32. */
struct wl_store_value {
    enum wl_value_type type;
    int64_t i;
    double r;
    const char *s; /* TEXT (NUL-terminated) or BLOB */
    size_t n;      /* bytes */
};

/* Return non-zero to stop (that value is returned by wl_store_foreach). */
typedef int (*wl_store_row_fn)(void *user_data, size_t n_cols, const char *const *names,
                               const struct wl_store_value *values);

/* Calls fn for each row of table t belonging to run id, in hierarchy order
 * (time for samples and sections; token, layer, component, op for the
 * rest). token_lo/token_hi (inclusive) restrict token-keyed tables; a
 * negative bound is no bound (pass -1, -1 for all). Column names are
 * stable (they are the export's field names). */
int wl_store_foreach(wl_store *s, const char *id, enum wl_store_table t, int64_t token_lo,
                     int64_t token_hi, wl_store_row_fn fn, void *user_data);

/* wl_store_foreach with exact bounds: token_lo..token_hi (inclusive) is
 * taken as it is, so a range of stored indices below zero (another writer
 * may store them; the schema allows it) reads just those rows.
 * INT64_MIN/INT64_MAX are no bound. */
int wl_store_foreach_range(wl_store *s, const char *id, enum wl_store_table t, int64_t token_lo,
                           int64_t token_hi, wl_store_row_fn fn, void *user_data);

/* The column names wl_store_foreach gives table t's rows, for a table that
 * may have none (an export still writes its header): calls fn once with
 * them (valid only during the call). Returns 0, fn's non-zero value, or a
 * store error. */
typedef int (*wl_store_columns_fn)(void *user_data, size_t n_cols, const char *const *names);
int wl_store_columns(wl_store *s, enum wl_store_table t, wl_store_columns_fn fn, void *user_data);

/* ---- aggregates for summaries ------------------------------------------- */

/* Room (with the NUL) for a phase or component name in the aggregates and
 * summaries: every name the engine and profiler write fits (wl_phase_name,
 * wl_component_name, the recorder's phases; test_analysis checks). A longer
 * one from another writer is cut between characters (wl_utf8_copy); the
 * rows keep it whole (wl_store_foreach, export). */
#define WL_STORE_NAME_SIZE 32

/* Room for a domain's source: the sampler's wl_domain_info.sources fits
 * (recorder.c checks at compile time); a longer one is cut as above. */
#define WL_STORE_SOURCE_SIZE 160

/* A section whose energy a failed sensor read left unknown (NULL;
 * profile.md) is counted in n_no_energy and left out of the energy sums;
 * no_energy_dur_ms is its time, so that a power pairs the known energy with
 * the time it was spent in. A domain's energy is summed over the sections
 * whose energy is known; no_domain_energy_j[d] is their energy where that
 * domain's is unknown, so that a domain's share pairs the two sums over the
 * same sections. The unknown counts and sums are 0 when everything is
 * known. */
struct wl_agg_phase {
    char name[WL_STORE_NAME_SIZE];
    int64_t n_sections;
    double start_ms, end_ms; /* first start, last end */
    double dur_ms, energy_j; /* sums over the phase's sections (energy: the known ones) */
    int64_t n_no_energy;     /* sections without energy */
    double no_energy_dur_ms; /* their time */
    uint32_t domain_mask;
    double domain_energy_j[WL_DOMAIN_COUNT];
    double no_domain_energy_j[WL_DOMAIN_COUNT];
};

/* n counts stored rows: one per forward pass (a decode step's rows are
 * under its output token, a prompt batch's under the batch's last input
 * token). The input_* fields are the part stored under input tokens (the
 * prompt batches), so that decode steps and prefill can be averaged apart.
 * The rows of a forward pass whose energy a failed sensor read left unknown
 * (NULL) are counted in n_no_energy (n_input_no_energy of them under input
 * tokens) and left out of the energy sums, which are NaN when no row has
 * energy. */
struct wl_agg_layer {
    int32_t layer;
    int64_t n;               /* rows (forward passes) */
    double dur_ms, energy_j; /* sums */
    int64_t n_input;         /* rows under input tokens (prompt batches) */
    double input_dur_ms, input_energy_j; /* their sums (0 without such rows) */
    int64_t n_no_energy, n_input_no_energy;
};

struct wl_agg_component {
    int32_t layer, component;
    char name[WL_STORE_NAME_SIZE];
    int64_t n;               /* rows (forward passes) */
    double dur_ms, energy_j; /* sums */
    int64_t n_input;         /* as in wl_agg_layer */
    double input_dur_ms, input_energy_j;
    int64_t n_no_energy, n_input_no_energy;
};

struct wl_agg_tokens {
    int64_t n_input, n_output; /* rows in tokens (output rows are decode rounds) */
    int64_t n_generated;       /* output tokens: sum of the output rows' n_seq */
    double input_energy_j, output_energy_j;         /* sums over the rows with energy */
    int64_t n_input_no_energy, n_output_no_energy;  /* rows without (a failed sensor read) */
    double first_output_end_ms, last_output_end_ms; /* UNSET without output tokens */
};

/* One output row (a token; in a batched run a decode round), for latency
 * percentiles and per-token energy plots. */
struct wl_agg_token {
    int64_t index;
    double end_ms, dur_ms, energy_j; /* UNSET when unknown */
    int32_t n_seq;                   /* sequences that produced a token in the round (>= 1) */
};

/* The part of an unfinished run (running, incomplete) that its decode
 * sections and its output token rows both cover. The writer adds a token's
 * sections before its row, and a commit can fall between them, so a run
 * stopped between two commits may hold decode sections of tokens whose rows
 * were lost (or, from another writer, the reverse). Per-token figures pair
 * energy and time with token counts over this span only (summary.h,
 * docs/internals/store.md "Summary metrics"). Filled by wl_store_summary for
 * unfinished runs with decode sections that name their token and output
 * rows; last_token is -1 otherwise (finished runs: their totals rule). */
struct wl_agg_span {
    int64_t last_token;      /* tokens.idx of the last output token both tables reach; -1: none */
    int64_t sections_beyond; /* decode sections of later tokens (their rows were not saved) */
    int64_t rows_beyond;     /* output rows of later tokens (their sections were not saved) */
    double energy_j;         /* sections (every phase) that end by last_token's last section */
    double decode_energy_j, decode_dur_ms; /* sums over decode sections of tokens <= last_token */
    int64_t n_generated;                   /* output tokens <= last_token (sum of rows' n_seq) */
};

/* The first and the last power sample tagged phase "baseline" (the idle
 * baseline), for a run that did not store its baseline power (one that
 * never finished): their cumulative energies give each domain's idle power.
 * n is 0 when the run has no such sample; a domain's energies are UNSET
 * when a sample lacks them. */
struct wl_agg_baseline_samples {
    int64_t n;
    double first_t_ms, last_t_ms;
    double first_j[WL_DOMAIN_COUNT], last_j[WL_DOMAIN_COUNT];
};

struct wl_store_run_detail {
    struct wl_run_row row; /* list fields */
    char *energy_scope, *model_path, *model_arch, *depth, *host_cpu, *error;
    int64_t kv_cache_bytes, context_length, sample_count, threads, batch_size;
    int64_t n_seq; /* sequences generated together; 1 when not stored (older runs) */
    double sample_rate_hz;
    char *extra_json;             /* runs.extra (JSON object text) or NULL */
    char *sensor_provenance_json; /* as written by the run's writer, or NULL */
    struct wl_store_domain domains[WL_DOMAIN_COUNT]; /* source pointers are NULL */
    char domain_source[WL_DOMAIN_COUNT][WL_STORE_SOURCE_SIZE];
    size_t n_domains;
};

/* The method to report for an energy summed over sections whose methods
 * are the bits (1 << wl_method) of `methods`: the weakest of them (counter <
 * sampled < vendor estimate < model estimate), attributed only when there
 * is nothing else. False, *out untouched, when no bit is set. */
bool wl_store_weakest_method(uint32_t methods, enum wl_method *out);

struct wl_store_aggregates {
    struct wl_store_run_detail run;
    struct wl_agg_phase *phases; /* ordered by first start */
    size_t n_phases;
    /* Every section's energy summed in one SQL sum(), as the run list sums
     * an unfinished run's (WL__LIST_ENERGY), so that the summary's total of
     * such a run is the list's to the last bit (a sum of the phases' sums
     * can differ in it); has_ false when the run has no section energy. */
    bool has_sections_energy_j;
    double sections_energy_j;
    uint32_t section_methods; /* bit (1 << wl_method) of each method behind the sections' energy */
    struct wl_agg_layer *layers; /* by layer */
    size_t n_layers;
    struct wl_agg_component *components; /* by layer, component */
    size_t n_components;
    struct wl_agg_tokens tokens;
    struct wl_agg_token *output_tokens; /* output tokens by index */
    size_t n_output_tokens;
    int64_t n_samples;
    struct wl_agg_span span; /* unfinished runs; span.last_token -1 otherwise */
    struct wl_agg_baseline_samples baseline_samples;
};

/* Everything a summary needs, aggregated by the backend (fast for deep runs:
 * complete runs read precomputed per-component rows). */
int wl_store_summary(wl_store *s, const char *id, struct wl_store_aggregates *out);
void wl_store_aggregates_free(struct wl_store_aggregates *a);

/* Whether run id recorded nothing: finished (not running or incomplete),
 * stopped during its set-up or idle baseline, with no section outside the
 * baseline and no token, and the 0 ms its writer stored, which is no
 * figure (nor its 0 J). The run list's rule (such a row's duration and
 * energy are unknown) in the list's own SQL, and the summary's
 * nothing_recorded; one query of the run, for a reader that needs no
 * summary (the CSV export). WL_ENOENT: no such run. */
int wl_store_recorded_nothing(wl_store *s, const char *id, bool *out);
void wl_store_run_detail_free(struct wl_store_run_detail *d);

/* ---- maintenance --------------------------------------------------------- */

/* Deletes a run and everything under it. WL_ENOENT if absent; WL_ESTATE,
 * with the writer named in the message, for a run still being recorded
 * (its status, as readers see it, is running) unless even_running. */
int wl_store_delete_run(wl_store *s, const char *id, bool even_running);

struct wl_gc_params {
    int64_t keep;        /* keep the N newest runs; < 0 = no count limit */
    double max_age_days; /* drop runs older than this; < 0 = no age limit */
    bool dry_run;        /* list what would go; change nothing */
    bool has_now;        /* use now_ms as the reference time (else the current time) */
    int64_t now_ms;      /* reference time (Unix ms) when has_now */
};

/* What became of the file after the runs were removed. */
enum wl_gc_compaction {
    WL_GC_NOT_COMPACTED = 0,  /* a dry run, or no run was removed: the file is left as it is */
    WL_GC_COMPACTED,          /* VACUUM, and the write-ahead log truncated */
    WL_GC_COMPACTED_LOG_KEPT, /* VACUUM, but a reader of an older snapshot kept the log from
                                 being copied back and truncated: it holds the compacted
                                 copy, and the file is larger until a later checkpoint
                                 finds no such reader */
    WL_GC_COMPACT_FAILED,     /* VACUUM or the checkpoint failed (compact_error says why);
                                 the runs are removed all the same */
};

struct wl_gc_result {
    struct wl_run_list removed;        /* the runs removed (or that would be); when wl_store_gc
                                          fails, the runs it removed before it stopped */
    int64_t bytes_before, bytes_after; /* database + write-ahead log */
    enum wl_gc_compaction compaction;
    int compact_rc; /* WL_GC_COMPACT_FAILED: the error (WL_ENOMEM, WL_EBUSY, WL_EIO, ...) */
    char compact_error[WL_ERRMSG_SIZE];
};

/* Retention: removes runs beyond `keep` newest and/or older than the age
 * limit (running runs are never removed), then, unless dry_run or nothing
 * was removed, compacts the file (VACUUM, with its temporary copy in a
 * file, and wal_checkpoint(TRUNCATE)).
 * Each run is deleted in a transaction of its own, and after every
 * 500 ms of them gc pauses for 150 ms, so that a run being recorded gets
 * the write lock between two runs; VACUUM holds the write lock for as long
 * as it takes (about 0.7 s per 100 MB).
 * Returns 0 when every run listed was removed (or was gone already),
 * whatever became of the compaction (out->compaction), or the error that
 * stopped it: out->removed then lists the runs removed before it. Free out
 * with wl_gc_result_free in either case. */
int wl_store_gc(wl_store *s, const struct wl_gc_params *p, struct wl_gc_result *out);
void wl_gc_result_free(struct wl_gc_result *r);

struct wl_store_stats {
    int64_t runs;
    int64_t rows[WL_TABLE_COUNT]; /* WL_TABLE_RUN = runs */
    int64_t file_bytes;           /* database + WAL */
    int schema_version;
};
int wl_store_stats(wl_store *s, struct wl_store_stats *out);

#endif
