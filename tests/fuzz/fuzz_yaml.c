/* tests/fuzz/fuzz_yaml.c — libFuzzer target for core/yaml: arbitrary bytes go through the YAML
 * loader (and, when the first byte is odd, the JSON one) with small limits so the limit paths
 * are reached too. A failure must leave a NUL-terminated message and no document; a success
 * must give a tree whose every node has a position, that jansson can serialise, and that
 * stays within the limits. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "core/yaml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Visits the tree iteratively-bounded: depth is capped by the loader's limit. Returns the number
 * of nodes seen (aliases are visited again, as consumers would). */
static size_t walk(const yaml_doc *d, const json_t *v, size_t depth, size_t max_depth) {
  if (depth > max_depth + 1) abort();
  size_t n = 1;
  if (json_is_object(v)) {
    if (yaml_pos_node(d, v).line <= 0) abort();
    const char *key;
    json_t *child;
    json_object_foreach((json_t *)v, key, child) {
      yaml_pos kp = yaml_pos_key(d, v, key), vp = yaml_pos_value(d, v, key);
      if (kp.line <= 0 || kp.col <= 0 || vp.line <= 0 || vp.col <= 0) abort();
      n += 1 + walk(d, child, depth + 1, max_depth);
    }
  } else if (json_is_array(v)) {
    if (yaml_pos_node(d, v).line <= 0) abort();
    for (size_t i = 0; i < json_array_size(v); i++) {
      yaml_pos p = yaml_pos_index(d, v, i);
      if (p.line <= 0 || p.col <= 0) abort();
      n += walk(d, json_array_get(v, i), depth + 1, max_depth);
    }
  } else if (json_is_string(v)) {
    if (!json_string_value(v)) abort();
  }
  return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  yaml_limits lim = yaml_default_limits();
  lim.max_depth = 32;
  lim.max_nodes = 20000;
  const char *name = size && (data[0] & 1) ? "fuzz.json" : "fuzz.yaml";
  yaml_error err;
  memset(&err, 'Z', sizeof err);
  yaml_doc *d = yaml_parse(name, (const char *)data, size, &lim, &err);
  if (!d) {
    if (!memchr(err.msg, '\0', sizeof err.msg) || !memchr(err.file, '\0', sizeof err.file)) abort();
    if (err.line < 0 || err.col < 0) abort();
    return 0;
  }
  const json_t *root = yaml_root(d);
  if (!root) abort();
  size_t n = walk(d, root, 0, lim.max_depth);
  /* nodes visited through aliases included, plus keys: bounded by twice the limit */
  if (n > 2 * lim.max_nodes + 1) abort();
  char *s = json_dumps(root, JSON_ENCODE_ANY | JSON_COMPACT);
  if (!s) abort();
  json_error_t jerr;
  json_t *back = json_loads(s, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
  if (!back || !json_equal(back, root)) abort();
  json_decref(back);
  free(s);
  yaml_free(d);
  return 0;
}
