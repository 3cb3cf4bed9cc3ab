/* `wattlens sensors`: tries every power backend and shows what was found
 * (domains, method, resolution, update period) and, for every backend that
 * is not available, why and how to fix it. Thin: the work is in src/sensors. */
#include "cli.h"
#include "cli_text.h"

#include "sensors/sensor.h"
#include "util/json_text.h"
#include "util/utf8.h"
#include "wattlens/wattlens.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: wattlens sensors [--json]\n"
            "\n"
            "Tries every power/energy backend and reports, for each one, what it measures\n"
            "(domains, method, resolution, measured update period) or why it is not\n"
            "available and how to fix that.\n"
            "\n"
            "Backends, in the order tried: rapl-powercap, rapl-perf, rapl-msr (alternatives\n"
            "for the same RAPL counters), nvml (NVIDIA), powermetrics (macOS), hwmon, and the\n"
            "cpu-model estimate, used only when no CPU energy source is readable.\n"
            "\n"
            "Whose CPU time the cpu-model counts depends on the command: `run` counts its\n"
            "own process (all its threads), `measure` the command and its descendants, and\n"
            "`measure --model-system` the whole system. This probe follows the whole system,\n"
            "so its source line says so; `show` gives a run's own (its sensors line).\n"
            "\n"
            "A backend in use lists what it found but does not read (\"not read:\"): a zone,\n"
            "device or GPU that cannot be read (it is skipped, the others are kept); one\n"
            "over the limit of %d channels per sensor (or of GPUs, packages or dies); a\n"
            "powercap zone of an unknown name (its scope is not guessed); a rapl-msr DRAM\n"
            "or psys register whose unit is unknown on this CPU model; or an hwmon\n"
            "whole-system meter other than the one read as the total. Its energies then\n"
            "leave those out: the source says PARTIAL and so does the closing line.\n"
            "\n"
            "\"not summed:\" lines are what a backend can read but adds to no domain: an\n"
            "hwmon device whose scope is unknown (an SFP module, a pump, a VRM: not the\n"
            "whole system, and not a known part of it); a channel inside another one that\n"
            "is read (a GPU's package inside its card, a PSU's rails, an i915 GPU's parts);\n"
            "a TPMI zone of the same domain as an intel-rapl zone that is read; on AMD the\n"
            "powercap core zone (one core's energy, not all cores'); or a psys counter that\n"
            "stays flat or rises far less than the packages inside it (not valid there).\n"
            "They leave no total short, so they do not make it PARTIAL.\n"
            "\n"
            "Options:\n"
            "  --json         print the result as one JSON object (a name, label or path\n"
            "                 that is not UTF-8 shows U+FFFD, and <field>_hex has its bytes)\n"
            "                 instead of text, where the source, why and fix lines show such\n"
            "                 bytes and control characters escaped (\\xNN, \\u00NN, \\\\)\n"
            "  -h, --help     show this help\n"
            "\n"
            "Environment (overrides, mostly for testing):\n"
            "  WATTLENS_SYSFS_ROOT         use this directory instead of /sys (another\n"
            "                              machine's tree: see the two lines below)\n"
            "  WATTLENS_DEV_ROOT           instead of /dev (MSR device files); unset while\n"
            "                              WATTLENS_SYSFS_ROOT is set: the dev/ beside that\n"
            "                              root (<dir>/dev for <dir>/sys), never /dev\n"
            "  WATTLENS_PROC_ROOT          instead of /proc: CPU time (the CPU model), the\n"
            "                              CPU (cpuinfo), the kernel version (hwmon's fix),\n"
            "                              a run writer's liveness (the store); unset while\n"
            "                              WATTLENS_SYSFS_ROOT is set: the CPU and kernel\n"
            "                              from the proc/ beside that root, the rest /proc\n"
            "  WATTLENS_NVML_LIB           NVML library to load (default libnvidia-ml.so.1)\n"
            "  WATTLENS_POWERMETRICS       powermetrics executable to run\n"
            "  WATTLENS_MODEL_IDLE_W       CPU model: idle watts (default %.1f)\n"
            "  WATTLENS_MODEL_BUSY_CORE_W  CPU model: watts per busy core (default %.1f)\n"
            "\n"
            "Examples:\n"
            "  wattlens sensors\n"
            "  sudo wattlens sensors --json\n",
            WL_SENSOR_MAX_CHANNELS, WL_MODEL_DEFAULT_IDLE_W, WL_MODEL_DEFAULT_BUSY_CORE_W);
}

/* True for a part of the CPU package (RAPL's core, uncore); powermetrics'
 * cpu, gpu and ane are parts too, of combined (soc). */
static bool part_of_package(const struct wl_sensor_channel *c)
{
    return (c->flags & WL_CH_PART) &&
           (c->domain == WL_DOMAIN_CORE || c->domain == WL_DOMAIN_UNCORE);
}

/* What the headline does with a channel that holds others or is held
 * (docs/internals/profile.md): psys is never summed, also not with a GPU
 * (a laptop's dGPU is fed through it); a soc holds the CPU and is summed
 * only with a GPU outside it (an AMD APU's discrete GPU). */
static const char *flag_desc(const struct wl_sensor_channel *c)
{
    if ((c->flags & WL_CH_CONTAINS) && c->domain == WL_DOMAIN_PSYS)
        return "contains the packages, and maybe a laptop's GPU: never summed with either";
    if (c->flags & WL_CH_CONTAINS)
        return "contains other domains (never summed with them)";
    if (part_of_package(c))
        return "part of the package";
    if (c->flags & WL_CH_PART)
        return "part of combined (never summed with it)";
    return "";
}

static json_t *channel_json(const struct wl_sensor_channel *c)
{
    json_t *j = json_object();
    /* names and labels come from sysfs files and NVML and can be any bytes:
     * then also name_hex / label_hex (util/json_text.h) */
    wl_json_set_text(j, "name", c->name);
    wl_json_set_text(j, "label", c->label);
    json_object_set_new(j, "domain", json_string(wl_domain_name(c->domain)));
    json_object_set_new(j, "method", json_string(wl_method_key(c->method)));
    json_object_set_new(j, "method_label", json_string(wl_method_label(c->method)));
    json_object_set_new(j, "measured", json_boolean(wl_method_is_measured(c->method)));
    json_object_set_new(j, "energy_counter", json_boolean(c->flags & WL_CH_ENERGY));
    json_object_set_new(j, "power", json_boolean(c->flags & WL_CH_POWER));
    json_object_set_new(j, "contains_other_domains", json_boolean(c->flags & WL_CH_CONTAINS));
    json_object_set_new(j, "part_of_package", json_boolean(part_of_package(c)));
    /* WL_CH_PART, of any channel: core/uncore of their package and
     * powermetrics' cpu/gpu/ane of combined (an Apple soc holds its gpu; an
     * AMD APU's soc does not hold a discrete one, which is not a part) */
    json_object_set_new(j, "part_of_another_domain", json_boolean(c->flags & WL_CH_PART));
    if (c->resolution_uj > 0)
        json_object_set_new(j, "resolution_uj", json_real(c->resolution_uj));
    if (c->power_resolution_w > 0)
        json_object_set_new(j, "power_resolution_w", json_real(c->power_resolution_w));
    return j;
}

/* Whose CPU time the model counts, per command (the probe here follows the
 * whole system; recorder.c and sampler/measure.c choose the scopes). */
static const char *const model_cpu_time[][2] = {
    {"run", "wattlens's own process (all its threads, no descendants)"},
    {"measure", "the command and its descendants"},
    {"measure --model-system", "the whole system"},
};
#define N_MODEL_CPU_TIME (sizeof model_cpu_time / sizeof model_cpu_time[0])

static bool is_model(const struct wl_sensor_info *in)
{
    return in->n_channels && in->ch[0].method == WL_METHOD_MODEL_ESTIMATE;
}

static wl_sensor *find_sensor(const wl_sensor_set *set, const char *backend)
{
    for (unsigned i = 0; i < wl_sensor_set_count(set); i++) {
        wl_sensor *s = wl_sensor_set_get(set, i);
        if (strcmp(wl_sensor_get_info(s)->backend, backend) == 0)
            return s;
    }
    return NULL;
}

/* One read of the sensor for the GPU figures (utilisation, memory, temperature);
 * returns false when the read fails. */
static bool read_once(wl_sensor *s, struct wl_sensor_reading *r)
{
    return s && wl_sensor_read(s, r) == 0;
}

static json_t *gpu_info_json(const struct wl_channel_value *v)
{
    json_t *g = json_object();
    json_object_set_new(g, "utilization_pct", json_real(v->util_pct));
    json_object_set_new(g, "memory_used_bytes", json_integer((json_int_t)v->mem_used_b));
    json_object_set_new(g, "temperature_c", json_real(v->temp_c));
    return g;
}

/* Sets obj["n_<key>"] to n and obj[key] to the texts kept of them (the
 * first WL_SENSOR_MAX_NOT_READ): a sensor's not_read or not_summed. */
static void notes_json(json_t *obj, const char *key, unsigned n,
                       const char (*texts)[WL_SENSOR_NOTE_MAX])
{
    char nkey[32];
    snprintf(nkey, sizeof nkey, "n_%s", key);
    json_object_set_new(obj, nkey, json_integer(n));
    json_t *arr = json_array();
    for (unsigned k = 0; k < n && k < WL_SENSOR_MAX_NOT_READ; k++)
        json_array_append_new(arr, wl_json_text(texts[k], strlen(texts[k]), NULL));
    json_object_set_new(obj, key, arr);
}

static int print_json(const wl_sensor_set *set)
{
    json_t *root = json_object();
    json_t *arr = json_array();
    for (unsigned i = 0; i < wl_sensor_set_status_count(set); i++) {
        const struct wl_sensor_status *st = wl_sensor_set_status(set, i);
        json_t *b = json_object();
        json_object_set_new(b, "backend", json_string(st->backend));
        json_object_set_new(b, "description", json_string(st->what));
        json_object_set_new(b, "available", json_boolean(st->available));
        json_object_set_new(b, "skipped", json_boolean(st->skipped));
        if (!st->available) {
            json_object_set_new(b, "error",
                                json_string(st->code ? wl_strerror_name(st->code) : ""));
            /* they name paths (WATTLENS_SYSFS_ROOT, ...), which need not be UTF-8 */
            wl_json_set_text(b, "why", st->why);
            wl_json_set_text(b, "fix", st->fix);
        }
        wl_sensor *sen = st->available ? find_sensor(set, st->backend) : NULL;
        const struct wl_sensor_info *in = sen ? wl_sensor_get_info(sen) : NULL;
        struct wl_sensor_reading rd;
        bool have_rd = read_once(sen, &rd);
        if (in) {
            wl_json_set_text(b, "source", in->source);
            json_object_set_new(b, "update_period_ms",
                                in->update_period_ns ? json_real((double)in->update_period_ns / 1e6)
                                                     : json_null());
            json_object_set_new(b, "update_period_measured", json_boolean(in->period_measured));
            if (is_model(in)) {
                json_t *ct = json_object();
                for (size_t k = 0; k < N_MODEL_CPU_TIME; k++)
                    json_object_set_new(ct, model_cpu_time[k][0],
                                        json_string(model_cpu_time[k][1]));
                json_object_set_new(b, "cpu_time_by_command", ct);
            }
            json_t *chs = json_array();
            for (unsigned c = 0; c < in->n_channels; c++) {
                json_t *cj = channel_json(&in->ch[c]);
                if (have_rd && c < rd.n_channels && (rd.v[c].valid & WL_CH_GPU_INFO))
                    json_object_set_new(cj, "gpu", gpu_info_json(&rd.v[c]));
                json_array_append_new(chs, cj);
            }
            json_object_set_new(b, "channels", chs);
            /* found but not read: the sensor's energies leave these out */
            json_object_set_new(b, "partial", json_boolean(in->n_not_read > 0));
            notes_json(b, "not_read", in->n_not_read, in->not_read);
            /* found and readable but added to no domain: not partial */
            notes_json(b, "not_summed", in->n_not_summed, in->not_summed);
            /* how to read what is not read (a root-only zone), when known */
            if (st->fix[0])
                wl_json_set_text(b, "fix", st->fix);
        }
        json_array_append_new(arr, b);
    }
    json_object_set_new(root, "backends", arr);
    bool model_only = wl_sensor_set_model_only(set);
    json_object_set_new(root, "sensors_in_use", json_integer(wl_sensor_set_count(set)));
    json_object_set_new(root, "model_only", json_boolean(model_only));
    json_object_set_new(root, "partial", json_boolean(wl_sensor_set_n_not_read(set) > 0));
    json_object_set_new(root, "energy_source",
                        json_string(wl_provenance_summary(wl_sensor_set_method_mask(set))));
    return wl_cli_print_json(root);
}

/* prefix, then text from sysfs, NVML or a path escaped (cli_text.h): a
 * directory or hwmon name can hold ESC or a C1 control; then a newline. */
static void text_line(const char *prefix, const char *text)
{
    fputs(prefix, stdout);
    wl_cli_put_text(stdout, text);
    putchar('\n');
}

/* One line per text kept of n notes (prefix first), then how many more. */
static void notes_print(const char *prefix, unsigned n, const char (*texts)[WL_SENSOR_NOTE_MAX])
{
    for (unsigned k = 0; k < n && k < WL_SENSOR_MAX_NOT_READ; k++)
        text_line(prefix, texts[k]);
    if (n > WL_SENSOR_MAX_NOT_READ)
        printf("%s%u more\n", prefix, n - WL_SENSOR_MAX_NOT_READ);
}

static void print_text(const wl_sensor_set *set)
{
    printf("Power sensors on this machine\n\n");
    for (unsigned i = 0; i < wl_sensor_set_status_count(set); i++) {
        const struct wl_sensor_status *st = wl_sensor_set_status(set, i);
        wl_sensor *sen = st->available ? find_sensor(set, st->backend) : NULL;
        const struct wl_sensor_info *in = sen ? wl_sensor_get_info(sen) : NULL;
        struct wl_sensor_reading rd;
        bool have_rd = read_once(sen, &rd);
        if (in) {
            bool model = is_model(in);
            printf("  %-14s IN USE%s\n", st->backend,
                   model ? " - an ESTIMATE, not a measurement" : "");
            printf("      %s\n", st->what);
            text_line("      source: ", in->source);
            if (model) {
                /* the source is this probe's scope, not the one each command uses */
                printf(
                    "      CPU time counted, by command (this probe counts the whole system's):\n");
                for (size_t k = 0; k < N_MODEL_CPU_TIME; k++)
                    printf("        %-24s %s\n", model_cpu_time[k][0], model_cpu_time[k][1]);
            }
            if (in->update_period_ns)
                printf("      update period: %.3f ms (%s)\n", (double)in->update_period_ns / 1e6,
                       in->period_measured ? "measured at open" : "nominal, not measured");
            else
                printf("      update period: not measured (fewer than two changes while probing;\n"
                       "                     the sampler learns a counter's while sampling)\n");
            /* the channel column in display columns, as wide as the widest
             * name (hwmon names such as "hwmon3/power_meter/power1" are
             * longer than 22); labels go last, on one line each */
            enum { CHANNEL_W = 22 };
            size_t cw = CHANNEL_W;
            for (unsigned c = 0; c < in->n_channels; c++) {
                size_t w = wl_utf8_width(in->ch[c].name, strlen(in->ch[c].name));
                cw = w > cw ? w : cw;
            }
            /* a name or label (< WL_SENSOR_NAME_MAX bytes) is never cut: the
             * column is as wide as the widest name, and U+FFFD is 3 bytes for 1 */
            char cell[4 * WL_SENSOR_NAME_MAX], label[4 * WL_SENSOR_NAME_MAX];
            printf("      %s %-8s %-27s %s\n", wl_utf8_cell("channel", cw, true, cell, sizeof cell),
                   "domain", "method", "resolution");
            for (unsigned c = 0; c < in->n_channels; c++) {
                const struct wl_sensor_channel *ch = &in->ch[c];
                char res[48] = "-";
                /* J from 1 J (SPR's psys): never "1e+03 mJ" */
                if (ch->resolution_uj >= 999500)
                    snprintf(res, sizeof res, "%.3g J", ch->resolution_uj / 1e6);
                else if (ch->resolution_uj >= 999.5)
                    snprintf(res, sizeof res, "%.3g mJ", ch->resolution_uj / 1000);
                else if (ch->resolution_uj > 0)
                    snprintf(res, sizeof res, "%.3g uJ", ch->resolution_uj);
                else if (ch->power_resolution_w >= 0.9995)
                    snprintf(res, sizeof res, "%.3g W", ch->power_resolution_w);
                else if (ch->power_resolution_w > 0)
                    snprintf(res, sizeof res, "%.3g mW", ch->power_resolution_w * 1000);
                printf("      %s %-8s %-27s %s",
                       wl_utf8_cell(ch->name, cw, true, cell, sizeof cell),
                       wl_domain_name(ch->domain), wl_method_label(ch->method), res);
                if (ch->label[0])
                    printf("  [%s]",
                           wl_utf8_cell(ch->label, WL_SENSOR_NAME_MAX, false, label, sizeof label));
                const char *fd = flag_desc(ch);
                if (*fd)
                    printf("  (%s)", fd);
                printf("\n");
                if (have_rd && c < rd.n_channels && (rd.v[c].valid & WL_CH_GPU_INFO))
                    printf("      %s utilisation %.0f %%, memory used %.2f GiB, %.0f C\n",
                           wl_utf8_cell("", cw, true, cell, sizeof cell), rd.v[c].util_pct,
                           (double)rd.v[c].mem_used_b / (1024.0 * 1024 * 1024), rd.v[c].temp_c);
            }
            notes_print("      not read: ", in->n_not_read, in->not_read);
            notes_print("      not summed: ", in->n_not_summed, in->not_summed);
            if (st->fix[0]) /* how to read what is not read */
                text_line("      fix: ", st->fix);
        } else if (st->skipped) {
            printf("  %-14s ", st->backend);
            text_line("not used: ", st->why);
        } else {
            printf("  %-14s NOT AVAILABLE\n", st->backend);
            printf("      %s\n", st->what);
            text_line("      why: ", st->why);
            if (st->fix[0])
                text_line("      fix: ", st->fix);
        }
        printf("\n");
    }
    unsigned n_not_read = wl_sensor_set_n_not_read(set);
    if (wl_sensor_set_count(set) == 0)
        printf("No power source at all could be opened: energy cannot be reported.\n");

    else if (wl_sensor_set_model_only(set))
        printf("No hardware power sensor is readable here. Energy figures will be ESTIMATES from\n"
               "the CPU-time model (labelled \"%s\"), not measurements.\n",
               wl_method_label(WL_METHOD_MODEL_ESTIMATE));
    else if (wl_sensor_set_method_mask(set) & (1u << WL_METHOD_MODEL_ESTIMATE))
        printf("Energy figures: %s. The CPU figures are ESTIMATES from the CPU-time model\n"
               "(no CPU energy source is readable); the others are labelled with their method.\n",
               wl_provenance_summary(wl_sensor_set_method_mask(set)));
    else if (!n_not_read)
        printf("Energy figures: %s, by the sensors marked IN USE.\n",
               wl_provenance_summary(wl_sensor_set_method_mask(set)));
    else
        printf("Energy figures: %s, by the sensors marked IN USE, but PARTIAL.\n",
               wl_provenance_summary(wl_sensor_set_method_mask(set)));
    if (wl_sensor_set_count(set) && n_not_read)
        printf("PARTIAL: %u zone(s)/device(s)/GPU(s) found are not read (the \"not read\" lines\n"
               "above): every total leaves them out.\n",
               n_not_read);
}

static int run_sensors(int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bool json = false;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 'j':
            json = true;
            break;
        case 'h':
            wl_cli_print_help(usage);
            return WL_EXIT_OK;
        default:
            return wl_cli_option_error("sensors", c, argv, opts);
        }
    }
    if (optind < argc)
        return wl_cli_usage_error("sensors", "unexpected argument '%s' (%s)", argv[optind],
                                  wl_cli_stray_argument_hint(argv[optind], WL_CLI_ARGS_PROBE));
    struct wl_sensor_params p;
    wl_sensor_params_default(&p);
    wl_sensor_set *set = NULL;
    int rc = wl_sensor_set_open(&p, &set);
    if (rc != 0)
        return wl_cli_fail("sensors", "cannot probe sensors: %s", wl_strerror(rc));
    int ret = WL_EXIT_OK;
    if (json)
        ret = print_json(set);
    else
        print_text(set);
    wl_sensor_set_close(set);
    return ret;
}

const struct wl_cli_command wl_cli_cmd_sensors = {"sensors",
                                                  "show which power sensors work here and how to "
                                                  "fix the others",
                                                  run_sensors};
