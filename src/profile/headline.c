/* Choosing the headline energy's domains; see headline.h. */
#include "profile/headline.h"

#include "util/json_text.h"

#include <stdio.h>

void wl_headline_choose(const struct wl_domain_info dom[WL_DOMAIN_COUNT], uint16_t *mask,
                        enum wl_method *method, char *scope, size_t scope_size)
{
    uint16_t present = 0, parts = 0;
    for (int d = 0; d < WL_DOMAIN_COUNT; d++) {
        if (dom[d].present)
            present |= (uint16_t)(1u << d);
        if (dom[d].present && dom[d].part)
            parts |= (uint16_t)(1u << d);
    }
    const uint16_t m = (uint16_t)wl_headline_domains(present, parts);
    *mask = m;
    *method = WL_METHOD_COUNTER;
    size_t n = 0;
    if (scope_size)
        scope[0] = '\0';
    for (int d = 0; d < WL_DOMAIN_COUNT; d++) {
        if (!(m & (1u << d)))
            continue;
        if (dom[d].method > *method)
            *method = dom[d].method;
        n += (size_t)snprintf(scope + n, n < scope_size ? scope_size - n : 0, "%s%s", n ? "+" : "",
                              wl_domain_name((enum wl_domain)d));
        if (n >= scope_size)
            n = scope_size ? scope_size - 1 : 0;
    }
}

json_t *wl_headline_domains_json(const struct wl_domain_info dom[WL_DOMAIN_COUNT], uint16_t mask)
{
    json_t *doms = json_array();
    for (int d = 0; doms && d < WL_DOMAIN_COUNT; d++) {
        const struct wl_domain_info *di = &dom[d];
        if (!di->present)
            continue;
        json_t *o = json_object();
        json_object_set_new(o, "domain", json_string(wl_domain_name((enum wl_domain)d)));
        json_object_set_new(o, "method", json_string(wl_method_key(di->method)));
        json_object_set_new(o, "counter", json_boolean(di->counter));
        json_object_set_new(o, "in_headline", json_boolean(mask & (1u << d)));
        wl_json_set_text(o, "sources", di->sources); /* sensor names: any bytes */
        json_object_set_new(o, "power_window_ms",
                            di->power_window_ns ? json_real((double)di->power_window_ns / 1e6)
                                                : json_null());
        json_array_append_new(doms, o);
    }
    return doms;
}
