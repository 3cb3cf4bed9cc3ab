/* Pre-tokenizers of byte-level BPE: split a text fragment into words before
 * merging, exactly as llama.cpp does for each tokenizer.ggml.pre value.
 *
 * llama.cpp applies a list of regexes in turn; each one re-splits every piece
 * produced so far into its matches and the gaps between them. Two of them
 * (GPT-2's and Llama 3's) have hand-written matchers there; the rest run
 * through std::regex with leftmost, first-alternative-wins semantics. Every
 * regex used by the supported pre-tokenizers is re-implemented here as a
 * linear scan with the same semantics (see docs/internals/tokenizer.md), over
 * "units": one code point, or one byte that is not valid UTF-8 (classified as
 * U+FFFD, as llama.cpp does, but kept as its own byte so nothing is lost).
 * Per-call memory only; thread-safe.
 */
#include "engine/tokenizer_impl.h"

#include "wattlens/error.h"

#include <stdlib.h>

struct unit {
    uint32_t off; /* byte offset of the unit in the fragment */
    uint32_t cp;
    uint8_t flags;
};

/* Splitting context: units of the fragment, output piece ends (unit indices). */
struct split {
    const struct unit *u;
    size_t n;
    struct wl__tok_uvec *out;
    uint32_t prev_end;
    int rc;
};

static void emit(struct split *s, size_t end)
{
    if (end > s->prev_end && s->rc == 0)
        s->rc = wl__tok_uvec_push(s->out, (uint32_t)end);
    if (end > s->prev_end)
        s->prev_end = (uint32_t)end;
}

/* Flags of unit pos when inside [a, b), else 0 (the regex's end of input). */
static unsigned fl(const struct split *s, size_t pos, size_t b)
{
    return pos < b ? s->u[pos].flags : 0;
}

static uint32_t cpat(const struct split *s, size_t pos, size_t b)
{
    return pos < b ? s->u[pos].cp : 0xFFFFFFFFu;
}

/* 's|'t|'re|'ve|'m|'ll|'d (optionally case-insensitive): length or 0. */
static size_t contraction(const struct split *s, size_t pos, size_t b, bool fold)
{
    if (s->u[pos].cp != '\'' || pos + 1 >= b)
        return 0;
    uint32_t c1 = s->u[pos + 1].cp;
    if (fold)
        c1 = wl__tok_cp_lower(c1);
    if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd')
        return 2;
    if (pos + 2 < b) {
        uint32_t c2 = s->u[pos + 2].cp;
        if (fold)
            c2 = wl__tok_cp_lower(c2);
        if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l'))
            return 3;
    }
    return 0;
}

/* GPT-2: 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+ */
static void split_gpt2(struct split *s, size_t a, size_t b)
{
    const unsigned LNW = WL__CF_L | WL__CF_N | WL__CF_WS;
    size_t pos = a;
    while (pos < b) {
        uint32_t cp = s->u[pos].cp;
        unsigned f = s->u[pos].flags;
        size_t c = contraction(s, pos, b, false);
        if (c) {
            pos += c;
            emit(s, pos);
            continue;
        }
        unsigned f2 = cp == ' ' ? fl(s, pos + 1, b) : f;
        if (f2 & WL__CF_L) {
            pos += cp == ' ';
            while (fl(s, pos, b) & WL__CF_L)
                pos++;
            emit(s, pos);
            continue;
        }
        if (f2 & WL__CF_N) {
            pos += cp == ' ';
            while (fl(s, pos, b) & WL__CF_N)
                pos++;
            emit(s, pos);
            continue;
        }
        if (!(f2 & LNW) && f2) {
            pos += cp == ' ';
            for (unsigned g = fl(s, pos, b); g && !(g & LNW); g = fl(s, pos, b))
                pos++;
            emit(s, pos);
            continue;
        }
        size_t nws = 0;
        while (fl(s, pos + nws, b) & WL__CF_WS)
            nws++;
        if (nws > 1 && pos + nws < b) { /* \s+(?!\S): leave the last one to the next word */
            pos += nws - 1;
            emit(s, pos);
            continue;
        }
        if (nws > 0) {
            pos += nws;
            emit(s, pos);
            continue;
        }
        emit(s, ++pos);
    }
}

/* Llama 3 (max_digits 3) and Qwen2 (max_digits 1):
 * (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,k}| ?[^\s\p{L}\p{N}]+[\r\n]*|
 * \s*[\r\n]+|\s+(?!\S)|\s+ */
static void split_llama3(struct split *s, size_t a, size_t b, size_t max_digits)
{
    const unsigned LNW = WL__CF_L | WL__CF_N | WL__CF_WS;
    size_t pos = a;
    while (pos < b) {
        uint32_t cp = s->u[pos].cp;
        unsigned f = s->u[pos].flags;
        size_t c = contraction(s, pos, b, true);
        if (c) {
            pos += c;
            emit(s, pos);
            continue;
        }
        if (!(cp == '\r' || cp == '\n' || (f & WL__CF_N))) {
            if ((f & WL__CF_L) || (fl(s, pos + 1, b) & WL__CF_L)) {
                pos++;
                while (fl(s, pos, b) & WL__CF_L)
                    pos++;
                emit(s, pos);
                continue;
            }
        }
        if (f & WL__CF_N) {
            size_t ini = pos;
            while (fl(s, pos, b) & WL__CF_N) {
                if (++pos - ini >= max_digits) {
                    emit(s, pos);
                    ini = pos;
                }
            }
            emit(s, pos);
            continue;
        }
        unsigned f2 = cp == ' ' ? fl(s, pos + 1, b) : f;
        if (!(f2 & LNW) && f) {
            pos += cp == ' ';
            for (unsigned g = fl(s, pos, b); g && !(g & LNW); g = fl(s, pos, b))
                pos++;
            for (uint32_t c2 = cpat(s, pos, b); c2 == '\r' || c2 == '\n'; c2 = cpat(s, pos, b))
                pos++;
            emit(s, pos);
            continue;
        }
        size_t nws = 0, last_rn = 0;
        while (fl(s, pos + nws, b) & WL__CF_WS) {
            uint32_t c2 = s->u[pos + nws].cp;
            if (c2 == '\r' || c2 == '\n')
                last_rn = pos + nws + 1;
            nws++;
        }
        if (last_rn > 0) { /* \s*[\r\n]+ ends after the last newline of the run */
            pos = last_rn;
            emit(s, pos);
            continue;
        }
        if (nws > 1 && pos + nws < b) {
            pos += nws - 1;
            emit(s, pos);
            continue;
        }
        if (nws > 0) {
            pos += nws;
            emit(s, pos);
            continue;
        }
        emit(s, ++pos);
    }
}

/* ---- character classes of the std::regex-based rules ---------------------- */

enum cls {
    CLS_CRLF,         /* [\r\n] */
    CLS_N,            /* \p{N} */
    CLS_L,            /* \p{L} */
    CLS_P,            /* \p{P} */
    CLS_PUNCT_SYM,    /* [\p{P}\$\+<=>\^~\|] */
    CLS_PUNCT_SYM_BT, /* [\p{P}\$\+<=>\^~\|`] */
    CLS_DS_LETTER,    /* deepseek-llm's explicit letter ranges */
    CLS_DS_PUNCT,     /* [!-/:-~！-／：-～‘-‟　-。] */
    CLS_CJK,          /* [一-龥ࠀ-一가-퟿] */
};

struct range {
    uint32_t lo, hi;
};

/* The cased-letter ranges of deepseek-llm's pre-tokenizer regex. */
static const struct range ds_letter[] = {
    {0x0041, 0x005A},   {0x0061, 0x007A},   {0x00B5, 0x00B5},   {0x00C0, 0x00D6},
    {0x00D8, 0x00F6},   {0x00F8, 0x01BA},   {0x01BC, 0x01BF},   {0x01C4, 0x0293},
    {0x0295, 0x02AF},   {0x0370, 0x0373},   {0x0376, 0x0377},   {0x037B, 0x037D},
    {0x037F, 0x037F},   {0x0386, 0x0386},   {0x0388, 0x038A},   {0x038C, 0x038C},
    {0x038E, 0x03A1},   {0x03A3, 0x03F5},   {0x03F7, 0x0481},   {0x048A, 0x052F},
    {0x0531, 0x0556},   {0x10A0, 0x10C5},   {0x13A0, 0x13F5},   {0x13F8, 0x13FD},
    {0x1C90, 0x1CBA},   {0x1CBD, 0x1CBF},   {0x1D00, 0x1D2B},   {0x1D6B, 0x1D77},
    {0x1D79, 0x1D9A},   {0x1E00, 0x1F15},   {0x1F18, 0x1F1D},   {0x1F20, 0x1F45},
    {0x1F48, 0x1F4D},   {0x1F50, 0x1F57},   {0x1F59, 0x1F59},   {0x1F5B, 0x1F5B},
    {0x1F5D, 0x1F5D},   {0x1F5F, 0x1F7D},   {0x1F80, 0x1FB4},   {0x1FB6, 0x1FBC},
    {0x1FBE, 0x1FBE},   {0x1FC2, 0x1FC4},   {0x1FC6, 0x1FCC},   {0x1FD0, 0x1FD3},
    {0x1FD6, 0x1FDB},   {0x1FE0, 0x1FEC},   {0x1FF2, 0x1FF4},   {0x1FF6, 0x1FFC},
    {0x2102, 0x2102},   {0x2107, 0x2107},   {0x210A, 0x2113},   {0x2115, 0x2115},
    {0x2119, 0x211D},   {0x2124, 0x2124},   {0x2126, 0x2126},   {0x2128, 0x2128},
    {0x212A, 0x212D},   {0x212F, 0x2134},   {0x2139, 0x2139},   {0x213C, 0x213F},
    {0x2145, 0x2149},   {0x214E, 0x214E},   {0x2183, 0x2184},   {0x2C00, 0x2C7B},
    {0x2C7E, 0x2CE4},   {0x2CEB, 0x2CEE},   {0x2CF2, 0x2CF3},   {0xA640, 0xA66D},
    {0xA680, 0xA69B},   {0xA722, 0xA76F},   {0xA771, 0xA787},   {0xA78B, 0xA78E},
    {0xAB70, 0xABBF},   {0xFB00, 0xFB06},   {0xFB13, 0xFB17},   {0xFF21, 0xFF3A},
    {0xFF41, 0xFF5A},   {0x10400, 0x1044F}, {0x104B0, 0x104D3}, {0x104D8, 0x104FB},
    {0x10C80, 0x10CB2}, {0x10CC0, 0x10CF2}, {0x118A0, 0x118DF}, {0x1E900, 0x1E943},
};

static const struct range ds_punct[] = {
    {0x0021, 0x002F}, {0x003A, 0x007E}, {0x2018, 0x201F},
    {0x3000, 0x3002}, {0xFF01, 0xFF0F}, {0xFF1A, 0xFF5E},
};

static const struct range cjk[] = {
    {0x0800, 0x9FA5}, /* 一-龥 and ࠀ-一 */
    {0xAC00, 0xD7FF},
};

static bool in_ranges(const struct range *r, size_t n, uint32_t cp)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cp < r[mid].lo)
            hi = mid;
        else if (cp > r[mid].hi)
            lo = mid + 1;
        else
            return true;
    }
    return false;
}

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static bool in_cls(enum cls c, const struct unit *u)
{
    uint32_t cp = u->cp;
    /* Rules without \p{..} run on code points where llama.cpp replaced every
     * non-ASCII White_Space character by U+000B, so ranges never see them. */
    bool ws_hidden = cp > 0x7F && (u->flags & WL__CF_WS);
    switch (c) {
    case CLS_CRLF:
        return cp == '\r' || cp == '\n';
    case CLS_N:
        return u->flags & WL__CF_N;
    case CLS_L:
        return u->flags & WL__CF_L;
    case CLS_P:
        return u->flags & WL__CF_P;
    case CLS_PUNCT_SYM:
    case CLS_PUNCT_SYM_BT:
        if (u->flags & WL__CF_P)
            return true;
        return cp == '$' || cp == '+' || cp == '<' || cp == '=' || cp == '>' || cp == '^' ||
               cp == '~' || cp == '|' || (c == CLS_PUNCT_SYM_BT && cp == '`');
    case CLS_DS_LETTER:
        if (cp < 0x80)
            return (cp | 0x20) >= 'a' && (cp | 0x20) <= 'z';
        return !ws_hidden && in_ranges(ds_letter, N_OF(ds_letter), cp);
    case CLS_DS_PUNCT:
        if (cp < 0x80)
            return (cp >= 0x21 && cp <= 0x2F) || (cp >= 0x3A && cp <= 0x7E);
        return !ws_hidden && in_ranges(ds_punct, N_OF(ds_punct), cp);
    case CLS_CJK:
        return cp >= 0x800 && !ws_hidden && in_ranges(cjk, N_OF(cjk), cp);
    }
    return false;
}

/* [X]  (each member alone) or [X]+ (maximal runs); gaps become pieces too. */
static void split_class(struct split *s, size_t a, size_t b, enum cls c, bool run)
{
    size_t pos = a;
    while (pos < b) {
        if (!in_cls(c, &s->u[pos])) {
            pos++;
            continue;
        }
        emit(s, pos); /* gap before the match */
        size_t e = pos + 1;
        while (run && e < b && in_cls(c, &s->u[e]))
            e++;
        emit(s, e);
        pos = e;
    }
    emit(s, b);
}

/* \s?[X]+ */
static void split_opt_space_run(struct split *s, size_t a, size_t b, enum cls c)
{
    size_t pos = a;
    while (pos < b) {
        size_t start, e;
        if ((s->u[pos].flags & WL__CF_WS) && pos + 1 < b && in_cls(c, &s->u[pos + 1])) {
            start = pos;
            e = pos + 2;
        } else if (in_cls(c, &s->u[pos])) {
            start = pos;
            e = pos + 1;
        } else {
            pos++;
            continue;
        }
        while (e < b && in_cls(c, &s->u[e]))
            e++;
        emit(s, start);
        emit(s, e);
        pos = e;
    }
    emit(s, b);
}

/* \s+$ : the whitespace run that ends the piece */
static void split_trailing_space(struct split *s, size_t a, size_t b)
{
    size_t st = b;
    while (st > a && (s->u[st - 1].flags & WL__CF_WS))
        st--;
    emit(s, st);
    emit(s, b);
}

/* [0-9][0-9][0-9] : consecutive non-overlapping triples of ASCII digits */
static void split_digit_triples(struct split *s, size_t a, size_t b)
{
    size_t pos = a;
    while (pos + 2 < b) {
        uint32_t c0 = s->u[pos].cp, c1 = s->u[pos + 1].cp, c2 = s->u[pos + 2].cp;
        if (c0 >= '0' && c0 <= '9' && c1 >= '0' && c1 <= '9' && c2 >= '0' && c2 <= '9') {
            emit(s, pos);
            emit(s, pos + 3);
            pos += 3;
        } else {
            pos++;
        }
    }
    emit(s, b);
}

enum pass_kind { P_GPT2, P_LLAMA3, P_QWEN2, P_SINGLE, P_RUN, P_OPTWS_RUN, P_TRAIL_WS, P_TRIPLES };

struct pass {
    enum pass_kind kind;
    enum cls cls;
};

static size_t passes_for(enum wl_tok_pre pre, struct pass *p)
{
    switch (pre) {
    case WL_TOK_PRE_GPT2:
        p[0] = (struct pass){P_GPT2, 0};
        return 1;
    case WL_TOK_PRE_LLAMA3:
        p[0] = (struct pass){P_LLAMA3, 0};
        return 1;
    case WL_TOK_PRE_QWEN2:
        p[0] = (struct pass){P_QWEN2, 0};
        return 1;
    case WL_TOK_PRE_STARCODER:
        p[0] = (struct pass){P_SINGLE, CLS_N};
        p[1] = (struct pass){P_GPT2, 0};
        return 2;
    case WL_TOK_PRE_FALCON:
        p[0] = (struct pass){P_RUN, CLS_PUNCT_SYM_BT};
        p[1] = (struct pass){P_GPT2, 0};
        p[2] = (struct pass){P_TRIPLES, 0};
        return 3;
    case WL_TOK_PRE_DEEPSEEK_LLM:
        p[0] = (struct pass){P_SINGLE, CLS_CRLF};
        p[1] = (struct pass){P_OPTWS_RUN, CLS_DS_LETTER};
        p[2] = (struct pass){P_OPTWS_RUN, CLS_DS_PUNCT};
        p[3] = (struct pass){P_TRAIL_WS, 0};
        p[4] = (struct pass){P_RUN, CLS_CJK};
        p[5] = (struct pass){P_RUN, CLS_N};
        return 6;
    case WL_TOK_PRE_DEEPSEEK_CODER:
        p[0] = (struct pass){P_SINGLE, CLS_CRLF};
        p[1] = (struct pass){P_OPTWS_RUN, CLS_L};
        p[2] = (struct pass){P_OPTWS_RUN, CLS_P};
        p[3] = (struct pass){P_RUN, CLS_CJK};
        p[4] = (struct pass){P_SINGLE, CLS_N};
        return 5;
    case WL_TOK_PRE_DEFAULT:
    case WL_TOK_PRE_NONE:
    default:
        p[0] = (struct pass){P_RUN, CLS_PUNCT_SYM};
        p[1] = (struct pass){P_GPT2, 0};
        p[2] = (struct pass){P_RUN, CLS_N};
        p[3] = (struct pass){P_TRIPLES, 0};
        return 4;
    }
}

static void run_pass(struct split *s, const struct pass *p, size_t a, size_t b)
{
    switch (p->kind) {
    case P_GPT2:
        split_gpt2(s, a, b);
        break;
    case P_LLAMA3:
        split_llama3(s, a, b, 3);
        break;
    case P_QWEN2:
        split_llama3(s, a, b, 1);
        break;
    case P_SINGLE:
        split_class(s, a, b, p->cls, false);
        break;
    case P_RUN:
        split_class(s, a, b, p->cls, true);
        break;
    case P_OPTWS_RUN:
        split_opt_space_run(s, a, b, p->cls);
        break;
    case P_TRAIL_WS:
        split_trailing_space(s, a, b);
        break;
    case P_TRIPLES:
        split_digit_triples(s, a, b);
        break;
    }
}

int wl__tok_pretokenize(const wl_tokenizer *t, const char *text, size_t len,
                        struct wl__tok_uvec *ends)
{
    if (len == 0)
        return 0;
    if (len > UINT32_MAX - 1)
        return WL_ERANGE;
    struct unit *u = malloc(len * sizeof(*u));
    struct wl__tok_uvec tmp = {0};
    int rc = 0;
    if (!u)
        return WL_ENOMEM;
    size_t n = 0;
    const unsigned char *p = (const unsigned char *)text;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t l = wl__utf8_decode(p + i, len - i, &cp);
        if (l == 0) {
            cp = WL__CP_INVALID;
            l = 1;
        }
        u[n].off = (uint32_t)i;
        u[n].cp = cp;
        u[n].flags = (uint8_t)wl__tok_cp_flags(cp);
        n++;
        i += l;
    }

    struct pass passes[8];
    size_t np = passes_for(t->pre, passes);
    /* Pieces as end indices; start with the whole fragment. */
    struct wl__tok_uvec cur = {0};
    rc = wl__tok_uvec_push(&cur, (uint32_t)n);
    for (size_t k = 0; rc == 0 && k < np; k++) {
        tmp.n = 0;
        struct split s = {u, n, &tmp, 0, 0};
        size_t a = 0;
        for (size_t j = 0; j < cur.n && s.rc == 0; j++) {
            size_t b = cur.v[j];
            s.prev_end = (uint32_t)a;
            run_pass(&s, &passes[k], a, b);
            a = b;
        }
        rc = s.rc;
        struct wl__tok_uvec sw = cur;
        cur = tmp;
        tmp = sw;
    }
    for (size_t j = 0; rc == 0 && j < cur.n; j++) {
        size_t e = cur.v[j];
        rc = wl__tok_uvec_push(ends, e < n ? u[e].off : (uint32_t)len);
    }
    free(cur.v);
    free(tmp.v);
    free(u);
    return rc;
}
