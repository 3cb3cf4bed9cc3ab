/* Keeps the test-support library non-empty when no other support file exists. */
typedef int wl_test_support_empty;
