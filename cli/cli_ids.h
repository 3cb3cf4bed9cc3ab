/* Lists of token ids as `wattlens detokenize` takes them (arguments or
 * stdin): decimal ids separated by white space or commas. Split out of
 * cmd_detokenize.c so that the fuzz target (tests/fuzz/fuzz_cli_args.c)
 * runs the same parser. The list owns its array; single-threaded like the
 * rest of cli/.
 */
#ifndef WL_CLI_IDS_H
#define WL_CLI_IDS_H

#include <stddef.h>
#include <stdint.h>

struct wl_cli_ids {
    int32_t *v; /* heap; free with wl_cli_ids_free */
    size_t n, cap;
};

/* Appends every id in the NUL-terminated s to l. An id is plain decimal
 * digits (no sign) from 0 to INT32_MAX; ids are separated by ASCII white
 * space or commas, any number of them. Returns 0; WL_EINVAL with *bad and
 * *bad_len naming the first token (a run of other bytes) that is not an
 * id, l then holding the ids before it; or WL_ENOMEM. */
int wl_cli_ids_parse(struct wl_cli_ids *l, const char *s, const char **bad, size_t *bad_len);

/* Frees the array and empties l. */
void wl_cli_ids_free(struct wl_cli_ids *l);

#endif
