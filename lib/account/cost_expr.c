/* SPDX-License-Identifier: Apache-2.0 */
/* Cost expressions: a recursive-descent parser emitting RPN bytecode, and a
 * stack machine that runs it. See cost_expr.h for the language. */
#include "account/cost_expr.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "core/alloc.h"
#include "core/errors.h"

enum { OP_NUM, OP_VAR, OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_NEG, OP_MIN, OP_MAX };

typedef struct op {
    uint8_t code;
    uint8_t var; /* OP_VAR */
    double num;  /* OP_NUM */
} op;

struct aigw__cost_expr {
    op *ops;
    size_t n;
    unsigned vars;
};

static const char *const var_names[] = {"input_tokens",     "cached_input_tokens", "output_tokens",
                                        "reasoning_tokens", "total_tokens",        "requests"};
#define VAR_COUNT (sizeof var_names / sizeof var_names[0])

typedef struct parser {
    const char *text;
    size_t pos;
    const char *what;
    aigw_error **err;
    aigw_status status;
    op *ops;
    size_t n, cap;
    int depth;     /* current stack depth while emitting */
    int max_depth; /* deepest stack */
    int nest;      /* parenthesis / call nesting */
    unsigned vars;
} parser;

static int is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}
static int is_digit(char c) {
    return c >= '0' && c <= '9';
}
static int is_ident(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || is_digit(c);
}

static void skip_space(parser *p) {
    while (is_space(p->text[p->pos]))
        p->pos++;
}

static int fail(parser *p, size_t pos, const char *msg) {
    if (p->status == AIGW_OK)
        p->status =
            aigw__error_set(p->err, AIGW_ECONFIG, "%s: %s at column %zu", p->what, msg, pos + 1);
    return -1;
}

/* The token at pos, for "unexpected X" messages. */
static int fail_unexpected(parser *p) {
    size_t pos = p->pos;
    char c = p->text[pos];
    if (p->status != AIGW_OK)
        return -1;
    p->status = AIGW_ECONFIG;
    if (!c)
        aigw__error_set(p->err, AIGW_ECONFIG, "%s: unexpected end of expression at column %zu",
                        p->what, pos + 1);
    else if (is_ident(c) && !is_digit(c)) {
        size_t end = pos;
        while (is_ident(p->text[end]) && end - pos < 64)
            end++;
        aigw__error_set(p->err, AIGW_ECONFIG, "%s: unexpected \"%.*s\" at column %zu", p->what,
                        (int)(end - pos), p->text + pos, pos + 1);
    } else if ((unsigned char)c < 0x20 || (unsigned char)c >= 0x7f)
        aigw__error_set(p->err, AIGW_ECONFIG, "%s: unexpected byte 0x%02x at column %zu", p->what,
                        (unsigned)(unsigned char)c, pos + 1);
    else
        aigw__error_set(p->err, AIGW_ECONFIG, "%s: unexpected \"%c\" at column %zu", p->what, c,
                        pos + 1);
    return -1;
}

/* Appends an op; `effect` is its net change to the stack depth. */
static int emit(parser *p, uint8_t code, uint8_t var, double num, int effect) {
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 16;
        op *ops = aigw__reallocarray(p->ops, cap, sizeof *ops);
        if (!ops) {
            if (p->status == AIGW_OK)
                p->status = aigw__error_set(p->err, AIGW_ENOMEM, "%s: out of memory", p->what);
            return -1;
        }
        p->ops = ops;
        p->cap = cap;
    }
    p->ops[p->n++] = (op){code, var, num};
    p->depth += effect;
    if (p->depth > p->max_depth)
        p->max_depth = p->depth;
    if (p->max_depth > AIGW__COST_EXPR_MAX_STACK)
        return fail(p, p->pos, "expression too deeply nested");
    return 0;
}

/* NUMBER: digits [. digits] [e [+-] digits], or . digits; locale-free. */
static int parse_number(parser *p) {
    const char *s = p->text;
    size_t start = p->pos, i = p->pos;
    uint64_t mant = 0;
    int exp10 = 0, digits = 0;
    while (is_digit(s[i])) {
        if (mant < UINT64_C(1000000000000000000))
            mant = mant * 10 + (uint64_t)(s[i] - '0');
        else
            exp10++;
        i++, digits++;
    }
    if (s[i] == '.') {
        i++;
        while (is_digit(s[i])) {
            if (mant < UINT64_C(1000000000000000000)) {
                mant = mant * 10 + (uint64_t)(s[i] - '0');
                exp10--;
            }
            i++, digits++;
        }
    }
    if (!digits)
        return fail(p, start, "malformed number");
    if (s[i] == 'e' || s[i] == 'E') {
        int sign = 1, e = 0, edigits = 0;
        i++;
        if (s[i] == '+' || s[i] == '-')
            sign = s[i++] == '-' ? -1 : 1;
        while (is_digit(s[i])) {
            if (e < 10000)
                e = e * 10 + (s[i] - '0');
            i++, edigits++;
        }
        if (!edigits)
            return fail(p, start, "malformed number");
        exp10 += sign * e;
    }
    if (is_ident(s[i]) || s[i] == '.')
        return fail(p, start, "malformed number");
    double v = (double)mant;
    if (mant && exp10)
        v = exp10 > 0 ? v * pow(10.0, exp10) : v / pow(10.0, -exp10);
    if (!isfinite(v))
        return fail(p, start, "number out of range");
    p->pos = i;
    return emit(p, OP_NUM, 0, v, 1);
}

static int parse_expr(parser *p);

static int expect(parser *p, char c) {
    skip_space(p);
    if (p->text[p->pos] != c)
        return fail_unexpected(p);
    p->pos++;
    return 0;
}

static int parse_primary(parser *p) {
    skip_space(p);
    const char *s = p->text;
    char c = s[p->pos];
    if (is_digit(c) || c == '.')
        return parse_number(p);
    if (c == '(') {
        p->pos++;
        if (++p->nest > AIGW__COST_EXPR_MAX_STACK)
            return fail(p, p->pos - 1, "expression too deeply nested");
        if (parse_expr(p) || expect(p, ')'))
            return -1;
        p->nest--;
        return 0;
    }
    if (is_ident(c)) {
        size_t start = p->pos, end = p->pos;
        while (is_ident(s[end]))
            end++;
        size_t len = end - start;
        for (size_t v = 0; v < VAR_COUNT; v++) {
            if (strlen(var_names[v]) == len && !memcmp(var_names[v], s + start, len)) {
                p->pos = end;
                p->vars |= 1u << v;
                return emit(p, OP_VAR, (uint8_t)v, 0, 1);
            }
        }
        if (len == 3 && (!memcmp(s + start, "min", 3) || !memcmp(s + start, "max", 3))) {
            uint8_t code = s[start + 1] == 'i' ? OP_MIN : OP_MAX;
            p->pos = end;
            if (++p->nest > AIGW__COST_EXPR_MAX_STACK)
                return fail(p, start, "expression too deeply nested");
            if (expect(p, '(') || parse_expr(p) || expect(p, ',') || parse_expr(p) ||
                expect(p, ')'))
                return -1;
            p->nest--;
            return emit(p, code, 0, 0, -1);
        }
        if (p->status == AIGW_OK) {
            p->status = aigw__error_set(
                p->err, AIGW_ECONFIG,
                "%s: unknown name \"%.*s\" at column %zu (variables: input_tokens, "
                "cached_input_tokens, output_tokens, reasoning_tokens, total_tokens, requests; "
                "functions: min, max)",
                p->what, (int)(len > 64 ? 64 : len), s + start, start + 1);
        }
        return -1;
    }
    return fail_unexpected(p);
}

static int parse_unary(parser *p) {
    skip_space(p);
    if (p->text[p->pos] == '-') {
        size_t start = p->pos++;
        if (++p->nest > AIGW__COST_EXPR_MAX_STACK)
            return fail(p, start, "expression too deeply nested");
        if (parse_unary(p))
            return -1;
        p->nest--;
        return emit(p, OP_NEG, 0, 0, 0);
    }
    return parse_primary(p);
}

static int parse_term(parser *p) {
    if (parse_unary(p))
        return -1;
    for (;;) {
        skip_space(p);
        char c = p->text[p->pos];
        if (c != '*' && c != '/')
            return 0;
        p->pos++;
        if (parse_unary(p) || emit(p, c == '*' ? OP_MUL : OP_DIV, 0, 0, -1))
            return -1;
    }
}

static int parse_expr(parser *p) {
    if (parse_term(p))
        return -1;
    for (;;) {
        skip_space(p);
        char c = p->text[p->pos];
        if (c != '+' && c != '-')
            return 0;
        p->pos++;
        if (parse_term(p) || emit(p, c == '+' ? OP_ADD : OP_SUB, 0, 0, -1))
            return -1;
    }
}

aigw_status aigw__cost_expr_parse(const char *text, const char *what, aigw__cost_expr **out,
                                  aigw_error **err) {
    *out = NULL;
    if (!what)
        what = "cost";
    if (!text)
        return aigw__error_set(err, AIGW_ECONFIG, "%s: missing expression", what);
    size_t len = strlen(text);
    if (len > AIGW__COST_EXPR_MAX_LEN)
        return aigw__error_set(err, AIGW_ECONFIG, "%s: expression longer than %d characters", what,
                               AIGW__COST_EXPR_MAX_LEN);
    parser p = {.text = text, .what = what, .err = err};
    skip_space(&p);
    if (!text[p.pos])
        return aigw__error_set(err, AIGW_ECONFIG, "%s: empty expression", what);
    if (parse_expr(&p) == 0) {
        skip_space(&p);
        if (text[p.pos])
            fail_unexpected(&p);
    }
    if (p.status != AIGW_OK) {
        aigw__free(p.ops);
        return p.status;
    }
    aigw__cost_expr *e = aigw__calloc(1, sizeof *e);
    if (!e) {
        aigw__free(p.ops);
        return aigw__error_set(err, AIGW_ENOMEM, "%s: out of memory", what);
    }
    e->ops = p.ops;
    e->n = p.n;
    e->vars = p.vars;
    *out = e;
    return AIGW_OK;
}

double aigw__cost_expr_eval(const aigw__cost_expr *e, const aigw__usage *u, long long requests,
                            int *unknown) {
    double stack[AIGW__COST_EXPR_MAX_STACK + 1];
    long long vals[VAR_COUNT] = {u->input_tokens,     u->cached_input_tokens, u->output_tokens,
                                 u->reasoning_tokens, u->total_tokens,        requests};
    int unk = 0;
    size_t sp = 0;
    for (size_t i = 0; i < e->n; i++) {
        const op *o = &e->ops[i];
        switch (o->code) {
        case OP_NUM:
            stack[sp++] = o->num;
            break;
        case OP_VAR: {
            long long v = vals[o->var];
            if (v < 0) {
                unk = 1;
                v = 0;
            }
            stack[sp++] = (double)v;
            break;
        }
        case OP_NEG:
            stack[sp - 1] = -stack[sp - 1];
            break;
        default: {
            double b = stack[--sp], a = stack[sp - 1], r;
            switch (o->code) {
            case OP_ADD:
                r = a + b;
                break;
            case OP_SUB:
                r = a - b;
                break;
            case OP_MUL:
                r = a * b;
                break;
            case OP_DIV:
                r = b == 0 ? 0 : a / b;
                break;
            case OP_MIN:
                r = a < b ? a : b;
                break;
            default:
                r = a > b ? a : b;
                break;
            }
            stack[sp - 1] = r;
        }
        }
    }
    if (unknown && unk)
        *unknown = 1;
    double r = sp ? stack[0] : 0;
    return isfinite(r) && r > 0 ? r : 0;
}

unsigned aigw__cost_expr_vars(const aigw__cost_expr *e) {
    return e->vars;
}

void aigw__cost_expr_free(aigw__cost_expr *e) {
    if (!e)
        return;
    aigw__free(e->ops);
    aigw__free(e);
}
