/* A fake /dev/cpu/N/msr for tests: a sparse regular file holding each
 * register's 64-bit value at the register's number as its offset, as the
 * msr driver's pread does. Test-only code; no state.
 */
#ifndef WL_TEST_FAKE_MSR_H
#define WL_TEST_FAKE_MSR_H

#include <stdint.h>

/* Writes v as register reg of cpu's device, dev_root/cpu/<cpu>/msr, making
 * the cpu/ and cpu/<cpu>/ folders (dev_root must exist) and the file as
 * needed; the file's other registers stay as they were. Asserts it wrote. */
void wl_test_put_msr(const char *dev_root, int cpu, uint32_t reg, uint64_t v);
/* The same in a fake machine's dev/ folder: root/dev/cpu/<cpu>/msr. */
void wl_test_put_machine_msr(const char *root, int cpu, uint32_t reg, uint64_t v);

#endif
