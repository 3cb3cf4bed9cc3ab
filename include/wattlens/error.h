/* wattlens public error codes.
 *
 * Every library function that can fail returns int: 0 on success or one of the
 * negative WL_E* codes below. wl_strerror() maps a code to a static string.
 * Functions that parse input also fill a caller-provided message buffer with
 * what was wrong and where (byte offset, line), see each function's header.
 */
#ifndef WATTLENS_ERROR_H
#define WATTLENS_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

enum wl_error {
    WL_OK = 0,
    WL_EINVAL = -1,      /* invalid argument */
    WL_ENOMEM = -2,      /* out of memory */
    WL_EIO = -3,         /* input/output error */
    WL_ENOENT = -4,      /* no such file, key or object */
    WL_EACCES = -5,      /* permission denied */
    WL_ENOTSUP = -6,     /* not supported here (missing hardware, backend or feature) */
    WL_EFORMAT = -7,     /* malformed input (file, stream, document) */
    WL_ERANGE = -8,      /* value out of range or arithmetic overflow */
    WL_EBUSY = -9,       /* resource busy or locked */
    WL_EVERSION = -10,   /* version not supported (e.g. database from a newer wattlens) */
    WL_ESENSOR = -11,    /* sensor read failed */
    WL_ESTATE = -12,     /* call not valid in the object's current state */
    WL_ECANCELED = -13,  /* operation cancelled */
    WL_EFULL = -14,      /* capacity exhausted (context window, buffer) */
    WL_ETIMEDOUT = -15,  /* timed out */
    WL_EDB = -16,        /* database error */
    WL_EEXIST = -17,     /* already exists */
    WL_ECHILD = -18,     /* child process could not be started or failed */
};

/* Returns a static, human-readable description of code (never NULL). */
const char *wl_strerror(int code);

/* Returns the symbolic name of code, e.g. "WL_EFORMAT" (never NULL). */
const char *wl_strerror_name(int code);

/* Maps an errno value to the closest WL_E* code. */
int wl_error_from_errno(int errnum);

#ifdef __cplusplus
}
#endif
#endif
