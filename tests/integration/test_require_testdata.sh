#!/usr/bin/env bash
# Missing shared test data: a test that needs it is skipped (exit 77, which
# ctest reports as skipped), or fails when WL_REQUIRE_TESTDATA is set. .ci/run
# sets it where ../shared/testdata exists, so a file missing from it fails;
# where the directory is absent, .ci/run warns that those tests are skipped. Checked on test_tokenize.sh and test_threads_default.sh with
# WL_TESTDATA pointing at an empty directory.
set -u
: "${WATTLENS:?}" "${WL_TESTDATA:?}"
. "$(dirname "$0")/common.sh"
mkdir -p "$tmp/empty"
for t in test_tokenize.sh test_threads_default.sh; do
  env -u WL_REQUIRE_TESTDATA WL_TESTDATA="$tmp/empty" bash "$WL_IT_DIR/$t" >"$tmp/out" 2>&1
  rc=$?
  [ $rc = 77 ] && grep -q "^SKIP: shared test data missing" "$tmp/out" \
    && ok "$t without the data: skipped (77)" || bad "$t without the data: exit $rc: $(cat "$tmp/out")"
  WL_REQUIRE_TESTDATA=1 WL_TESTDATA="$tmp/empty" bash "$WL_IT_DIR/$t" >"$tmp/out" 2>&1
  rc=$?
  [ $rc = 1 ] && grep -q "^FAIL: shared test data missing" "$tmp/out" \
    && ok "$t without the data, WL_REQUIRE_TESTDATA set: fails" \
    || bad "$t without the data, WL_REQUIRE_TESTDATA set: exit $rc: $(cat "$tmp/out")"
done
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
