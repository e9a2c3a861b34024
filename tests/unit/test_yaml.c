/* tests/unit/test_yaml.c — core/yaml: YAML and JSON into equal jansson trees, positions,
 * the YAML 1.2 core schema, and the limits against hostile input (alias bombs, duplicate keys,
 * depth, size, node count), with libfyaml's diagnostics captured instead of printed. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "core/yaml.h"
#include "tests/unit/t.h"

static yaml_doc *parse(const char *name, const char *text, yaml_error *err) {
  return yaml_parse(name, text, strlen(text), NULL, err);
}

/* Parses text expecting a failure at line:col whose message contains needle. */
static void expect_error(const char *name, const char *text, int line, int col,
                         const char *needle) {
  yaml_error err;
  yaml_doc *d = parse(name, text, &err);
  CHECK(d == NULL);
  yaml_free(d);
  CHECK_EQ(err.line, line);
  CHECK_EQ(err.col, col);
  if (err.line != line || err.col != col)
    fprintf(stderr, "  got %d:%d %s for input %.60s\n", err.line, err.col, err.msg, text);
  if (!strstr(err.msg, needle)) {
    fprintf(stderr, "expected \"%s\" in \"%s\" (input %.60s)\n", needle, err.msg, text);
    CHECK(0);
  }
  CHECK_STR(err.file, name);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long maxrss_kb(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

static void test_yaml_and_json_equal(void) {
  const char *yaml =
      "version: \"1.0\"\n"
      "namespace: app\n"
      "entries:\n"
      "  - name: a\n"
      "    kind: process.lua\n"
      "    modules: [time, json]\n"
      "    meta: {n: 3, ratio: 0.5, big: -9223372036854775808, on: true, off: null}\n"
      "    text: \"tab\\there \\u00e9\"\n"
      "    empty: []\n"
      "    nested: {deep: {deeper: [1, [2, [3]]]}}\n";
  const char *json =
      "{\"version\": \"1.0\", \"namespace\": \"app\", \"entries\": [\n"
      "  {\"name\": \"a\", \"kind\": \"process.lua\", \"modules\": [\"time\", \"json\"],\n"
      "   \"meta\": {\"n\": 3, \"ratio\": 0.5, \"big\": -9223372036854775808, \"on\": true,\n"
      "            \"off\": null},\n"
      "   \"text\": \"tab\\there \\u00e9\", \"empty\": [],\n"
      "   \"nested\": {\"deep\": {\"deeper\": [1, [2, [3]]]}}}]}\n";
  yaml_error err;
  yaml_doc *y = parse("a.yaml", yaml, &err);
  yaml_doc *j = parse("a.json", json, &err);
  CHECK(y != NULL);
  CHECK(j != NULL);
  if (!y || !j) {
    fprintf(stderr, "parse failed: %d:%d %s\n", err.line, err.col, err.msg);
    yaml_free(y);
    yaml_free(j);
    return;
  }
  CHECK(json_equal(yaml_root(y), yaml_root(j)));
  json_t *meta = json_object_get(json_array_get(json_object_get(yaml_root(y), "entries"), 0), "meta");
  CHECK(json_is_integer(json_object_get(meta, "n")));
  CHECK(json_is_real(json_object_get(meta, "ratio")));
  CHECK(json_integer_value(json_object_get(meta, "big")) == (json_int_t)(-9223372036854775807LL - 1));
  /* the same path gives the same kind of answer in both */
  json_t *e = json_array_get(json_object_get(yaml_root(j), "entries"), 0);
  CHECK_STR(json_string_value(json_object_get(e, "text")), "tab\there \xc3\xa9");
  yaml_free(y);
  yaml_free(j);

  /* JSON mode is strict JSON: a bare word is refused */
  expect_error("x.json", "{\"a\": yes}", 1, 7, "JSON");
  /* but the same text as YAML is a string */
  yaml_doc *d = parse("x.yaml", "{\"a\": yes}", &err);
  CHECK(d && json_is_string(json_object_get(yaml_root(d), "a")));
  yaml_free(d);
}

static void test_positions(void) {
  const char *text =
      "# comment\n"
      "namespace: app\n"
      "entries:\n"
      "  - name: first\n"
      "    list: [a, \"b\", {c: d}]\n"
      "  - name: second\n"
      "    nothing:\n"
      "    flag: true\n"
      "key with spaces  :   value\n"
      "\xc3\xa9t\xc3\xa9: [x, y]\n";
  yaml_error err;
  yaml_doc *d = parse("pos.yaml", text, &err);
  CHECK(d != NULL);
  if (!d) return;
  json_t *root = yaml_root(d);
  yaml_pos p = yaml_pos_root(d);
  CHECK_EQ(p.line, 2);
  CHECK_EQ(p.col, 1);
  p = yaml_pos_node(d, root);
  CHECK_EQ(p.line, 2);
  p = yaml_pos_key(d, root, "namespace");
  CHECK_EQ(p.line, 2);
  CHECK_EQ(p.col, 1);
  p = yaml_pos_value(d, root, "namespace");
  CHECK_EQ(p.line, 2);
  CHECK_EQ(p.col, 12);
  json_t *entries = json_object_get(root, "entries");
  p = yaml_pos_value(d, root, "entries");
  CHECK_EQ(p.line, 4);
  CHECK_EQ(p.col, 3);
  p = yaml_pos_index(d, entries, 0);
  CHECK_EQ(p.line, 4);
  CHECK_EQ(p.col, 5);
  p = yaml_pos_index(d, entries, 1);
  CHECK_EQ(p.line, 6);
  CHECK_EQ(p.col, 5);
  json_t *first = json_array_get(entries, 0);
  json_t *list = json_object_get(first, "list");
  p = yaml_pos_node(d, list);
  CHECK_EQ(p.line, 5);
  CHECK_EQ(p.col, 11);
  p = yaml_pos_index(d, list, 1);
  CHECK_EQ(p.line, 5);
  CHECK_EQ(p.col, 15);
  json_t *cd = json_array_get(list, 2);
  p = yaml_pos_key(d, cd, "c");
  CHECK_EQ(p.line, 5);
  CHECK_EQ(p.col, 21);
  p = yaml_pos_value(d, cd, "c");
  CHECK_EQ(p.col, 24);
  /* an empty value points at its key */
  json_t *second = json_array_get(entries, 1);
  CHECK(json_is_null(json_object_get(second, "nothing")));
  p = yaml_pos_value(d, second, "nothing");
  CHECK_EQ(p.line, 7);
  CHECK_EQ(p.col, 5);
  /* singletons (true) still have their own position: keyed by place, not by pointer */
  p = yaml_pos_value(d, second, "flag");
  CHECK_EQ(p.line, 8);
  CHECK_EQ(p.col, 11);
  p = yaml_pos_value(d, root, "key with spaces");
  CHECK_EQ(p.line, 9);
  CHECK_EQ(p.col, 22);
  /* columns count characters, not bytes */
  json_t *ete = json_object_get(root, "\xc3\xa9t\xc3\xa9");
  p = yaml_pos_index(d, ete, 1);
  CHECK_EQ(p.line, 10);
  CHECK_EQ(p.col, 10);
  /* unknown places */
  p = yaml_pos_key(d, root, "missing");
  CHECK_EQ(p.line, 0);
  p = yaml_pos_index(d, entries, 7);
  CHECK_EQ(p.line, 0);
  p = yaml_pos_node(d, json_object_get(root, "namespace"));
  CHECK_EQ(p.line, 0);
  yaml_free(d);

  /* JSON positions */
  d = parse("p.json", "{\n  \"a\": [1,\n        2],\n  \"b\": {\"c\": null}\n}", &err);
  CHECK(d != NULL);
  if (!d) return;
  root = yaml_root(d);
  p = yaml_pos_key(d, root, "b");
  CHECK_EQ(p.line, 4);
  CHECK_EQ(p.col, 3);
  p = yaml_pos_index(d, json_object_get(root, "a"), 1);
  CHECK_EQ(p.line, 3);
  CHECK_EQ(p.col, 9);
  p = yaml_pos_value(d, json_object_get(root, "b"), "c");
  CHECK_EQ(p.line, 4);
  CHECK_EQ(p.col, 14);
  yaml_free(d);

  char buf[256];
  yaml_error e = {.line = 3, .col = 7};
  snprintf(e.file, sizeof e.file, "f.yaml");
  snprintf(e.msg, sizeof e.msg, "boom");
  CHECK_STR(yaml_error_format(&e, buf, sizeof buf), "f.yaml:3:7: boom");
  e.line = 0;
  CHECK_STR(yaml_error_format(&e, buf, sizeof buf), "f.yaml: boom");
}

typedef struct {
  const char *in;
  json_type type;
  const char *str;  /* JSON_STRING */
  long long i;      /* JSON_INTEGER */
  double r;         /* JSON_REAL */
} scalar_case;

static void test_core_schema(void) {
  static const scalar_case cases[] = {
      {"yes", JSON_STRING, "yes", 0, 0},      {"no", JSON_STRING, "no", 0, 0},
      {"on", JSON_STRING, "on", 0, 0},        {"off", JSON_STRING, "off", 0, 0},
      {"y", JSON_STRING, "y", 0, 0},          {"Yes", JSON_STRING, "Yes", 0, 0},
      {"true", JSON_TRUE, NULL, 0, 0},        {"True", JSON_TRUE, NULL, 0, 0},
      {"TRUE", JSON_TRUE, NULL, 0, 0},        {"false", JSON_FALSE, NULL, 0, 0},
      {"FALSE", JSON_FALSE, NULL, 0, 0},      {"tRUE", JSON_STRING, "tRUE", 0, 0},
      {"null", JSON_NULL, NULL, 0, 0},        {"~", JSON_NULL, NULL, 0, 0},
      {"NULL", JSON_NULL, NULL, 0, 0},        {"", JSON_NULL, NULL, 0, 0},
      {"0", JSON_INTEGER, NULL, 0, 0},        {"-17", JSON_INTEGER, NULL, -17, 0},
      {"+5", JSON_INTEGER, NULL, 5, 0},       {"012", JSON_INTEGER, NULL, 12, 0},
      {"0o17", JSON_INTEGER, NULL, 15, 0},    {"0x1F", JSON_INTEGER, NULL, 31, 0},
      {"0x7fffffffffffffff", JSON_INTEGER, NULL, 9223372036854775807LL, 0},
      {"9223372036854775807", JSON_INTEGER, NULL, 9223372036854775807LL, 0},
      {"0b101", JSON_STRING, "0b101", 0, 0},  {"1_000", JSON_STRING, "1_000", 0, 0},
      {"0o18", JSON_STRING, "0o18", 0, 0},    {"-0x1", JSON_STRING, "-0x1", 0, 0},
      {"1.5", JSON_REAL, NULL, 0, 1.5},       {".5", JSON_REAL, NULL, 0, 0.5},
      {"-2.", JSON_REAL, NULL, 0, -2.0},      {"1e3", JSON_REAL, NULL, 0, 1000.0},
      {"2.5E-1", JSON_REAL, NULL, 0, 0.25},   {"1e", JSON_STRING, "1e", 0, 0},
      {".", JSON_STRING, ".", 0, 0},          {"1.2.3", JSON_STRING, "1.2.3", 0, 0},
      {"'true'", JSON_STRING, "true", 0, 0},  {"\"12\"", JSON_STRING, "12", 0, 0},
      {"!!str 5", JSON_STRING, "5", 0, 0},    {"!!str true", JSON_STRING, "true", 0, 0},
      {"! 5", JSON_STRING, "5", 0, 0},        {"!!int \"7\"", JSON_INTEGER, NULL, 7, 0},
      {"!!float 1", JSON_REAL, NULL, 0, 1.0}, {"!!bool FALSE", JSON_FALSE, NULL, 0, 0},
      {"!!null ~", JSON_NULL, NULL, 0, 0},    {"|\n  line\n", JSON_STRING, "line\n", 0, 0},
      {"1h30m", JSON_STRING, "1h30m", 0, 0},  {"64MiB", JSON_STRING, "64MiB", 0, 0},
      /* single-quoted scalars are decoded by core/yaml.c itself */
      {"''", JSON_STRING, "", 0, 0},          {"'it''s'", JSON_STRING, "it's", 0, 0},
      {"''''''''''''", JSON_STRING, "'''''", 0, 0},
      {"'a''''b'", JSON_STRING, "a''b", 0, 0},
      {"' lead  trail '", JSON_STRING, " lead  trail ", 0, 0},
      {"'one\n  two'", JSON_STRING, "one two", 0, 0},
      {"'one  \n\n\n  two'", JSON_STRING, "one\n\ntwo", 0, 0},
      {"'one\r\n \t two\r\n '", JSON_STRING, "one two ", 0, 0},
      {"'\xc3\xa9''\xc3\xa9'", JSON_STRING, "\xc3\xa9'\xc3\xa9", 0, 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char text[128];
    snprintf(text, sizeof text, "v: %s", cases[i].in);
    yaml_error err;
    yaml_doc *d = parse("s.yaml", text, &err);
    if (!d) {
      fprintf(stderr, "case %s: %s\n", cases[i].in, err.msg);
      CHECK(0);
      continue;
    }
    json_t *v = json_object_get(yaml_root(d), "v");
    if (!v || json_typeof(v) != cases[i].type) {
      fprintf(stderr, "case %s: wrong type %d\n", cases[i].in, v ? (int)json_typeof(v) : -1);
      CHECK(0);
    } else if (cases[i].type == JSON_STRING) {
      CHECK_STR(json_string_value(v), cases[i].str);
    } else if (cases[i].type == JSON_INTEGER) {
      CHECK(json_integer_value(v) == cases[i].i);
    } else if (cases[i].type == JSON_REAL) {
      CHECK(json_real_value(v) == cases[i].r);
    }
    yaml_free(d);
  }
  expect_error("s.yaml", "v: 9223372036854775808", 1, 4, "does not fit in 64 bits");
  expect_error("s.yaml", "v: -9223372036854775809", 1, 4, "does not fit");
  expect_error("s.yaml", "v: 0x8000000000000000", 1, 4, "does not fit");
  expect_error("s.yaml", "v: .inf", 1, 4, "infinite and NaN");
  expect_error("s.yaml", "v: -.Inf", 1, 4, "infinite and NaN");
  expect_error("s.yaml", "v: .NaN", 1, 4, "infinite and NaN");
  expect_error("s.yaml", "v: 1e999", 1, 4, "out of range");
  expect_error("s.yaml", "v: !foo bar", 1, 4, "unsupported tag \"!foo\"");
  expect_error("s.yaml", "v: !!binary aGk=", 1, 4, "unsupported tag \"!!binary\"");
  expect_error("s.yaml", "v: !!int x", 1, 4, "is not an integer");
  expect_error("s.yaml", "v: !!bool yes", 1, 4, "not true or false");
  expect_error("s.yaml", "v: !!map x", 1, 4, "on a scalar");
  expect_error("s.yaml", "v: !!seq {a: 1}", 1, 4, "on a mapping");
  expect_error("s.yaml", "!!int k: 1", 1, 1, "on a mapping key");
}

static void test_aliases(void) {
  yaml_error err;
  yaml_doc *d = parse("a.yaml",
                      "base: &b\n"
                      "  retries: 3\n"
                      "  tags: [x, y]\n"
                      "copy: *b\n"
                      "name: &n hello\n"
                      "again: *n\n"
                      "&k key: 1\n"
                      "keyval: *k\n",
                      &err);
  CHECK(d != NULL);
  if (!d) {
    fprintf(stderr, "%s\n", err.msg);
    return;
  }
  json_t *root = yaml_root(d);
  CHECK(json_equal(json_object_get(root, "base"), json_object_get(root, "copy")));
  CHECK_STR(json_string_value(json_object_get(root, "again")), "hello");
  CHECK_STR(json_string_value(json_object_get(root, "keyval")), "key");
  /* the alias is positioned where it is written, what it names where the anchor is */
  yaml_pos p = yaml_pos_value(d, root, "copy");
  CHECK_EQ(p.line, 4);
  CHECK_EQ(p.col, 7);
  p = yaml_pos_value(d, json_object_get(root, "copy"), "retries");
  CHECK_EQ(p.line, 2);
  yaml_free(d);

  expect_error("a.yaml", "a: *nope\n", 1, 4, "names no complete anchor");
  expect_error("a.yaml", "a: &r [1, *r]\n", 1, 11, "names no complete anchor");
  expect_error("a.yaml", "a: &x 1\n*x : 2\n", 2, 1, "aliases as mapping keys");
  /* an alias that would nest deeper than the limit */
  char deep[512] = "a: &d ";
  for (int i = 0; i < 40; i++) strcat(deep, "[");
  for (int i = 0; i < 40; i++) strcat(deep, "]");
  strcat(deep, "\nb: ");
  for (int i = 0; i < 30; i++) strcat(deep, "[");
  strcat(deep, "*d");
  for (int i = 0; i < 30; i++) strcat(deep, "]");
  strcat(deep, "\n");
  d = parse("a.yaml", deep, &err);
  CHECK(d == NULL);
  CHECK(strstr(err.msg, "nesting is deeper than 64") != NULL);
  CHECK_EQ(err.line, 2);
  yaml_free(d);
}

static void test_alias_bomb(void) {
  /* the "billion laughs": 9 levels of 9 aliases each = 9^9 strings once expanded */
  char text[4096];
  size_t o = 0;
  o += (size_t)snprintf(text + o, sizeof text - o,
                        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n");
  const char *names = "abcdefghi";
  for (int lvl = 1; lvl < 9; lvl++) {
    o += (size_t)snprintf(text + o, sizeof text - o, "%c: &%c [", names[lvl], names[lvl]);
    for (int k = 0; k < 9; k++)
      o += (size_t)snprintf(text + o, sizeof text - o, "%s*%c", k ? "," : "", names[lvl - 1]);
    o += (size_t)snprintf(text + o, sizeof text - o, "]\n");
  }
  long rss0 = maxrss_kb();
  double t0 = now_s();
  yaml_error err;
  yaml_doc *d = parse("bomb.yaml", text, &err);
  double dt = now_s() - t0;
  long rss1 = maxrss_kb();
  CHECK(d == NULL);
  yaml_free(d);
  CHECK(strstr(err.msg, "more than 1000000 nodes once aliases are expanded") != NULL);
  CHECK(err.line >= 2 && err.line <= 9);
  CHECK(dt < 1.0);
  CHECK(rss1 - rss0 < 64 * 1024); /* KiB: aliases share, nothing is copied */

  /* a smaller limit stops earlier */
  yaml_limits lim = yaml_default_limits();
  lim.max_nodes = 100;
  d = yaml_parse("bomb.yaml", text, strlen(text), &lim, &err);
  CHECK(d == NULL);
  CHECK_EQ(err.line, 2); /* 12 nodes on line 1, 92 more on line 2 */
  yaml_free(d);

  /* one alias of a large sequence is fine while under the limit */
  lim.max_nodes = 50;
  const char *ok3 = "a: &a [1,2,3,4,5,6,7,8,9,10]\nb: *a\nc: *a\n";
  d = yaml_parse("ok.yaml", ok3, strlen(ok3), &lim, &err);
  CHECK(d != NULL);
  yaml_free(d);
  const char *ok5 = "a: &a [1,2,3,4,5,6,7,8,9,10]\nb: *a\nc: *a\nd: *a\ne: *a\n";
  d = yaml_parse("ok.yaml", ok5, strlen(ok5), &lim, &err);
  CHECK(d == NULL);
  CHECK_EQ(err.line, 5);
  yaml_free(d);
}

static void test_duplicate_keys(void) {
  expect_error("d.yaml", "a: 1\nb: 2\na: 3\n", 3, 1, "duplicate key \"a\" (first at line 1, column 1)");
  expect_error("d.yaml", "x:\n  k: 1\n  'k': 2\n", 3, 3, "duplicate key \"k\" (first at line 2, column 3)");
  expect_error("d.yaml", "{a: 1, a: 2}", 1, 8, "duplicate key");
  expect_error("d.json", "{\"a\": 1, \"b\": {\"c\": 1, \"c\": 2}}", 1, 24, "duplicate key \"c\"");
  /* same text, different keys */
  yaml_error err;
  yaml_doc *d = parse("d.yaml", "1: a\n\"01\": b\ntrue: c\n\"true\x20\": d\n", &err);
  CHECK(d != NULL);
  yaml_free(d);
  expect_error("d.yaml", "1: a\n'1': b\n", 2, 1, "duplicate key \"1\"");
}

static void test_depth(void) {
  char buf[1024];
  yaml_error err;
  for (int depth = 63; depth <= 65; depth++) {
    size_t o = 0;
    for (int i = 0; i < depth; i++) buf[o++] = '[';
    for (int i = 0; i < depth; i++) buf[o++] = ']';
    buf[o] = '\0';
    yaml_doc *d = parse("deep.yaml", buf, &err);
    if (depth <= 64) {
      CHECK(d != NULL);
    } else {
      CHECK(d == NULL);
      CHECK(strstr(err.msg, "deeper than 64 levels") != NULL);
      CHECK_EQ(err.line, 1);
      CHECK_EQ(err.col, 65);
    }
    yaml_free(d);
  }
  /* block style, custom limit */
  yaml_limits lim = yaml_default_limits();
  lim.max_depth = 3;
  const char *text = "a:\n  b:\n    c:\n      d: 1\n";
  yaml_doc *d = yaml_parse("b.yaml", text, strlen(text), &lim, &err);
  CHECK(d == NULL);
  CHECK_EQ(err.line, 4);
  CHECK_EQ(err.col, 7);
  yaml_free(d);
  /* a very deep input stops at the limit without recursion */
  size_t n = 1000000;
  char *big = malloc(2 * n + 1);
  memset(big, '[', n);
  memset(big + n, ']', n);
  big[2 * n] = '\0';
  d = yaml_parse("big.yaml", big, 2 * n, NULL, &err);
  CHECK(d == NULL);
  yaml_free(d);
  free(big);
}

static void test_size_limits(void) {
  yaml_error err;
  /* over the byte limit: refused before parsing */
  size_t n = YAML_DEFAULT_MAX_BYTES + 1;
  char *big = malloc(n + 1);
  memset(big, '#', n);
  big[n] = '\0';
  double t0 = now_s();
  yaml_doc *d = yaml_parse("huge.yaml", big, n, NULL, &err);
  CHECK(d == NULL);
  CHECK(now_s() - t0 < 0.1);
  CHECK_EQ(err.line, 0);
  CHECK(strstr(err.msg, "too large") != NULL);
  yaml_free(d);

  /* a big but legal document: 3 MiB of a flow sequence */
  size_t count = 1000000;
  char *seq = malloc(count * 3 + 3);
  size_t o = 0;
  seq[o++] = '[';
  for (size_t i = 0; i < count; i++) {
    seq[o++] = '7';
    if (i + 1 < count) seq[o++] = ',';
  }
  seq[o++] = ']';
  seq[o] = '\0';
  t0 = now_s();
  d = yaml_parse("seq.yaml", seq, o, NULL, &err);
  double dt = now_s() - t0;
  CHECK(d == NULL); /* 1000001 nodes: one over the node limit */
  CHECK(strstr(err.msg, "more than 1000000 nodes") != NULL);
  yaml_free(d);
  seq[o - 3] = ']'; /* drop the last element */
  seq[o - 2] = '\0';
  d = yaml_parse("seq.yaml", seq, o - 2, NULL, &err);
  CHECK(d != NULL);
  CHECK_EQ(json_array_size(yaml_root(d)), count - 1);
  yaml_pos p = yaml_pos_index(d, yaml_root(d), count - 2);
  CHECK_EQ(p.line, 1);
  CHECK_EQ(p.col, (int)(2 * (count - 2) + 2));
  yaml_free(d);
  fprintf(stderr, "test_yaml: 1M-node document parsed in %.2f s\n", dt);
  free(seq);

  /* yaml_load_file refuses a too large file from its size */
  char path[] = "/tmp/wisp-yaml-XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  if (fd >= 0) {
    CHECK(write(fd, big, n) == (ssize_t)n);
    close(fd);
    d = yaml_load_file(path, NULL, &err);
    CHECK(d == NULL);
    CHECK(strstr(err.msg, "too large") != NULL);
    CHECK_STR(err.file, path);
    yaml_free(d);
    unlink(path);
  }
  free(big);
}

static void test_errors_and_files(void) {
  yaml_error err0;
  /* libfyaml's diagnostics are captured: nothing reaches stderr */
  fflush(stderr);
  int saved = dup(2);
  char path[] = "/tmp/wisp-yaml-err-XXXXXX";
  int fd = mkstemp(path);
  dup2(fd, 2);
  expect_error("bad.yaml", "a: [1,\n b: c\n", 3, 1, "flow sequence without a closing bracket");
  expect_error("bad.yaml", "x: 1\na: b: c\n", 2, 5, "invalid nested block mapping");
  expect_error("bad.json", "{\"a\" 1}", 1, 3, "JSON");
  expect_error("bad.yaml", "--- 1\n--- 2\n", 2, 1, "more than one document");
  expect_error("bad.yaml", "? [a, b]\n: c\n", 1, 3, "mapping keys must be scalars");
  expect_error("bad.yaml", "\"a\\0b\": 1\n", 1, 1, "NUL byte");
  expect_error("bad.yaml", "a: 1\nb: x\xff\xfey\n", 2, 5, "invalid UTF-8");
  expect_error("bad.yaml", "a: 1\nb: \x01\n", 2, 4, "control character 0x01");
  expect_error("bad.yaml", "a: x\x7f\n", 1, 5, "control character 0x7f");
  {
    /* a raw NUL would end libfyaml's input silently: refused */
    static const char nul[] = "a: 1\n\0b: [\n";
    yaml_doc *dn = yaml_parse("nul.yaml", nul, sizeof nul - 1, NULL, &err0);
    CHECK(dn == NULL);
    CHECK_EQ(err0.line, 2);
    CHECK_EQ(err0.col, 1);
    CHECK(strstr(err0.msg, "control character 0x00") != NULL);
  }
  expect_error("bad.yaml", "a: \"\\udc00\"\n", 1, 5, "invalid UTF8 escape"); /* libfyaml's own */
  fflush(stderr);
  dup2(saved, 2);
  close(saved);
  struct stat st;
  fstat(fd, &st);
  CHECK_EQ(st.st_size, 0);
  if (st.st_size > 0) { /* show what was written (our own CHECK output included) */
    char out[2048];
    ssize_t r = pread(fd, out, sizeof out - 1, 0);
    if (r > 0) {
      out[r] = '\0';
      fprintf(stderr, "stderr during the block:\n%s", out);
    }
  }
  close(fd);
  unlink(path);

  /* empty input, comment-only input */
  yaml_error err;
  yaml_doc *d = parse("empty.yaml", "", &err);
  CHECK(d != NULL && json_is_null(yaml_root(d)));
  yaml_free(d);
  d = parse("c.yaml", "# nothing\n", &err);
  CHECK(d != NULL && json_is_null(yaml_root(d)));
  yaml_free(d);
  d = parse("s.yaml", "--- just a string\n...\n", &err);
  CHECK(d != NULL && json_is_string(yaml_root(d)));
  yaml_free(d);
  /* NUL inside a string value is kept */
  d = parse("n.yaml", "a: \"x\\0y\"\n", &err);
  CHECK(d != NULL);
  if (d) CHECK_EQ(json_string_length(json_object_get(yaml_root(d), "a")), 3);
  yaml_free(d);

  /* files */
  d = yaml_load_file("/nonexistent/wisp.yaml", NULL, &err);
  CHECK(d == NULL);
  CHECK(strstr(err.msg, "cannot open") != NULL);
  d = yaml_load_file("/tmp", NULL, &err);
  CHECK(d == NULL);
  CHECK(strstr(err.msg, "not a regular file") != NULL);
  char fifo[] = "/tmp/wisp-yaml-fifo-XXXXXX";
  int tfd = mkstemp(fifo);
  if (tfd >= 0) {
    close(tfd);
    unlink(fifo);
    if (mkfifo(fifo, 0600) == 0) {
      d = yaml_load_file(fifo, NULL, &err); /* must not block */
      CHECK(d == NULL);
      CHECK(strstr(err.msg, "not a regular file") != NULL);
      unlink(fifo);
    }
  }
  char file[] = "/tmp/wisp-yaml-ok-XXXXXX";
  tfd = mkstemp(file);
  if (tfd >= 0) {
    const char *text = "a:\n  - 1\n  - two\n";
    CHECK(write(tfd, text, strlen(text)) == (ssize_t)strlen(text));
    close(tfd);
    d = yaml_load_file(file, NULL, &err);
    CHECK(d != NULL);
    if (d) {
      json_t *a = json_object_get(yaml_root(d), "a");
      CHECK_EQ(json_array_size(a), 2);
      CHECK_EQ(yaml_pos_index(d, a, 1).line, 3);
    }
    yaml_free(d);
    unlink(file);
  }
  yaml_free(NULL);
  CHECK(yaml_root(NULL) == NULL);
}

TEST_MAIN(test_yaml_and_json_equal, test_positions, test_core_schema, test_aliases,
          test_alias_bomb, test_duplicate_keys, test_depth, test_size_limits,
          test_errors_and_files)
