/* SQLite schema of the run store, as ordered migrations (see
 * docs/internals/store.md). Migration i takes PRAGMA user_version from i to
 * i + 1; a released migration is never edited, only followed by a new one.
 * Hierarchy tables are WITHOUT ROWID and keyed by (run, token, layer, ...),
 * so rows of one run are contiguous, appends stay cheap, and every foreign
 * key is covered by a primary-key prefix (no secondary indexes to maintain).
 * Static data, and a pure function of it; thread-safe.
 */
#include "store/sqlite_schema.h"

#include "wattlens/energy.h"

#include "store/store.h"

#include <stdio.h>
#include <string.h>

_Static_assert(WL_DOMAIN_COUNT == 9, "a new energy domain needs a migration adding its columns");

static const char wl__migration_1[] =
    "CREATE TABLE runs ("
    " id INTEGER PRIMARY KEY,"
    " uuid TEXT NOT NULL UNIQUE,"
    " created_at_ms INTEGER NOT NULL,"
    " updated_at_ms INTEGER,"
    " status TEXT NOT NULL CHECK (status IN"
    "  ('running','complete','failed','incomplete','cancelled')),"
    " kind TEXT NOT NULL CHECK (kind IN ('measure','inference')),"
    " command TEXT, model_name TEXT, model_path TEXT, model_sha256 TEXT, model_arch TEXT,"
    " model_features TEXT, prompt TEXT, response TEXT, experiment TEXT, depth TEXT,"
    " sampling TEXT, batch_size INTEGER, threads INTEGER, context_length INTEGER,"
    " host_name TEXT, host_cpu TEXT, host_cores INTEGER, host_memory_bytes INTEGER,"
    " host_gpus TEXT, sensor_provenance TEXT,"
    " writer_pid INTEGER, writer_host TEXT,"
    " duration_ms REAL, energy_j REAL, energy_method TEXT, energy_scope TEXT,"
    " input_tokens INTEGER, output_tokens INTEGER, kv_cache_bytes INTEGER,"
    " sample_count INTEGER, sample_rate_hz REAL, j_per_token REAL,"
    " error TEXT, extra TEXT);"
    "CREATE INDEX runs_created ON runs(created_at_ms);"
    "CREATE INDEX runs_status ON runs(status);"
    "CREATE INDEX runs_experiment ON runs(experiment);"
    "CREATE TABLE run_tags ("
    " run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    " tag TEXT NOT NULL, PRIMARY KEY (run_id, tag)) WITHOUT ROWID;"
    "CREATE INDEX run_tags_tag ON run_tags(tag);"
    "CREATE TABLE run_domains ("
    " run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    " domain TEXT NOT NULL, method TEXT, source TEXT, energy_j REAL, avg_power_w REAL,"
    " baseline_power_w REAL, peak_power_w REAL, peak_t_ms REAL,"
    " PRIMARY KEY (run_id, domain)) WITHOUT ROWID;"
    "CREATE TABLE power_samples ("
    " run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    " seq INTEGER NOT NULL, t_ms REAL NOT NULL, phase TEXT, method_flags INTEGER NOT NULL,"
    " package_w REAL, package_j REAL, core_w REAL, core_j REAL, uncore_w REAL, uncore_j REAL,"
    " dram_w REAL, dram_j REAL, psys_w REAL, psys_j REAL, gpu_w REAL, gpu_j REAL,"
    " soc_w REAL, soc_j REAL, ane_w REAL, ane_j REAL, total_w REAL, total_j REAL,"
    " PRIMARY KEY (run_id, seq)) WITHOUT ROWID;"
    "CREATE TABLE sections ("
    " run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    " seq INTEGER NOT NULL, phase TEXT NOT NULL, name TEXT NOT NULL, token_index INTEGER,"
    " start_ms REAL, end_ms REAL, dur_ms REAL, energy_j REAL, avg_power_w REAL, method TEXT,"
    " package_j REAL, core_j REAL, uncore_j REAL, dram_j REAL, psys_j REAL, gpu_j REAL,"
    " soc_j REAL, ane_j REAL, total_j REAL,"
    " PRIMARY KEY (run_id, seq)) WITHOUT ROWID;"
    "CREATE TABLE tokens ("
    " run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    " idx INTEGER NOT NULL, text TEXT, is_input INTEGER NOT NULL,"
    " start_ms REAL, end_ms REAL, dur_ms REAL, energy_j REAL, method TEXT,"
    " avg_power_w REAL, power_w REAL, edp_js REAL,"
    " PRIMARY KEY (run_id, idx)) WITHOUT ROWID;"
    "CREATE TABLE layer_metrics ("
    " run_id INTEGER NOT NULL, token_idx INTEGER NOT NULL, layer INTEGER NOT NULL,"
    " dur_ms REAL, energy_j REAL,"
    " PRIMARY KEY (run_id, token_idx, layer),"
    " FOREIGN KEY (run_id, token_idx) REFERENCES tokens(run_id, idx) ON DELETE CASCADE"
    ") WITHOUT ROWID;"
    "CREATE TABLE component_metrics ("
    " run_id INTEGER NOT NULL, token_idx INTEGER NOT NULL, layer INTEGER NOT NULL,"
    " component INTEGER NOT NULL, name TEXT NOT NULL, dur_ms REAL, energy_j REAL,"
    " act_mean_abs REAL, act_std REAL, act_max_abs REAL, act_sparsity REAL,"
    " PRIMARY KEY (run_id, token_idx, layer, component),"
    " FOREIGN KEY (run_id, token_idx, layer)"
    "  REFERENCES layer_metrics(run_id, token_idx, layer) ON DELETE CASCADE"
    ") WITHOUT ROWID;"
    "CREATE TABLE op_metrics ("
    " run_id INTEGER NOT NULL, token_idx INTEGER NOT NULL, layer INTEGER NOT NULL,"
    " component INTEGER NOT NULL, op INTEGER NOT NULL, name TEXT NOT NULL,"
    " dur_ms REAL, energy_j REAL, entropy REAL, max_weight REAL, sparsity REAL,"
    " kill_ratio REAL, var_ratio REAL,"
    " head_entropy BLOB, head_max_weight BLOB, head_sparsity BLOB,"
    " PRIMARY KEY (run_id, token_idx, layer, component, op),"
    " FOREIGN KEY (run_id, token_idx, layer, component)"
    "  REFERENCES component_metrics(run_id, token_idx, layer, component) ON DELETE CASCADE"
    ") WITHOUT ROWID;"
    /* Per (layer, component) sums over tokens, built when a run finishes so
     * summaries of deep runs read hundreds of rows instead of 10^5. */
    "CREATE TABLE component_agg ("
    " run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    " layer INTEGER NOT NULL, component INTEGER NOT NULL, name TEXT NOT NULL,"
    " n INTEGER NOT NULL, dur_ms REAL, energy_j REAL,"
    " PRIMARY KEY (run_id, layer, component)) WITHOUT ROWID;";

/* Batched generation (issue 8): runs.n_seq is the number of sequences
 * generated together (NULL: one, as every run before it); tokens.n_seq on an
 * output row is the number of sequences that produced a token in that decode
 * round (the row is the round; NULL: one). Older rows read as single runs. */
static const char wl__migration_2[] =
    "ALTER TABLE runs ADD COLUMN n_seq INTEGER;"
    "ALTER TABLE tokens ADD COLUMN n_seq INTEGER;";

/* runs.writer_start: the writer's process start token
 * (wl__process_start_token: boot id and start time), so that a pid reused
 * after the writer died, or after a reboot, is not taken for the writer.
 * NULL (older rows, or a system without /proc): the pid alone decides. */
static const char wl__migration_3[] = "ALTER TABLE runs ADD COLUMN writer_start TEXT;";

const char *const wl__sqlite_migrations[] = {
    wl__migration_1,
    wl__migration_2,
    wl__migration_3,
};

const int wl__sqlite_n_migrations =
    (int)(sizeof wl__sqlite_migrations / sizeof wl__sqlite_migrations[0]);

/* What each migration above adds, for readers (sqlite_schema.h). A new
 * migration needs its entry: the columns it adds when it only adds
 * nullable columns (ALTER TABLE ... ADD COLUMN without NOT NULL), else NULL. */
static const struct wl__sqlite_added_column wl__bridge_2[] = {
    {"runs", "n_seq"},
    {"tokens", "n_seq"},
    {NULL, NULL},
};
static const struct wl__sqlite_added_column wl__bridge_3[] = {
    {"runs", "writer_start"},
    {NULL, NULL},
};

const struct wl__sqlite_added_column *const wl__sqlite_read_bridges[] = {
    NULL, /* migration 1 creates the schema */
    wl__bridge_2,
    wl__bridge_3,
};

_Static_assert(sizeof wl__sqlite_read_bridges / sizeof wl__sqlite_read_bridges[0] ==
                   sizeof wl__sqlite_migrations / sizeof wl__sqlite_migrations[0],
               "every migration says whether a reader can bridge it (wl__sqlite_read_bridges)");

_Static_assert(sizeof wl__sqlite_migrations / sizeof wl__sqlite_migrations[0] ==
                   WL_STORE_SCHEMA_VERSION,
               "WL_STORE_SCHEMA_VERSION is the number of migrations");

/* Whether a bridge from version on adds a column to c's table before c
 * (the caller checked that every one from version on is a bridge). */
static bool wl__added_before(int version, const struct wl__sqlite_added_column *c)
{
    for (int v = version; v < wl__sqlite_n_migrations; v++)
        for (const struct wl__sqlite_added_column *p = wl__sqlite_read_bridges[v]; p && p->table;
             p++) {
            if (p == c)
                return false;
            if (strcmp(p->table, c->table) == 0)
                return true;
        }
    return false;
}

/* Appends to buf (used bytes *n); false when it does not fit. */
static bool wl__append(char *buf, size_t size, size_t *n, const char *a, const char *b)
{
    int k = snprintf(buf + *n, size - *n, "%s%s", a, b);
    if (k < 0 || (size_t)k >= size - *n)
        return false;
    *n += (size_t)k;
    return true;
}

int wl__sqlite_read_bridge_sql(int version, char *buf, size_t size)
{
    size_t n = 0;
    if (size == 0 || version < 1 || version > wl__sqlite_n_migrations)
        return -1;
    buf[0] = '\0';
    for (int v = version; v < wl__sqlite_n_migrations; v++)
        if (!wl__sqlite_read_bridges[v])
            return -1;
    /* one view per table, made where its first added column appears */
    for (int v = version; v < wl__sqlite_n_migrations; v++) {
        for (const struct wl__sqlite_added_column *c = wl__sqlite_read_bridges[v]; c->table; c++) {
            if (wl__added_before(version, c))
                continue;
            bool ok = wl__append(buf, size, &n, "CREATE TEMP VIEW ", c->table) &&
                      wl__append(buf, size, &n, " AS SELECT *", "");
            for (int lv = v; lv < wl__sqlite_n_migrations; lv++)
                for (const struct wl__sqlite_added_column *l = wl__sqlite_read_bridges[lv];
                     l->table; l++)
                    if (strcmp(l->table, c->table) == 0)
                        ok = ok && wl__append(buf, size, &n, ", NULL AS ", l->column);
            ok = ok && wl__append(buf, size, &n, " FROM main.", c->table) &&
                 wl__append(buf, size, &n, ";", "");
            if (!ok)
                return -1;
        }
    }
    return (int)n;
}
