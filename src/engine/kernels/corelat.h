/* Core-to-core latency: two threads bounce a counter through two cache
 * lines (one each way) and time the round trips. On the development VM (2
 * vCPUs) it tells the two bandwidth states apart: round trips of 53-293 ns
 * when two threads read ~32-54 GB/s, 538-1153 ns when they read ~55-83 GB/s
 * (the vCPUs then sit far apart, and each core streams at its own limit;
 * docs/internals/kernels.md, session 15; transitions aside). Benches print it next to their
 * bandwidth readings. Thread-safe (no shared state between calls).
 */
#ifndef WL_ENGINE_KERNELS_CORELAT_H
#define WL_ENGINE_KERNELS_CORELAT_H

struct wl_corelat_result {
    double roundtrip_ns; /* mean time of one round trip (there and back) */
    int n_roundtrips;    /* how many were timed (fewer than asked on timeout) */
};

/* Starts one thread (not pinned: on a machine with two idle CPUs the
 * scheduler puts the two on different CPUs; on one CPU the figure is a
 * context switch) and times up to n round trips (1..10^7), stopping after
 * about max_ms milliseconds (1..60000). Waiting spins with pause, then
 * yields, so that it also ends on a single CPU. Returns 0, WL_EINVAL, or an
 * error from thread creation. */
int wl_corelat_measure(int n, int max_ms, struct wl_corelat_result *out);

#endif
