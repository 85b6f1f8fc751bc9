/* SPDX-License-Identifier: Apache-2.0 */
/* aigw-cli budgets — every budget's state (aigw_budget_status), as a table
 * or as the library's JSON. */
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "cli.h"

static const cli_opt budgets_opts[] = {CLI_COMMON_OPTS, {0}};

enum { COL_BUDGET, COL_INSTANCE, COL_LIMIT, COL_REMAINING, COL_RESET, NCOLS };

static const char *const headings[NCOLS] = {"BUDGET", "INSTANCE", "LIMIT", "REMAINING", "RESET"};

typedef struct table {
    char *(*cells)[NCOLS];
    size_t n, cap;
    size_t width[NCOLS];
} table;

static char *cell_dup(const char *s) {
    /* One line per row: control characters become spaces. */
    char *c = strdup(s ? s : "");
    for (char *p = c; p && *p; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f) {
            *p = ' ';
        }
    }
    return c;
}

static int table_add(table *t, const char *const values[NCOLS]) {
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 8;
        char *(*bigger)[NCOLS] = realloc(t->cells, cap * sizeof(*bigger));
        if (!bigger) {
            return -1;
        }
        t->cells = bigger;
        t->cap = cap;
    }
    for (int c = 0; c < NCOLS; c++) {
        t->cells[t->n][c] = cell_dup(values[c]);
        if (!t->cells[t->n][c]) {
            for (int k = 0; k < c; k++) {
                free(t->cells[t->n][k]);
            }
            return -1;
        }
        size_t w = strlen(t->cells[t->n][c]);
        if (w > t->width[c]) {
            t->width[c] = w;
        }
    }
    t->n++;
    return 0;
}

static void table_free(table *t) {
    for (size_t r = 0; r < t->n; r++) {
        for (int c = 0; c < NCOLS; c++) {
            free(t->cells[r][c]);
        }
    }
    free(t->cells);
}

/* Text columns left-aligned, amounts right-aligned, two spaces apart. */
static int table_print(const table *t) {
    size_t width[NCOLS];
    size_t line_cap = 1;
    for (int c = 0; c < NCOLS; c++) {
        width[c] = t->width[c] > strlen(headings[c]) ? t->width[c] : strlen(headings[c]);
        line_cap += width[c] + 2;
    }
    char *line = malloc(line_cap + 1);
    if (!line) {
        cli_errorf("out of memory");
        return CLI_EXIT_FAILURE;
    }
    int rc = CLI_EXIT_OK;
    for (size_t r = 0; r <= t->n && rc == CLI_EXIT_OK; r++) {
        size_t used = 0;
        for (int c = 0; c < NCOLS; c++) {
            const char *v = r == 0 ? headings[c] : t->cells[r - 1][c];
            int right = c == COL_LIMIT || c == COL_REMAINING;
            int last = c == NCOLS - 1;
            int w = snprintf(line + used, line_cap + 1 - used, right ? "%*s%s" : "%-*s%s",
                             last && !right ? 0 : (int)width[c], v, last ? "" : "  ");
            used += w > 0 ? (size_t)w : 0;
        }
        while (used > 0 && line[used - 1] == ' ') {
            used--;
        }
        line[used++] = '\n';
        if (cli_write_out(line, used) != 0) {
            rc = CLI_EXIT_FAILURE;
        }
    }
    free(line);
    return rc;
}

static json_object *get(json_object *o, const char *key) {
    json_object *v = NULL;
    return json_object_object_get_ex(o, key, &v) ? v : NULL;
}

static int get_number(json_object *o, const char *key, double *out) {
    json_object *v = get(o, key);
    if (!v ||
        !(json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int))) {
        return 0;
    }
    *out = json_object_get_double(v);
    return 1;
}

/* A budget's cost is in dollars when it is a price table. */
static int in_dollars(json_object *budget) {
    json_object *cost = get(budget, "cost");
    return cost && json_object_is_type(cost, json_type_object) && get(cost, "prices");
}

/* "1M/day", "100k +10/s"; `amount` is the counter's limit when known. */
static void limit_text(json_object *budget, const double *amount, char *buf, size_t cap) {
    json_object *limit = get(budget, "limit");
    json_object *type = limit ? get(limit, "type") : NULL;
    const char *t =
        type && json_object_is_type(type, json_type_string) ? json_object_get_string(type) : "";
    int dollars = in_dollars(budget);
    char num[64] = "?";
    double v;

    if (strcmp(t, "window") == 0) {
        json_object *per = get(limit, "per");
        if (amount) {
            cli_format_amount(*amount, dollars, num, sizeof(num));
        } else if (get_number(limit, "max", &v)) {
            cli_format_amount(v, dollars, num, sizeof(num));
        }
        snprintf(buf, cap, "%s/%s", num,
                 per && json_object_is_type(per, json_type_string) ? json_object_get_string(per)
                                                                   : "window");
    } else if (strcmp(t, "token_bucket") == 0) {
        char refill[64] = "?";
        if (amount) {
            cli_format_amount(*amount, dollars, num, sizeof(num));
        } else if (get_number(limit, "capacity", &v)) {
            cli_format_amount(v, dollars, num, sizeof(num));
        }
        if (get_number(limit, "refill_per_second", &v)) {
            cli_format_amount(v, dollars, refill, sizeof(refill));
        }
        snprintf(buf, cap, "%s +%s/s", num, refill);
    } else if (amount) {
        cli_format_amount(*amount, dollars, buf, cap);
    } else {
        snprintf(buf, cap, "?");
    }
}

static int add_budget_rows(table *t, json_object *budget) {
    json_object *name = get(budget, "name");
    json_object *counters = get(budget, "counters");
    const char *bname =
        name && json_object_is_type(name, json_type_string) ? json_object_get_string(name) : "?";
    int dollars = in_dollars(budget);
    size_t n = counters && json_object_is_type(counters, json_type_array)
                   ? json_object_array_length(counters)
                   : 0;
    char limit[128], remaining[64], reset[64];

    if (n == 0) {
        /* A per-value ("*") budget no caller has used yet. */
        limit_text(budget, NULL, limit, sizeof(limit));
        const char *row[NCOLS] = {bname, "(none yet)", limit, "-", "-"};
        return table_add(t, row);
    }
    for (size_t i = 0; i < n; i++) {
        json_object *c = json_object_array_get_idx(counters, i);
        json_object *inst = get(c, "instance");
        const char *instance =
            inst && json_object_is_type(inst, json_type_string) ? json_object_get_string(inst) : "";
        double v;
        if (get_number(c, "limit", &v)) {
            limit_text(budget, &v, limit, sizeof(limit));
        } else {
            limit_text(budget, NULL, limit, sizeof(limit));
        }
        if (get_number(c, "remaining", &v)) {
            cli_format_amount(v, dollars, remaining, sizeof(remaining));
        } else {
            snprintf(remaining, sizeof(remaining), "?");
        }
        if (get_number(c, "reset_seconds", &v)) {
            cli_format_seconds(v, reset, sizeof(reset));
        } else {
            snprintf(reset, sizeof(reset), "?");
        }
        const char *row[NCOLS] = {bname, *instance ? instance : "-", limit, remaining, reset};
        if (table_add(t, row) != 0) {
            return -1;
        }
    }
    return 0;
}

static int print_table(const char *text) {
    json_object *root = cli_json_parse(text, strlen(text));
    json_object *budgets = root ? get(root, "budgets") : NULL;
    json_object *store = root ? get(root, "store") : NULL;
    table t = {0};
    int rc = CLI_EXIT_OK;

    if (!budgets || !json_object_is_type(budgets, json_type_array)) {
        json_object_put(root);
        cli_errorf("the budget status is not the expected JSON (AIGW_EINTERNAL)");
        return CLI_EXIT_FAILURE;
    }
    size_t n = json_object_array_length(budgets);
    if (n == 0) {
        static const char none[] = "no budgets configured\n";
        json_object_put(root);
        return cli_write_out(none, sizeof(none) - 1) ? CLI_EXIT_FAILURE : CLI_EXIT_OK;
    }
    for (size_t i = 0; i < n && rc == CLI_EXIT_OK; i++) {
        if (add_budget_rows(&t, json_object_array_get_idx(budgets, i)) != 0) {
            cli_errorf("out of memory");
            rc = CLI_EXIT_FAILURE;
        }
    }
    if (rc == CLI_EXIT_OK) {
        rc = table_print(&t);
    }
    if (rc == CLI_EXIT_OK && store && json_object_is_type(store, json_type_string) &&
        strcmp(json_object_get_string(store), "memory") == 0) {
        /* Counters in memory belong to one process: this one's are fresh. */
        fputs(CLI_NAME ": note: the budget store is in memory, so these are this process's "
                       "counters (full); configure accounting.store \"redis\" to see the "
                       "counters gateways share\n",
              stderr);
        fflush(stderr);
    }
    table_free(&t);
    json_object_put(root);
    return rc;
}

int cli_cmd_budgets(int argc, char **argv) {
    cli_parser p;
    cli_common common = {0};
    const char *value = NULL;
    aigw_client *client = NULL;
    int id, rc;

    cli_parser_init(&p, argc, argv, "budgets");
    while ((id = cli_next_arg(&p, budgets_opts, &value)) != CLI_ARG_END) {
        if (id == CLI_ARG_ERROR) {
            return CLI_EXIT_USAGE;
        }
        if (id == CLI_ARG_POSITIONAL) {
            return cli_usage_error("budgets", "unexpected argument '%s'", value);
        }
        cli_common_option(&common, id, value);
    }
    if (common.help) {
        cli_print_usage("budgets", stdout);
        return CLI_EXIT_OK;
    }
    if ((rc = cli_open_client(&common, &client)) != CLI_EXIT_OK) {
        return rc;
    }
    char *json = NULL;
    aigw_error *err = NULL;
    aigw_status st = aigw_budget_status(client, &json, &err);
    if (st != AIGW_OK) {
        rc = cli_report_error(st, err, CLI_PHASE_CALL);
    } else if (!json) {
        cli_errorf("the library returned no budget status (AIGW_EINTERNAL)");
        rc = CLI_EXIT_FAILURE;
    } else if (common.json) {
        rc = cli_print_json_line(json, strlen(json)) ? CLI_EXIT_FAILURE : CLI_EXIT_OK;
    } else {
        rc = print_table(json);
    }
    aigw_free(json);
    aigw_client_free(client);
    return rc;
}
