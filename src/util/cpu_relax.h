/* A spin-wait hint for busy-wait loops: PAUSE on x86, YIELD on AArch64,
 * nothing elsewhere. Used by the thread pool and the core-latency probe.
 */
#ifndef WL_UTIL_CPU_RELAX_H
#define WL_UTIL_CPU_RELAX_H

static inline void wl_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

#endif
