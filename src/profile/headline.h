/* The headline energy: which hardware domains one total covers, so that no
 * energy is counted twice (see docs/internals/profile.md). Shared by the
 * inference recorder and by saving `wattlens measure` runs. Pure functions
 * over the sampler's domain table; thread-safe.
 */
#ifndef WL_PROFILE_HEADLINE_H
#define WL_PROFILE_HEADLINE_H

#include "sampler/sampler.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* The widest non-nested set of present domains (wl_headline_domains): a
 * backend's total, else the SoC, else package + dram + GPU + ANE when a GPU
 * or ANE is present (never psys + GPU: psys may hold a laptop's discrete
 * GPU) and some CPU domain besides psys is, else psys (with a GPU but no
 * package, dram, core or uncore: psys alone, the GPU left out rather than
 * counted twice), else package + dram; core and uncore only without a
 * package. dom[d] describes domain d. Fills
 * *mask (bit d), *method (the weakest method among them; counter when the
 * mask is empty) and scope ("package+dram"; "" when empty). */
void wl_headline_choose(const struct wl_domain_info dom[WL_DOMAIN_COUNT], uint16_t *mask,
                        enum wl_method *method, char *scope, size_t scope_size);

/* The provenance of every present domain, as stored with a run: a new JSON
 * array of {domain, method, counter, in_headline, sources, power_window_ms}
 * (power_window_ms: how long a sample's power averages over; null for read
 * powers). NULL when out of memory. */
json_t *wl_headline_domains_json(const struct wl_domain_info dom[WL_DOMAIN_COUNT], uint16_t mask);

#endif
