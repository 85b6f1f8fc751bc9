/* SPDX-License-Identifier: Apache-2.0 */
/* Replaying recorded provider traffic: go-vcr v2 YAML cassettes, parsed
 * with libyaml. The answer is interaction 0's status code, Content-Type,
 * other end-to-end headers and body, byte for byte; event streams are
 * written one event per chunk. */
#include "sim_router.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

#define MAX_CASSETTE (64u * 1024u * 1024u)

static yaml_node_t *map_get(yaml_document_t *doc, yaml_node_t *map, const char *key) {
    if (!map || map->type != YAML_MAPPING_NODE)
        return NULL;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = yaml_document_get_node(doc, p->key);
        if (k && k->type == YAML_SCALAR_NODE && k->data.scalar.length == strlen(key) &&
            memcmp(k->data.scalar.value, key, k->data.scalar.length) == 0)
            return yaml_document_get_node(doc, p->value);
    }
    return NULL;
}

static yaml_node_t *seq_first(yaml_document_t *doc, yaml_node_t *seq) {
    if (!seq || seq->type != YAML_SEQUENCE_NODE ||
        seq->data.sequence.items.start == seq->data.sequence.items.top)
        return NULL;
    return yaml_document_get_node(doc, *seq->data.sequence.items.start);
}

static int valid_name(const char *name) {
    if (!*name || strlen(name) > 200 || name[0] == '.')
        return 0;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_' || *p == '.'))
            return 0;
    return 1;
}

/* Headers that describe the recorded connection, not the message. */
static int hop_header(const char *name, size_t len) {
    static const char *const skip[] = {"content-type",     "content-length", "transfer-encoding",
                                       "content-encoding", "connection",     "keep-alive",
                                       "alt-svc",          "set-cookie"};
    for (size_t i = 0; i < sizeof(skip) / sizeof(skip[0]); i++)
        if (strlen(skip[i]) == len && strncasecmp(skip[i], name, len) == 0)
            return 1;
    return 0;
}

static int safe_header_text(const unsigned char *s, size_t len) {
    for (size_t i = 0; i < len; i++)
        if (s[i] == '\r' || s[i] == '\n' || s[i] == '\0')
            return 0;
    return len > 0;
}

int sim_replay(const char *dir, const char *name, sim_response *res, int *status_out, char *err,
               size_t errlen) {
    char path[4096];
    int rc = -1;
    FILE *f = NULL;
    yaml_parser_t parser;
    yaml_document_t doc;
    int have_parser = 0, have_doc = 0;

    *status_out = 500;
    if (!valid_name(name)) {
        *status_out = 400;
        snprintf(err, errlen, "invalid replay name");
        return -1;
    }
    snprintf(path, sizeof(path), "%s/%s.yaml", dir, name);
    f = fopen(path, "rb");
    if (!f) {
        *status_out = 404;
        snprintf(err, errlen, "no recording named %s", name);
        return -1;
    }
    if (!yaml_parser_initialize(&parser)) {
        snprintf(err, errlen, "libyaml: cannot initialise");
        goto out;
    }
    have_parser = 1;
    yaml_parser_set_input_file(&parser, f);
    if (!yaml_parser_load(&parser, &doc)) {
        snprintf(err, errlen, "%s: YAML error: %s", name,
                 parser.problem ? parser.problem : "unknown");
        goto out;
    }
    have_doc = 1;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    yaml_node_t *inter = seq_first(&doc, map_get(&doc, root, "interactions"));
    yaml_node_t *resp = map_get(&doc, inter, "response");
    yaml_node_t *code = map_get(&doc, resp, "code");
    yaml_node_t *body = map_get(&doc, resp, "body");
    yaml_node_t *headers = map_get(&doc, resp, "headers");
    if (!resp || !code || code->type != YAML_SCALAR_NODE) {
        snprintf(err, errlen, "%s: no interactions[0].response.code", name);
        goto out;
    }
    int status = atoi((const char *)code->data.scalar.value);
    if (status < 100 || status > 599) {
        snprintf(err, errlen, "%s: bad status code", name);
        goto out;
    }
    const char *ctype = NULL;
    yaml_node_t *ct = seq_first(&doc, map_get(&doc, headers, "Content-Type"));
    if (ct && ct->type == YAML_SCALAR_NODE &&
        safe_header_text(ct->data.scalar.value, ct->data.scalar.length))
        ctype = (const char *)ct->data.scalar.value;
    const char *data = "";
    size_t len = 0;
    if (body && body->type == YAML_SCALAR_NODE) {
        data = (const char *)body->data.scalar.value;
        len = body->data.scalar.length;
    }
    if (len > MAX_CASSETTE) {
        snprintf(err, errlen, "%s: body too large", name);
        goto out;
    }

    if (ctype && strncasecmp(ctype, "text/event-stream", 17) == 0) {
        sim_res_stream(res, status, ctype);
        size_t start = 0;
        for (size_t i = 0; i + 1 < len; i++) {
            if (data[i] == '\n' && data[i + 1] == '\n') {
                sim_res_event(res, data + start, i + 2 - start);
                start = i + 2;
                i++;
            }
        }
        if (start < len)
            sim_res_event(res, data + start, len - start);
    } else {
        sim_res_body(res, status, ctype, data, len);
    }
    /* The recorded end-to-end headers (rate limits, request ids, …). */
    if (headers && headers->type == YAML_MAPPING_NODE) {
        for (yaml_node_pair_t *p = headers->data.mapping.pairs.start;
             p < headers->data.mapping.pairs.top; p++) {
            yaml_node_t *k = yaml_document_get_node(&doc, p->key);
            yaml_node_t *vs = yaml_document_get_node(&doc, p->value);
            if (!k || k->type != YAML_SCALAR_NODE || !vs || vs->type != YAML_SEQUENCE_NODE)
                continue;
            if (hop_header((const char *)k->data.scalar.value, k->data.scalar.length) ||
                !safe_header_text(k->data.scalar.value, k->data.scalar.length))
                continue;
            for (yaml_node_item_t *it = vs->data.sequence.items.start;
                 it < vs->data.sequence.items.top; it++) {
                yaml_node_t *v = yaml_document_get_node(&doc, *it);
                if (v && v->type == YAML_SCALAR_NODE &&
                    safe_header_text(v->data.scalar.value, v->data.scalar.length))
                    sim_res_header(res, (const char *)k->data.scalar.value,
                                   (const char *)v->data.scalar.value);
            }
        }
    }
    rc = 0;
out:
    if (have_doc)
        yaml_document_delete(&doc);
    if (have_parser)
        yaml_parser_delete(&parser);
    fclose(f);
    return rc;
}
