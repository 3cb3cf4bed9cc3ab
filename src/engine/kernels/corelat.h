/* Core-to-core latency: two threads bounce a counter through two cache
 * lines (one each way) and time the round trips. On the development VM (2
 * vCPUs) it is meant to tell where the two vCPUs sit: two threads read
 * ~32-54 GB/s together when they share a limit and ~75 GB/s when each core
 * streams at its own (docs/internals/kernels-decode-far.md, sessions 15-16). Session
 * 15's unpinned readings went with those states (53-293 ns and 538-1153 ns)
 * but also produced false slow readings (see wl_corelat_measure); the
 * pinned readings of session 16 were 51-355 ns (median 108), all in the
 * shared state, so what they read in the other is not yet measured. Benches
 * print it next to their bandwidth readings. Thread-safe (no shared state
 * between calls).
 */
#ifndef WL_ENGINE_KERNELS_CORELAT_H
#define WL_ENGINE_KERNELS_CORELAT_H

struct wl_corelat_result {
    double roundtrip_ns; /* mean time of one round trip (there and back) */
    int n_roundtrips;    /* how many were timed (fewer than asked on timeout) */
    /* The CPUs the two threads were pinned to: the first two the caller may
     * run on. Equal when it may run on one CPU only: the figure is then two
     * context switches, not a trip between cores. -1 when they could not be
     * pinned (affinity unavailable or refused): the scheduler placed them,
     * possibly on one CPU. */
    int cpu_a, cpu_b;
};

/* Starts two threads pinned to two CPUs (see cpu_a, cpu_b) and times up to
 * n round trips (1..10^7) between them, stopping after about max_ms
 * milliseconds (1..60000); the caller waits. Pinned, because unpinned
 * readings on the 2-vCPU development VM were often false (session 16):
 * back to back, 20 of 20 read 5-21 us, as if both threads ran on one CPU;
 * after 10 ms or more of idling they read ~540 ns, and in a monitor that
 * alternated bandwidth passes with both kinds, 399 of 445 unpinned readings
 * were 300 ns or more while 444 pinned ones were below (all rounds in the
 * shared-limit state). Waiting spins with pause, then yields, so that it
 * also ends on a single CPU. Returns 0, WL_EINVAL, or an error from thread
 * creation. */
int wl_corelat_measure(int n, int max_ms, struct wl_corelat_result *out);

/* The two CPUs wl_corelat_measure pins its threads to: the first two the
 * calling thread may run on (its one CPU twice when it may run on one), and
 * how many it may run on. With more than two, the probe reads the distance
 * between those two only, wherever the caller's other threads run. Any
 * pointer may be NULL. Returns 0, or WL_ENOTSUP when the set cannot be read
 * (not Linux): then -1, -1 and 0. */
int wl_corelat_cpus(int *cpu_a, int *cpu_b, int *n_allowed);

#endif
