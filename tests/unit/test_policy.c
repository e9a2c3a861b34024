/* tests/unit/test_policy.c — the security room: patterns, policy parsing and its errors, every
 * condition operator, scopes and the registry, contexts and decisions, concurrent evaluation
 * of one shared scope, and the `security` Lua module with security_check. */
#include <jansson.h>
#include <lauxlib.h>
#include <lualib.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include "security/context.h"
#include "security/pattern.h"
#include "security/policy.h"
#include "security/scope.h"
#include "stdlib/errors.h"
#include "stdlib/security.h"
#include "tests/unit/t.h"

/* JSON text with ' for " (keeps the C literals readable). */
static json_t *J(const char *text) {
  char *s = strdup(text);
  for (char *p = s; *p; p++)
    if (*p == '\'') *p = '"';
  json_error_t e;
  json_t *j = json_loads(s, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
  if (!j) {
    fprintf(stderr, "bad test JSON %s: %s\n", s, e.text);
    abort();
  }
  free(s);
  return j;
}

static sec_policy *P(const char *name, const char *text) {
  json_t *j = J(text);
  char err[512];
  sec_policy *p = sec_policy_parse_named(j, name, err, sizeof err);
  if (!p) fprintf(stderr, "unexpected parse error: %s\n", err);
  json_decref(j);
  return p;
}

/* Parse must fail with a message containing want. */
static int parse_fails(const char *text, const char *want) {
  json_t *j = J(text);
  char err[512] = "";
  sec_policy *p = sec_policy_parse(j, err, sizeof err);
  json_decref(j);
  if (p) {
    sec_policy_release(p);
    fprintf(stderr, "parse of %s succeeded, wanted error \"%s\"\n", text, want);
    return 0;
  }
  if (!strstr(err, want)) {
    fprintf(stderr, "error \"%s\" lacks \"%s\"\n", err, want);
    return 0;
  }
  return 1;
}

/* ---- patterns ---- */

static bool pm(const char *pat, const char *s) {
  sec_pattern *p = sec_pattern_compile(pat, strlen(pat));
  bool r = sec_pattern_match(p, s, strlen(s));
  sec_pattern_free(p);
  return r;
}

/* Reference matcher: plain recursion. */
static bool naive(const char *p, const char *s) {
  if (*p == '\0') return *s == '\0';
  if (*p == '*') return naive(p + 1, s) || (*s && naive(p, s + 1));
  return *s == *p && naive(p + 1, s + 1);
}

static void test_pattern(void) {
  CHECK(pm("", ""));
  CHECK(!pm("", "a"));
  CHECK(pm("abc", "abc"));
  CHECK(!pm("abc", "abcd"));
  CHECK(!pm("abc", "ab"));
  CHECK(pm("*", ""));
  CHECK(pm("*", "anything:at/all.here"));
  CHECK(pm("**", ""));
  CHECK(pm("process.*", "process.spawn"));
  CHECK(pm("process.*", "process."));
  CHECK(!pm("process.*", "process"));
  CHECK(pm("*.example.com", "api.example.com"));
  CHECK(pm("*.example.com", "a.b.c.example.com"));
  CHECK(!pm("*.example.com", "example.com"));
  CHECK(!pm("*.example.com", "api.example.com.evil.org"));
  CHECK(pm("wss://*.example.com/*", "wss://api.example.com/v1/feed"));
  /* '*' crosses '/': a host pattern alone does not pin the host (docs/security.md) */
  CHECK(pm("wss://*.example.com/*", "wss://evil.org/x.example.com/"));
  CHECK(pm("app:admin*", "app:admin"));
  CHECK(pm("app:admin*", "app:admin_panel"));
  CHECK(!pm("app:admin*", "app:user"));
  CHECK(pm("a*b*c", "abc"));
  CHECK(pm("a*b*c", "aXbYc"));
  CHECK(pm("a*b*c", "abbbcbc"));
  CHECK(!pm("a*b*c", "acb"));
  CHECK(pm("*ab*ab*", "abab"));
  CHECK(!pm("*ab*ab*", "aba"));
  CHECK(!pm("ab*ba", "aba")); /* prefix and suffix may not overlap */
  CHECK(pm("ab*ba", "abba"));
  CHECK(pm("a**b", "ab"));
  CHECK(pm("?[x]", "?[x]")); /* only '*' is special */
  CHECK(!pm("?", "a"));
  CHECK(pm("a\\*", "a\\zzz")); /* no escapes: the backslash is literal */
  sec_pattern *p = sec_pattern_compile("x*y", 3);
  CHECK_STR(sec_pattern_source(p), "x*y");
  sec_pattern_free(p);

  /* every pattern of length <= 5 over {a, b, *} against every subject of length <= 6 over
   * {a, b}, compared with the reference */
  char pat[6], sub[7];
  int mismatches = 0;
  for (int plen = 0; plen <= 5; plen++) {
    int np = 1;
    for (int k = 0; k < plen; k++) np *= 3;
    for (int pi = 0; pi < np; pi++) {
      int v = pi;
      for (int k = 0; k < plen; k++, v /= 3) pat[k] = "ab*"[v % 3];
      pat[plen] = '\0';
      sec_pattern *cp = sec_pattern_compile(pat, (size_t)plen);
      for (int slen = 0; slen <= 6; slen++) {
        for (int si = 0; si < (1 << slen); si++) {
          for (int k = 0; k < slen; k++) sub[k] = (si >> k) & 1 ? 'b' : 'a';
          sub[slen] = '\0';
          if (sec_pattern_match(cp, sub, (size_t)slen) != naive(pat, sub)) {
            if (mismatches++ < 5) fprintf(stderr, "pattern %s vs %s differs\n", pat, sub);
          }
        }
      }
      sec_pattern_free(cp);
    }
  }
  CHECK_EQ(mismatches, 0);
}

/* ---- conditions ---- */

static json_t *std_actor_meta, *std_meta;

static void std_init(void) {
  if (std_actor_meta) return;
  std_actor_meta = J("{'tenant':'acme','level':3,'score':2.5,'roles':['admin','dev'],"
                     "'nested':{'a':{'b':'deep'}},'nul':null}");
  std_meta = J("{'tenant':'acme','port':443,'tags':['x','y'],'flag':true,'obj':{'k':1},"
               "'name':'alpha','role':'dev','empty':''}");
}

/* 1 / 0 for the condition on the standard request, -1 when it does not parse. */
static int C_with(const char *cond, const json_t *meta) {
  std_init();
  char text[1024];
  snprintf(text, sizeof text, "{'actions':'*','resources':'*','effect':'allow','conditions':[%s]}",
           cond);
  json_t *j = J(text);
  char err[512];
  sec_policy *p = sec_policy_parse(j, err, sizeof err);
  json_decref(j);
  if (!p) {
    fprintf(stderr, "condition %s: %s\n", cond, err);
    return -1;
  }
  sec_actor actor = {.id = "user:42", .meta = std_actor_meta};
  sec_request req = {.actor = &actor,
                     .action = "websocket.connect.url",
                     .resource = "wss://api.acme.example.com/feed",
                     .meta = meta};
  int r = sec_policy_matches(p, &req);
  sec_policy_release(p);
  return r;
}
static int C(const char *cond) {
  std_init();
  return C_with(cond, std_meta);
}

static void test_op_eq_ne(void) {
  CHECK_EQ(C("{'field':'meta.tenant','operator':'eq','value':'acme'}"), 1);
  CHECK_EQ(C("{'field':'meta.tenant','operator':'eq','value':'globex'}"), 0);
  CHECK_EQ(C("{'field':'meta.port','operator':'eq','value':443}"), 1);
  CHECK_EQ(C("{'field':'meta.port','operator':'eq','value':443.0}"), 1);
  CHECK_EQ(C("{'field':'meta.port','operator':'eq','value':'443'}"), 0);
  CHECK_EQ(C("{'field':'meta.flag','operator':'eq','value':true}"), 1);
  CHECK_EQ(C("{'field':'meta.flag','operator':'eq','value':1}"), 0);
  CHECK_EQ(C("{'field':'actor.meta.roles','operator':'eq','value':['admin','dev']}"), 1);
  CHECK_EQ(C("{'field':'actor.meta.roles','operator':'eq','value':['dev','admin']}"), 0);
  CHECK_EQ(C("{'field':'meta.obj','operator':'eq','value':{'k':1.0}}"), 1);
  CHECK_EQ(C("{'field':'meta.obj','operator':'eq','value':{'k':2}}"), 0);
  CHECK_EQ(C("{'field':'meta.missing','operator':'eq','value':'x'}"), 0);
  CHECK_EQ(C("{'field':'action','operator':'eq','value':'websocket.connect.url'}"), 1);
  CHECK_EQ(C("{'field':'resource','operator':'eq','value':'wss://api.acme.example.com/feed'}"), 1);
  CHECK_EQ(C("{'field':'actor.id','operator':'eq','value':'user:42'}"), 1);
  CHECK_EQ(C("{'field':'actor.meta.nested.a.b','operator':'eq','value':'deep'}"), 1);
  CHECK_EQ(C("{'field':'meta.empty','operator':'eq','value':''}"), 1);
  CHECK_EQ(C("{'field':'meta.tenant','operator':'ne','value':'globex'}"), 1);
  CHECK_EQ(C("{'field':'meta.tenant','operator':'ne','value':'acme'}"), 0);
  CHECK_EQ(C("{'field':'meta.port','operator':'ne','value':'443'}"), 1); /* different values */
  CHECK_EQ(C("{'field':'meta.missing','operator':'ne','value':'x'}"), 0); /* absent: false */
  CHECK_EQ(C("{'field':'actor.meta.nul','operator':'ne','value':'x'}"), 0); /* null = absent */
}

static void test_op_order(void) {
  CHECK_EQ(C("{'field':'actor.meta.level','operator':'lt','value':5}"), 1);
  CHECK_EQ(C("{'field':'actor.meta.level','operator':'gt','value':5}"), 0);
  CHECK_EQ(C("{'field':'actor.meta.level','operator':'lte','value':3}"), 1);
  CHECK_EQ(C("{'field':'actor.meta.level','operator':'gte','value':3}"), 1);
  CHECK_EQ(C("{'field':'actor.meta.level','operator':'gt','value':3}"), 0);
  CHECK_EQ(C("{'field':'actor.meta.level','operator':'lt','value':3}"), 0);
  CHECK_EQ(C("{'field':'actor.meta.level','operator':'gt','value':2.5}"), 1);
  CHECK_EQ(C("{'field':'actor.meta.score','operator':'lt','value':3}"), 1);
  CHECK_EQ(C("{'field':'actor.meta.score','operator':'gte','value':2.5}"), 1);
  CHECK_EQ(C("{'field':'meta.name','operator':'lt','value':'beta'}"), 1);
  CHECK_EQ(C("{'field':'meta.name','operator':'gt','value':'beta'}"), 0);
  CHECK_EQ(C("{'field':'meta.name','operator':'gte','value':'alpha'}"), 1);
  CHECK_EQ(C("{'field':'meta.name','operator':'lte','value':'alpha'}"), 1);
  CHECK_EQ(C("{'field':'meta.name','operator':'gt','value':'alph'}"), 1);
  CHECK_EQ(C("{'field':'meta.name','operator':'lt','value':'alphab'}"), 1);
  /* type mismatches are false both ways */
  CHECK_EQ(C("{'field':'meta.name','operator':'lt','value':5}"), 0);
  CHECK_EQ(C("{'field':'meta.name','operator':'gte','value':5}"), 0);
  CHECK_EQ(C("{'field':'actor.meta.level','operator':'lt','value':'5'}"), 0);
  CHECK_EQ(C("{'field':'actor.meta.level','operator':'gte','value':'5'}"), 0);
  CHECK_EQ(C("{'field':'meta.tags','operator':'lt','value':5}"), 0);
  CHECK_EQ(C("{'field':'meta.flag','operator':'gte','value':0}"), 0);
  CHECK_EQ(C("{'field':'meta.missing','operator':'lt','value':5}"), 0);
  CHECK_EQ(C("{'field':'meta.missing','operator':'gte','value':5}"), 0);
}

static void test_op_in(void) {
  CHECK_EQ(C("{'field':'meta.tenant','operator':'in','value':['acme','globex']}"), 1);
  CHECK_EQ(C("{'field':'meta.tenant','operator':'in','value':['globex']}"), 0);
  CHECK_EQ(C("{'field':'meta.tenant','operator':'in','value':[]}"), 0);
  CHECK_EQ(C("{'field':'meta.port','operator':'in','value':[80,443.0]}"), 1);
  CHECK_EQ(C("{'field':'meta.port','operator':'in','value':['443']}"), 0);
  CHECK_EQ(C("{'field':'meta.missing','operator':'in','value':['x']}"), 0);
  CHECK_EQ(C("{'field':'meta.tenant','operator':'nin','value':['globex']}"), 1);
  CHECK_EQ(C("{'field':'meta.tenant','operator':'nin','value':['acme']}"), 0);
  CHECK_EQ(C("{'field':'meta.tenant','operator':'nin','value':[]}"), 1);
  CHECK_EQ(C("{'field':'meta.missing','operator':'nin','value':['x']}"), 0);
  /* the array from another field */
  CHECK_EQ(C("{'field':'meta.role','operator':'in','value_from':'actor.meta.roles'}"), 1);
  CHECK_EQ(C("{'field':'meta.tenant','operator':'in','value_from':'actor.meta.roles'}"), 0);
  CHECK_EQ(C("{'field':'meta.tenant','operator':'nin','value_from':'actor.meta.roles'}"), 1);
  /* value_from that is not an array: false both ways */
  CHECK_EQ(C("{'field':'meta.tenant','operator':'in','value_from':'actor.meta.tenant'}"), 0);
  CHECK_EQ(C("{'field':'meta.tenant','operator':'nin','value_from':'actor.meta.tenant'}"), 0);
}

static void test_op_exists(void) {
  CHECK_EQ(C("{'field':'meta.tenant','operator':'exists'}"), 1);
  CHECK_EQ(C("{'field':'meta.missing','operator':'exists'}"), 0);
  CHECK_EQ(C("{'field':'meta.missing','operator':'nexists'}"), 1);
  CHECK_EQ(C("{'field':'meta.tenant','operator':'nexists'}"), 0);
  CHECK_EQ(C("{'field':'actor.meta.nul','operator':'exists'}"), 0);
  CHECK_EQ(C("{'field':'actor.meta.nul','operator':'nexists'}"), 1);
  CHECK_EQ(C("{'field':'actor.meta.nested.a.b','operator':'exists'}"), 1);
  CHECK_EQ(C("{'field':'actor.meta.nested.a.b.c','operator':'exists'}"), 0); /* through a string */
  CHECK_EQ(C("{'field':'actor.meta.nested.a','operator':'exists'}"), 1);
  CHECK_EQ(C("{'field':'meta','operator':'exists'}"), 1);
  CHECK_EQ(C("{'field':'actor.meta','operator':'exists'}"), 1);
  CHECK_EQ(C("{'field':'actor.id','operator':'exists'}"), 1);
  CHECK_EQ(C_with("{'field':'meta','operator':'exists'}", NULL), 0);
  CHECK_EQ(C_with("{'field':'meta.tenant','operator':'nexists'}", NULL), 1);
}

static void test_op_contains(void) {
  CHECK_EQ(C("{'field':'resource','operator':'contains','value':'acme'}"), 1);
  CHECK_EQ(C("{'field':'resource','operator':'contains','value':'globex'}"), 0);
  CHECK_EQ(C("{'field':'resource','operator':'contains','value':''}"), 1);
  CHECK_EQ(C("{'field':'resource','operator':'ncontains','value':'globex'}"), 1);
  CHECK_EQ(C("{'field':'resource','operator':'ncontains','value':'acme'}"), 0);
  CHECK_EQ(C("{'field':'meta.tags','operator':'contains','value':'x'}"), 1);
  CHECK_EQ(C("{'field':'meta.tags','operator':'contains','value':'z'}"), 0);
  CHECK_EQ(C("{'field':'meta.tags','operator':'ncontains','value':'z'}"), 1);
  CHECK_EQ(C("{'field':'meta.tags','operator':'ncontains','value':'y'}"), 0);
  CHECK_EQ(C("{'field':'actor.meta.roles','operator':'contains','value_from':'meta.role'}"), 1);
  /* mismatches: number field, string field with a non-string value */
  CHECK_EQ(C("{'field':'meta.port','operator':'contains','value':'4'}"), 0);
  CHECK_EQ(C("{'field':'meta.port','operator':'ncontains','value':'4'}"), 0);
  CHECK_EQ(C("{'field':'meta.name','operator':'contains','value':1}"), 0);
  CHECK_EQ(C("{'field':'meta.name','operator':'ncontains','value':1}"), 0);
  CHECK_EQ(C("{'field':'meta.obj','operator':'contains','value':'k'}"), 0);
  CHECK_EQ(C("{'field':'meta.missing','operator':'ncontains','value':'x'}"), 0);
}

static void test_op_matches(void) {
  CHECK_EQ(C("{'field':'resource','operator':'matches','value':'^wss://[a-z.]+\\\\.example\\\\.com/'}"),
           1);
  CHECK_EQ(C("{'field':'resource','operator':'matches','value':'^ws://'}"), 0);
  CHECK_EQ(C("{'field':'resource','operator':'matches','value':'feed$'}"), 1);
  CHECK_EQ(C("{'field':'resource','operator':'matches','value':'acme'}"), 1); /* unanchored */
  CHECK_EQ(C("{'field':'resource','operator':'nmatches','value':'^ws://'}"), 1);
  CHECK_EQ(C("{'field':'resource','operator':'nmatches','value':'^wss://'}"), 0);
  CHECK_EQ(C("{'field':'actor.id','operator':'matches','value':'^user:[0-9]+$'}"), 1);
  CHECK_EQ(C("{'field':'meta.tenant','operator':'matches','value':'^(acme|globex)$'}"), 1);
  CHECK_EQ(C("{'field':'meta.port','operator':'matches','value':'4'}"), 0);
  CHECK_EQ(C("{'field':'meta.port','operator':'nmatches','value':'4'}"), 0);
  CHECK_EQ(C("{'field':'meta.missing','operator':'nmatches','value':'x'}"), 0);
}

static void test_value_from(void) {
  CHECK_EQ(C("{'field':'meta.tenant','operator':'eq','value_from':'actor.meta.tenant'}"), 1);
  json_t *other = J("{'tenant':'globex'}");
  CHECK_EQ(C_with("{'field':'meta.tenant','operator':'eq','value_from':'actor.meta.tenant'}",
                  other),
           0);
  CHECK_EQ(C_with("{'field':'meta.tenant','operator':'ne','value_from':'actor.meta.tenant'}",
                  other),
           1);
  json_decref(other);
  CHECK_EQ(C("{'field':'meta.tenant','operator':'eq','value_from':'actor.meta.missing'}"), 0);
  CHECK_EQ(C("{'field':'meta.tenant','operator':'ne','value_from':'actor.meta.missing'}"), 0);
  CHECK_EQ(C("{'field':'actor.meta.level','operator':'lt','value_from':'meta.port'}"), 1);
  CHECK_EQ(C("{'field':'resource','operator':'contains','value_from':'meta.tenant'}"), 1);
  CHECK_EQ(C("{'field':'actor.id','operator':'eq','value_from':'actor.id'}"), 1);
}

static void test_conditions_all_hold(void) {
  CHECK_EQ(C("{'field':'meta.tenant','operator':'eq','value':'acme'},"
             "{'field':'actor.meta.level','operator':'gte','value':3}"),
           1);
  CHECK_EQ(C("{'field':'meta.tenant','operator':'eq','value':'acme'},"
             "{'field':'actor.meta.level','operator':'gte','value':4}"),
           0);
  /* no actor: actor fields are absent */
  json_t *j = J("{'actions':'*','resources':'*','effect':'allow','conditions':["
                "{'field':'actor.id','operator':'nexists'},"
                "{'field':'actor.meta.x','operator':'nexists'}]}");
  sec_policy *p = sec_policy_parse(j, NULL, 0);
  json_decref(j);
  sec_request req = {.actor = NULL, .action = "a", .resource = "r", .meta = NULL};
  CHECK(p && sec_policy_matches(p, &req));
  sec_actor noid = {.id = NULL, .meta = NULL};
  req.actor = &noid;
  CHECK(p && sec_policy_matches(p, &req));
  sec_policy_release(p);
}

static void test_parse_errors(void) {
  CHECK(parse_fails("[1]", "policy must be an object, got array"));
  CHECK(parse_fails("{'actions':'a','resources':'*','effect':'allow','resource':'x'}",
                    "unknown field \"resource\" (expected actions, resources, effect, conditions)"));
  CHECK(parse_fails("{'actions':'a','resources':'*','effect':'permit'}",
                    "effect: must be \"allow\" or \"deny\", got \"permit\""));
  CHECK(parse_fails("{'actions':'a','resources':'*','effect':1}",
                    "effect: must be \"allow\" or \"deny\", got integer"));
  CHECK(parse_fails("{'actions':'a','resources':'*'}", "effect: required"));
  CHECK(parse_fails("{'resources':'*','effect':'allow'}", "actions: required"));
  CHECK(parse_fails("{'actions':'a','effect':'allow'}", "resources: required"));
  CHECK(parse_fails("{'actions':[],'resources':'*','effect':'allow'}", "actions: must not be empty"));
  CHECK(parse_fails("{'actions':['a',1],'resources':'*','effect':'allow'}",
                    "actions[1]: must be a string, got integer"));
  CHECK(parse_fails("{'actions':'a','resources':5,'effect':'allow'}",
                    "resources: must be a string or a list of strings, got integer"));
  CHECK(parse_fails("{'actions':'a\\u0000b','resources':'*','effect':'allow'}",
                    "actions: contains a NUL byte"));
  CHECK(parse_fails("{'actions':'a','resources':'*','effect':'allow','conditions':{}}",
                    "conditions: must be a list, got object"));
  CHECK(parse_fails("{'actions':'a','resources':'*','effect':'allow','conditions':['x']}",
                    "conditions[0]: must be an object {field, operator, value | value_from}, got "
                    "string"));
  const char *head = "{'actions':'a','resources':'*','effect':'allow','conditions':[";
  struct {
    const char *cond, *want;
  } cases[] = {
      {"{'field':'meta.x','operator':'equals','value':1}",
       "conditions[0].operator: unknown operator \"equals\" (expected one of eq ne lt gt lte gte "
       "in nin exists nexists contains ncontains matches nmatches)"},
      {"{'field':'meta.x','operator':'matches','value':'a('}",
       "conditions[0].value: invalid regex \"a(\": "},
      {"{'field':'meta.x','operator':'nmatches','value':'[z-a]'}",
       "conditions[0].value: invalid regex \"[z-a]\": "},
      {"{'field':'user.id','operator':'eq','value':1}",
       "conditions[0].field: unknown field \"user.id\" (expected action, resource, actor.id, "
       "actor.meta.<key>, meta.<key>)"},
      {"{'field':'actor.id.x','operator':'eq','value':1}", "unknown field \"actor.id.x\""},
      {"{'field':'actor','operator':'eq','value':1}", "unknown field \"actor\""},
      {"{'field':'metadata','operator':'eq','value':1}", "unknown field \"metadata\""},
      {"{'field':'meta..x','operator':'eq','value':1}",
       "conditions[0].field: empty key in \"meta..x\""},
      {"{'field':'meta.','operator':'eq','value':1}", "empty key in \"meta.\""},
      {"{'field':'meta.x','operator':'eq','value_from':'meta.y.'}",
       "conditions[0].value_from: empty key in \"meta.y.\""},
      {"{'field':5,'operator':'eq','value':1}", "conditions[0].field: must be a string, got integer"},
      {"{'operator':'eq','value':1}", "conditions[0].field: required"},
      {"{'field':'meta.x','value':1}", "conditions[0].operator: required"},
      {"{'field':'meta.x','operator':true,'value':1}",
       "conditions[0].operator: must be a string, got boolean"},
      {"{'field':'meta.x','operator':'eq','valu':1}",
       "conditions[0]: unknown field \"valu\" (expected field, operator, value, value_from)"},
      {"{'field':'meta.x','operator':'exists','value':true}",
       "conditions[0]: operator \"exists\" takes no value or value_from"},
      {"{'field':'meta.x','operator':'nexists','value_from':'meta.y'}",
       "operator \"nexists\" takes no value or value_from"},
      {"{'field':'meta.x','operator':'eq'}", "conditions[0]: operator \"eq\" needs value or value_from"},
      {"{'field':'meta.x','operator':'eq','value':1,'value_from':'meta.y'}",
       "conditions[0]: give either value or value_from, not both"},
      {"{'field':'meta.x','operator':'in','value':'abc'}",
       "conditions[0].value: operator \"in\" needs an array, got string"},
      {"{'field':'meta.x','operator':'nin','value':{}}", "operator \"nin\" needs an array, got object"},
      {"{'field':'meta.x','operator':'lt','value':true}",
       "conditions[0].value: operator \"lt\" needs a number or a string, got boolean"},
      {"{'field':'meta.x','operator':'gte','value':[1]}", "operator \"gte\" needs a number or a string, got array"},
      {"{'field':'meta.x','operator':'matches','value':5}",
       "conditions[0].value: operator \"matches\" needs a regex string, got integer"},
      {"{'field':'meta.x','operator':'matches','value_from':'meta.y'}",
       "conditions[0].value_from: operator \"matches\" takes a literal regex in value"},
      {"{'field':'meta.x','operator':'eq','value':null}",
       "conditions[0].value: must not be null (use exists / nexists)"},
      {"{'field':'meta.x','operator':'eq','value_from':'nowhere'}",
       "conditions[0].value_from: unknown field \"nowhere\""},
  };
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    char text[1024];
    snprintf(text, sizeof text, "%s%s]}", head, cases[k].cond);
    CHECK(parse_fails(text, cases[k].want));
  }
  /* the index names the failing condition */
  char text[1024];
  snprintf(text, sizeof text,
           "%s{'field':'meta.x','operator':'exists'},{'field':'meta.x','operator':'eq'}]}", head);
  CHECK(parse_fails(text, "conditions[1]: operator \"eq\" needs value or value_from"));

  /* names */
  json_t *j = J("{'actions':'a','resources':'*','effect':'allow'}");
  char err[256] = "";
  char longname[SEC_NAME_MAX + 2];
  memset(longname, 'n', sizeof longname - 1);
  longname[sizeof longname - 1] = '\0';
  CHECK(sec_policy_parse_named(j, longname, err, sizeof err) == NULL);
  CHECK_STR(err, "policy name must be 1..256 bytes");
  CHECK(sec_policy_parse_named(j, "", err, sizeof err) == NULL);
  CHECK(sec_policy_parse(NULL, err, sizeof err) == NULL);
  CHECK_STR(err, "policy must be an object, got nothing");
  /* a NULL or empty error buffer is fine */
  CHECK(sec_policy_parse_named(j, "", NULL, 0) == NULL);
  sec_policy *p = sec_policy_parse_named(j, "app:p", err, sizeof err);
  CHECK(p != NULL);
  if (p) {
    CHECK_STR(sec_policy_name(p), "app:p");
    CHECK_EQ(sec_policy_effect(p), SEC_ALLOW);
    CHECK(sec_policy_retain(p) == p);
    sec_policy_release(p);
    sec_policy_release(p);
  }
  json_decref(j);
  /* a short error buffer truncates, NUL-terminated */
  j = J("{'actions':'a','resources':'*','effect':'permit'}");
  char tiny[8];
  memset(tiny, 'x', sizeof tiny);
  CHECK(sec_policy_parse(j, tiny, sizeof tiny) == NULL);
  CHECK_STR(tiny, "effect:");
  json_decref(j);
}

/* The policy keeps its own copy of literal values. */
static void test_policy_is_immutable(void) {
  json_t *j = J("{'actions':'*','resources':'*','effect':'allow','conditions':["
                "{'field':'meta.t','operator':'in','value':['a']}]}");
  sec_policy *p = sec_policy_parse(j, NULL, 0);
  json_array_append_new(json_object_get(json_array_get(json_object_get(j, "conditions"), 0),
                                        "value"),
                        json_string("b"));
  json_t *meta = J("{'t':'b'}");
  sec_request req = {.action = "x", .resource = "y", .meta = meta};
  CHECK(p && !sec_policy_matches(p, &req));
  json_decref(meta);
  json_decref(j);
  sec_policy_release(p);
}

/* ---- actors ---- */

static void test_actor_parse(void) {
  char err[256];
  sec_actor a;
  json_t *j = J("{'id':'svc:api','meta':{'tenant':'acme'}}");
  CHECK_EQ(sec_actor_parse(j, &a, err, sizeof err), 0);
  CHECK_STR(a.id, "svc:api");
  CHECK_STR(json_string_value(json_object_get(a.meta, "tenant")), "acme");
  CHECK(a.meta != json_object_get(j, "meta")); /* a copy */
  sec_actor_clear(&a);
  CHECK(a.id == NULL && a.meta == NULL);
  json_decref(j);
  struct {
    const char *text, *want;
  } bad[] = {
      {"'x'", "actor must be an object {id, meta}, got string"},
      {"{'meta':{}}", "id: required"},
      {"{'id':''}", "id: must be a non-empty string"},
      {"{'id':7}", "id: must be a non-empty string without NUL bytes, got integer"},
      {"{'id':'a','meta':[1]}", "meta: must be an object, got array"},
      {"{'id':'a','roles':[]}", "unknown field \"roles\" (expected id, meta)"},
  };
  for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
    j = J(bad[k].text);
    err[0] = '\0';
    CHECK_EQ(sec_actor_parse(j, &a, err, sizeof err), -1);
    if (!strstr(err, bad[k].want)) fprintf(stderr, "actor error \"%s\" lacks \"%s\"\n", err, bad[k].want);
    CHECK(strstr(err, bad[k].want) != NULL);
    json_decref(j);
  }
  j = J("{'id':'a','meta':null}");
  CHECK_EQ(sec_actor_parse(j, &a, err, sizeof err), 0);
  CHECK(a.meta == NULL);
  sec_actor_clear(&a);
  json_decref(j);
}

/* ---- scopes, contexts, decisions ---- */

static sec_context *ctx_with(sec_scope *s, const char *id, const char *meta, unsigned flags) {
  json_t *m = meta ? J(meta) : NULL;
  sec_actor a = {.id = (char *)id, .meta = m};
  sec_context *c = sec_context_new(id ? &a : NULL, s, flags);
  json_decref(m);
  return c;
}

static void test_deny_wins(void) {
  sec_policy *allow_all = P("app:allow_all", "{'actions':'*','resources':'*','effect':'allow'}");
  sec_policy *no_admin = P("app:no_admin",
                           "{'actions':'process.spawn','resources':'app:admin*','effect':'deny'}");
  char reason[256];
  for (int order = 0; order < 2; order++) {
    sec_scope *s = sec_scope_new();
    CHECK_EQ(sec_scope_add_policy(s, order ? no_admin : allow_all), 0);
    CHECK_EQ(sec_scope_add_policy(s, order ? allow_all : no_admin), 0);
    sec_context *c = ctx_with(s, "svc:a", NULL, SEC_CTX_STRICT);
    CHECK(!sec_allowed(c, "process.spawn", "app:admin_panel", NULL, reason, sizeof reason));
    CHECK_STR(reason, "policy \"app:no_admin\" denies process.spawn on \"app:admin_panel\"");
    CHECK(sec_allowed(c, "process.spawn", "app:worker", NULL, reason, sizeof reason));
    CHECK_STR(reason, "policy \"app:allow_all\" allows process.spawn on \"app:worker\"");
    CHECK(sec_allowed(c, "process.send", "app:admin_panel", NULL, reason, sizeof reason));
    sec_context_release(c);
    sec_scope_release(s);
  }
  /* an unnamed policy is reported as such */
  sec_policy *anon = P(NULL, "{'actions':'env.get','resources':'SECRET*','effect':'deny'}");
  sec_scope *s = sec_scope_new();
  sec_scope_add_policy(s, anon);
  sec_scope_add_policy(s, allow_all);
  sec_context *c = ctx_with(s, "svc:a", NULL, SEC_CTX_STRICT);
  CHECK(!sec_allowed(c, "env.get", "SECRET_KEY", NULL, reason, sizeof reason));
  CHECK_STR(reason, "an unnamed policy denies env.get on \"SECRET_KEY\"");
  sec_context_release(c);
  sec_scope_release(s);
  sec_policy_release(anon);
  sec_policy_release(allow_all);
  sec_policy_release(no_admin);
}

static void test_no_match_denies(void) {
  sec_policy *ws = P("app:ws", "{'actions':['websocket.connect','websocket.connect.url'],"
                               "'resources':['','wss://*.example.com/*'],'effect':'allow'}");
  sec_scope *s = sec_scope_new();
  sec_scope_add_policy(s, ws);
  sec_context *c = ctx_with(s, "svc:a", NULL, SEC_CTX_STRICT);
  char reason[256];
  CHECK(sec_allowed(c, "websocket.connect", "", NULL, reason, sizeof reason));
  CHECK(sec_allowed(c, "websocket.connect.url", "wss://api.example.com/x", NULL, reason,
                    sizeof reason));
  CHECK(!sec_allowed(c, "websocket.connect.url", "wss://evil.org/", NULL, reason, sizeof reason));
  CHECK_STR(reason, "no policy allows websocket.connect.url on \"wss://evil.org/\"");
  CHECK(!sec_allowed(c, "env.get", "HOME", NULL, reason, sizeof reason));
  CHECK_STR(reason, "no policy allows env.get on \"HOME\"");
  /* NULL action and resource count as "" */
  CHECK(!sec_allowed(c, NULL, NULL, NULL, reason, sizeof reason));
  CHECK_STR(reason, "no policy allows  on \"\"");
  /* an empty scope denies everything */
  sec_scope *empty = sec_scope_new();
  sec_context *c2 = ctx_with(empty, "svc:b", NULL, 0);
  CHECK(!sec_allowed(c2, "websocket.connect", "", NULL, NULL, 0));
  sec_context_release(c2);
  sec_scope_release(empty);
  sec_context_release(c);
  sec_scope_release(s);
  sec_policy_release(ws);
}

static void test_modes(void) {
  char reason[256];
  /* strict without a scope: everything denied */
  sec_context *strict = ctx_with(NULL, "svc:a", NULL, SEC_CTX_STRICT);
  CHECK(!sec_allowed(strict, "process.spawn", "app:x", NULL, reason, sizeof reason));
  CHECK_STR(reason, "no security scope granted: strict mode denies process.spawn on \"app:x\"");
  /* non-strict without a scope: everything allowed */
  sec_context *lax = ctx_with(NULL, "svc:a", NULL, 0);
  CHECK(sec_allowed(lax, "process.spawn", "app:x", NULL, reason, sizeof reason));
  CHECK_STR(reason, "no security scope granted and strict mode is off");
  /* non-strict with a scope: the scope decides */
  sec_scope *empty = sec_scope_new();
  sec_context *lax_scoped = ctx_with(empty, "svc:a", NULL, 0);
  CHECK(!sec_allowed(lax_scoped, "process.spawn", "app:x", NULL, NULL, 0));
  /* operator: everything, even against a denying scope */
  sec_policy *deny = P("app:deny_all", "{'actions':'*','resources':'*','effect':'deny'}");
  sec_scope *denying = sec_scope_new();
  sec_scope_add_policy(denying, deny);
  sec_context *op = ctx_with(denying, NULL, NULL, SEC_CTX_OPERATOR | SEC_CTX_STRICT);
  CHECK(sec_allowed(op, "process.terminate", "42", NULL, reason, sizeof reason));
  CHECK_STR(reason, "operator context: everything is allowed");
  sec_context *gop = sec_context_operator();
  CHECK(sec_allowed(gop, "anything", "at all", NULL, NULL, 0));
  CHECK(sec_context_actor(gop) == NULL);
  CHECK(sec_context_retain(gop) == gop);
  sec_context_release(gop);
  sec_context_release(gop);
  CHECK(sec_allowed(sec_context_operator(), "still", "allowed", NULL, NULL, 0));
  /* no context at all: denied */
  CHECK(!sec_allowed(NULL, "env.get", "HOME", NULL, reason, sizeof reason));
  CHECK_STR(reason, "no security context: env.get on \"HOME\" is denied");
  CHECK_EQ(sec_context_flags(op), SEC_CTX_OPERATOR | SEC_CTX_STRICT);
  CHECK(sec_context_scope(op) == denying);
  CHECK(sec_context_scope(strict) == NULL);
  sec_context_release(op);
  sec_scope_release(denying);
  sec_policy_release(deny);
  sec_context_release(lax_scoped);
  sec_scope_release(empty);
  sec_context_release(lax);
  sec_context_release(strict);
}

static void test_context_identity(void) {
  sec_policy *own = P("app:own_tenant",
                      "{'actions':'data.read','resources':'*','effect':'allow','conditions':["
                      "{'field':'meta.tenant','operator':'eq','value_from':'actor.meta.tenant'}]}");
  sec_scope *s = sec_scope_new();
  sec_scope_add_policy(s, own);
  json_t *m = J("{'tenant':'acme'}");
  sec_actor a = {.id = "svc:acme", .meta = m};
  sec_context *c = sec_context_new(&a, s, SEC_CTX_STRICT);
  /* the context copied the identity: changing the source changes nothing */
  json_object_set_new(m, "tenant", json_string("globex"));
  json_decref(m);
  const sec_actor *got = sec_context_actor(c);
  CHECK(got && strcmp(got->id, "svc:acme") == 0);
  json_t *acme = J("{'tenant':'acme'}"), *globex = J("{'tenant':'globex'}"), *arr = J("[1]");
  CHECK(sec_allowed(c, "data.read", "orders", acme, NULL, 0));
  CHECK(!sec_allowed(c, "data.read", "orders", globex, NULL, 0));
  CHECK(!sec_allowed(c, "data.read", "orders", NULL, NULL, 0));
  CHECK(!sec_allowed(c, "data.read", "orders", arr, NULL, 0)); /* non-object meta = absent */
  /* a child inherits the context unchanged */
  sec_context *child = sec_context_retain(c);
  sec_context_release(c);
  CHECK(sec_allowed(child, "data.read", "orders", acme, NULL, 0));
  sec_context_release(child);
  /* a meta that is not an object is refused */
  sec_actor badm = {.id = "x", .meta = arr};
  CHECK(sec_context_new(&badm, s, 0) == NULL);
  json_decref(acme);
  json_decref(globex);
  json_decref(arr);
  sec_scope_release(s);
  sec_policy_release(own);
}

static void test_reason_buffer(void) {
  char big_resource[3000];
  memset(big_resource, 'r', sizeof big_resource - 1);
  big_resource[sizeof big_resource - 1] = '\0';
  sec_scope *s = sec_scope_new();
  sec_context *c = ctx_with(s, "svc:a", NULL, SEC_CTX_STRICT);
  size_t n = sec_reason_size("env.get", big_resource);
  char *reason = malloc(n);
  CHECK(!sec_allowed(c, "env.get", big_resource, NULL, reason, n));
  CHECK(strlen(reason) < n - 1);
  CHECK(strstr(reason, big_resource) != NULL);
  free(reason);
  char tiny[10];
  CHECK(!sec_allowed(c, "env.get", "HOME", NULL, tiny, sizeof tiny));
  CHECK_STR(tiny, "no policy");
  sec_context_release(c);
  sec_scope_release(s);
}

static void test_registry(void) {
  sec_policy *p1 = P("app:p1", "{'actions':'a.one','resources':'*','effect':'allow'}");
  sec_policy *p2 = P("app:p2", "{'actions':'a.two','resources':'*','effect':'allow'}");
  sec_policy *p3 = P("app:p3", "{'actions':'a.*','resources':'secret','effect':'deny'}");
  sec_policy *p4 = P("app:p4", "{'actions':'a.four','resources':'*','effect':'allow'}");
  sec_policy *anon = P(NULL, "{'actions':'*','resources':'*','effect':'allow'}");
  sec_registry *r = sec_registry_new();
  char err[256];
  const char *g1[] = {"grp:one"}, *g12[] = {"grp:one", "grp:two"}, *g2[] = {"grp:two"};
  CHECK_EQ(sec_registry_add(r, p1, g1, 1, err, sizeof err), 0);
  CHECK_EQ(sec_registry_add(r, p2, g12, 2, err, sizeof err), 0);
  CHECK_EQ(sec_registry_add(r, p3, g2, 1, err, sizeof err), 0);
  CHECK_EQ(sec_registry_add(r, p4, NULL, 0, err, sizeof err), 0);
  CHECK_EQ(sec_registry_add(r, p1, g2, 1, err, sizeof err), -1);
  CHECK_STR(err, "policy \"app:p1\" is already registered");
  CHECK_EQ(sec_registry_add(r, anon, g1, 1, err, sizeof err), -1);
  CHECK_STR(err, "a registered policy needs a name");
  const char *gempty[] = {""};
  sec_policy *p5 = P("app:p5", "{'actions':'x','resources':'*','effect':'allow'}");
  CHECK_EQ(sec_registry_add(r, p5, gempty, 1, err, sizeof err), -1);
  CHECK_STR(err, "policy \"app:p5\": groups[0]: group name must not be empty");
  CHECK(sec_registry_find(r, "app:p3") == p3);
  CHECK(sec_registry_find(r, "app:nope") == NULL);
  /* the registry holds its own references */
  sec_policy_release(p1);
  sec_policy_release(p2);
  sec_policy_release(p3);
  sec_policy_release(p4);

  sec_scope *s1 = sec_registry_scope(r, g1, 1, NULL, 0, err, sizeof err);
  CHECK(s1 && sec_scope_count(s1) == 2);
  sec_scope *s12 = sec_registry_scope(r, g12, 2, NULL, 0, err, sizeof err);
  CHECK(s12 && sec_scope_count(s12) == 3); /* p2 is in both groups: once */
  const char *pols[] = {"app:p4", "app:p2"};
  sec_scope *s2p = sec_registry_scope(r, g2, 1, pols, 2, err, sizeof err);
  CHECK(s2p && sec_scope_count(s2p) == 3);
  sec_context *c = ctx_with(s2p, "svc:x", NULL, SEC_CTX_STRICT);
  char reason[256];
  CHECK(sec_allowed(c, "a.four", "r", NULL, NULL, 0));
  CHECK(sec_allowed(c, "a.two", "r", NULL, NULL, 0));
  CHECK(!sec_allowed(c, "a.one", "r", NULL, NULL, 0));
  CHECK(!sec_allowed(c, "a.two", "secret", NULL, reason, sizeof reason));
  CHECK_STR(reason, "policy \"app:p3\" denies a.two on \"secret\"");
  sec_context_release(c);

  const char *gbad[] = {"grp:one", "grp:typo"};
  CHECK(sec_registry_scope(r, gbad, 2, NULL, 0, err, sizeof err) == NULL);
  CHECK_STR(err, "groups[1]: unknown security group \"grp:typo\" (no policy belongs to it)");
  const char *pbad[] = {"app:p9"};
  CHECK(sec_registry_scope(r, NULL, 0, pbad, 1, err, sizeof err) == NULL);
  CHECK_STR(err, "policies[0]: unknown security policy \"app:p9\"");
  sec_scope *none = sec_registry_scope(r, NULL, 0, NULL, 0, err, sizeof err);
  CHECK(none && sec_scope_count(none) == 0);

  /* a shared scope is immutable */
  sec_scope_retain(s1);
  CHECK_EQ(sec_scope_add_policy(s1, anon), -1);
  sec_scope_release(s1);
  CHECK_EQ(sec_scope_add_policy(s1, anon), 0);
  CHECK_EQ(sec_scope_add_policy(s1, anon), 0); /* already there */
  CHECK_EQ(sec_scope_count(s1), 3);

  sec_registry_free(r); /* scopes keep their policies alive */
  sec_context *c1 = ctx_with(s1, "svc:y", NULL, SEC_CTX_STRICT);
  CHECK(sec_allowed(c1, "a.one", "r", NULL, NULL, 0));
  sec_context_release(c1);
  sec_scope_release(none);
  sec_scope_release(s1);
  sec_scope_release(s12);
  sec_scope_release(s2p);
  sec_policy_release(anon);
  sec_policy_release(p5);
}

/* The worked examples of docs/security.md, decision by decision. */
static void test_doc_examples(void) {
  sec_policy *ws = P("app.security:ws_example",
                     "{'actions':['websocket.connect','websocket.connect.url'],"
                     "'resources':['','wss://*.example.com/*','wss://*.example.com:*'],'effect':'allow',"
                     "'conditions':["
                     "{'field':'resource','operator':'matches','value':"
                     "'^(wss://([a-z0-9-]+\\\\.)+example\\\\.com(:[0-9]+)?/.*)?$'}]}");
  sec_policy *spawn = P("app.security:spawn_app",
                        "{'actions':'process.*','resources':'app:*','effect':'allow'}");
  sec_policy *admin = P("app.security:deny_admin",
                        "{'actions':'process.spawn','resources':'app:admin*','effect':'deny'}");
  sec_policy *tenant = P("app.security:own_tenant_only",
                         "{'actions':'orders.*','resources':'*','effect':'allow','conditions':["
                         "{'field':'meta.tenant','operator':'eq','value_from':'actor.meta.tenant'}]}");
  sec_policy *env = P("app.security:env",
                      "{'actions':'env.get','resources':['LOG_*','FEATURE_*'],'effect':'allow',"
                      "'conditions':[{'field':'actor.meta.level','operator':'gte','value':2},"
                      "{'field':'actor.id','operator':'in','value':['svc:api','svc:worker']},"
                      "{'field':'actor.meta.roles','operator':'contains','value':'ops'}]}");
  CHECK(ws && spawn && admin && tenant && env);
  sec_scope *s = sec_scope_new();
  sec_scope_add_policy(s, ws);
  sec_scope_add_policy(s, spawn);
  sec_scope_add_policy(s, admin);
  sec_scope_add_policy(s, tenant);
  sec_scope_add_policy(s, env);
  sec_context *c = ctx_with(s, "svc:api", "{'tenant':'acme','level':2,'roles':['ops']}",
                            SEC_CTX_STRICT);
  char reason[256];
  CHECK(sec_allowed(c, "websocket.connect", "", NULL, NULL, 0));
  CHECK(sec_allowed(c, "websocket.connect.url", "wss://api.example.com/feed", NULL, NULL, 0));
  CHECK(sec_allowed(c, "websocket.connect.url", "wss://api.example.com:8443/feed", NULL, NULL, 0));
  CHECK(!sec_allowed(c, "websocket.connect.url", "wss://example.com/feed", NULL, NULL, 0));
  CHECK(!sec_allowed(c, "websocket.connect.url", "ws://api.example.com/feed", NULL, NULL, 0));
  CHECK(!sec_allowed(c, "websocket.connect.url", "wss://evil.org/x.example.com/", NULL, NULL, 0));
  CHECK(!sec_allowed(c, "websocket.connect.url", "wss://api.example.com.evil.org/.example.com/",
                     NULL, NULL, 0));
  CHECK(sec_allowed(c, "process.spawn", "app:worker", NULL, NULL, 0));
  CHECK(!sec_allowed(c, "process.spawn", "app:admin_panel", NULL, reason, sizeof reason));
  CHECK_STR(reason, "policy \"app.security:deny_admin\" denies process.spawn on \"app:admin_panel\"");
  json_t *acme = J("{'tenant':'acme'}"), *globex = J("{'tenant':'globex'}");
  CHECK(sec_allowed(c, "orders.read", "orders", acme, NULL, 0));
  CHECK(!sec_allowed(c, "orders.read", "orders", globex, NULL, 0));
  CHECK(!sec_allowed(c, "orders.read", "orders", NULL, NULL, 0));
  CHECK(sec_allowed(c, "env.get", "LOG_LEVEL", NULL, NULL, 0));
  CHECK(!sec_allowed(c, "env.get", "HOME", NULL, NULL, 0));
  sec_context *low = ctx_with(s, "svc:api", "{'level':1,'roles':['ops']}", SEC_CTX_STRICT);
  CHECK(!sec_allowed(low, "env.get", "LOG_LEVEL", NULL, NULL, 0));
  sec_context *other = ctx_with(s, "svc:other", "{'level':5,'roles':['ops']}", SEC_CTX_STRICT);
  CHECK(!sec_allowed(other, "env.get", "LOG_LEVEL", NULL, NULL, 0));
  sec_context_release(low);
  sec_context_release(other);
  json_decref(acme);
  json_decref(globex);
  sec_context_release(c);
  sec_scope_release(s);
  sec_policy_release(ws);
  sec_policy_release(spawn);
  sec_policy_release(admin);
  sec_policy_release(tenant);
  sec_policy_release(env);
}

/* ---- concurrency: one scope, four threads ---- */

typedef struct probe {
  const char *action, *resource, *meta;
  bool want;
} probe;

static const probe probes[] = {
    {"websocket.connect.url", "wss://api.example.com/feed", "{'tenant':'T'}", true},
    {"websocket.connect.url", "wss://api.example.com/feed", "{'tenant':'other'}", false},
    {"websocket.connect.url", "wss://evil.org/", "{'tenant':'T'}", false},
    {"websocket.connect.url", "ws://api.example.com/feed", "{'tenant':'T'}", false},
    {"process.spawn", "app:worker", NULL, true},
    {"process.spawn", "app:admin_panel", NULL, false},
    {"env.get", "HOME", NULL, false},
    {"env.get", "LEVEL", "{'level':1}", true},
    {"env.get", "LEVEL", "{'level':10}", false},
};
#define NPROBES (sizeof probes / sizeof probes[0])

typedef struct worker_arg {
  sec_scope *scope;
  int index;
  json_t *metas[NPROBES];
  atomic_int *wrong;
} worker_arg;

static void *worker(void *ud) {
  worker_arg *w = ud;
  char tenant[16], id[32];
  snprintf(tenant, sizeof tenant, "t%d", w->index);
  snprintf(id, sizeof id, "svc:%d", w->index);
  json_t *m = json_pack("{s:s}", "tenant", tenant);
  sec_actor a = {.id = id, .meta = m};
  sec_context *c = sec_context_new(&a, w->scope, SEC_CTX_STRICT);
  json_decref(m);
  char reason[256];
  for (int round = 0; round < 20000; round++) {
    const probe *pr = &probes[round % NPROBES];
    sec_scope_release(sec_scope_retain(w->scope));
    sec_context *child = sec_context_retain(c);
    bool got = sec_allowed(child, pr->action, pr->resource, w->metas[round % NPROBES], reason,
                           sizeof reason);
    sec_context_release(child);
    if (got != pr->want) atomic_fetch_add(w->wrong, 1);
  }
  sec_context_release(c);
  return NULL;
}

static void test_concurrent(void) {
  const char *policies[] = {
      "{'actions':'websocket.connect.url','resources':'wss://*.example.com/*','effect':'allow',"
      "'conditions':[{'field':'meta.tenant','operator':'eq','value_from':'actor.meta.tenant'},"
      "{'field':'resource','operator':'matches','value':'^wss://[a-z]+\\\\.example\\\\.com/'}]}",
      "{'actions':'process.*','resources':'app:*','effect':'allow'}",
      "{'actions':'process.spawn','resources':'app:admin*','effect':'deny'}",
      "{'actions':'env.get','resources':'LEVEL','effect':'allow',"
      "'conditions':[{'field':'meta.level','operator':'lt','value':5},"
      "{'field':'actor.id','operator':'in','value':['svc:0','svc:1','svc:2','svc:3']}]}",
  };
  sec_scope *s = sec_scope_new();
  for (size_t k = 0; k < sizeof policies / sizeof policies[0]; k++) {
    sec_policy *p = P(NULL, policies[k]);
    CHECK(p != NULL);
    sec_scope_add_policy(s, p);
    sec_policy_release(p);
  }
  atomic_int wrong = 0;
  worker_arg args[4];
  pthread_t th[4];
  for (int t = 0; t < 4; t++) {
    args[t].scope = s;
    args[t].index = t;
    args[t].wrong = &wrong;
    for (size_t k = 0; k < NPROBES; k++) {
      args[t].metas[k] = NULL;
      if (!probes[k].meta) continue;
      /* 'T' stands for this thread's tenant */
      char text[128], tenant[8];
      snprintf(tenant, sizeof tenant, "t%d", t);
      const char *src = probes[k].meta;
      char *o = text;
      for (; *src; src++) {
        if (*src == 'T') {
          o += sprintf(o, "%s", tenant);
        } else {
          *o++ = *src;
        }
      }
      *o = '\0';
      args[t].metas[k] = J(text);
    }
    CHECK_EQ(pthread_create(&th[t], NULL, worker, &args[t]), 0);
  }
  for (int t = 0; t < 4; t++) pthread_join(th[t], NULL);
  CHECK_EQ(atomic_load(&wrong), 0);
  for (int t = 0; t < 4; t++)
    for (size_t k = 0; k < NPROBES; k++) json_decref(args[t].metas[k]);
  sec_scope_release(s);
}

/* ---- the Lua module ---- */

static int l_check(lua_State *L) {
  const char *action = luaL_checkstring(L, 1), *resource = luaL_checkstring(L, 2);
  int r = security_check(L, action, resource, NULL);
  if (r) return r;
  lua_pushboolean(L, 1);
  return 1;
}

static lua_State *lua_with(sec_context *c) {
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  luaL_requiref(L, "security", luaopen_wisp_security, 1);
  lua_pop(L, 1);
  luaL_requiref(L, "errors", luaopen_wisp_errors, 1);
  lua_pop(L, 1);
  lua_register(L, "check", l_check);
  if (c) {
    lua_pushlightuserdata(L, c);
    lua_setfield(L, LUA_REGISTRYINDEX, SECURITY_REGISTRY_KEY);
  }
  return L;
}

static int run(lua_State *L, const char *code) {
  if (luaL_dostring(L, code) != LUA_OK) {
    fprintf(stderr, "lua error: %s\n", lua_tostring(L, -1));
    lua_settop(L, 0);
    return 0;
  }
  lua_settop(L, 0);
  return 1;
}

static void test_lua_module(void) {
  /* no context in the registry: operator */
  lua_State *L = lua_with(NULL);
  CHECK(security_context_of(L) == sec_context_operator());
  CHECK(run(L, "assert(security.actor() == nil)\n"
               "assert(security.can('process.spawn', 'app:x') == true)\n"
               "assert(check('env.get', 'HOME') == true)"));
  CHECK_EQ(lua_gettop(L), 0);
  CHECK_EQ(security_check(L, "x", "y", NULL), 0);
  CHECK_EQ(lua_gettop(L), 0);
  lua_close(L);

  sec_policy *ws = P("app:ws", "{'actions':'websocket.connect.url','resources':'wss://*.example.com/*',"
                               "'effect':'allow','conditions':[{'field':'meta.tenant','operator':"
                               "'eq','value_from':'actor.meta.tenant'}]}");
  sec_policy *env = P("app:env", "{'actions':'env.get','resources':'*','effect':'allow'}");
  sec_policy *noenv = P("app:noenv", "{'actions':'env.get','resources':'SECRET*','effect':'deny'}");
  sec_scope *s = sec_scope_new();
  sec_scope_add_policy(s, ws);
  sec_scope_add_policy(s, env);
  sec_scope_add_policy(s, noenv);
  sec_context *c = ctx_with(s, "svc:api", "{'tenant':'acme','level':3,'tags':['a','b']}",
                            SEC_CTX_STRICT);
  L = lua_with(c);
  CHECK(security_context_of(L) == c);
  CHECK(run(L,
            "local a = security.actor()\n"
            "assert(a.id == 'svc:api')\n"
            "assert(a.meta.tenant == 'acme' and a.meta.level == 3 and a.meta.tags[2] == 'b')\n"
            "a.meta.tenant = 'globex'\n"
            "assert(security.actor().meta.tenant == 'acme')\n"
            "assert(security.can('env.get', 'HOME') == true)\n"
            "assert(security.can('env.get', 'SECRET_TOKEN') == false)\n"
            "assert(security.can('process.spawn', 'app:x') == false)\n"
            "local url = 'wss://api.example.com/feed'\n"
            "assert(security.can('websocket.connect.url', url, {tenant = 'acme'}) == true)\n"
            "assert(security.can('websocket.connect.url', url, {tenant = 'globex'}) == false)\n"
            "assert(security.can('websocket.connect.url', url) == false)\n"
            "assert(security.can('websocket.connect.url', url, {}) == false)\n"
            "assert(security.can('websocket.connect.url', url, nil) == false)\n"));
  /* argument errors raise */
  CHECK(run(L, "local ok, e = pcall(security.can, 'env.get')\n"
               "assert(not ok and e:find('bad argument #2'), e)\n"
               "ok, e = pcall(security.can, 'env.get', 'x', 5)\n"
               "assert(not ok and e:find('bad argument #3'), e)\n"
               "ok, e = pcall(security.can, 'env.get', 'x', {1, 2})\n"
               "assert(not ok and e:find('got a list'), e)\n"
               "ok, e = pcall(security.can, 'env.get', 'x', {f = print})\n"
               "assert(not ok and e:find('bad argument #3'), e)\n"
               "ok, e = pcall(security.can, 'env.get', 'HO\\0ME')\n"
               "assert(not ok and e:find('NUL'), e)\n"));
  /* security_check: nil, PERMISSION_DENIED */
  CHECK(run(L, "assert(check('env.get', 'HOME') == true)\n"
               "local v, err = check('env.get', 'SECRET_X')\n"
               "assert(v == nil and errors.is(err, errors.PERMISSION_DENIED))\n"
               "assert(err:retryable() == false)\n"
               "assert(err:message() == 'permission denied: policy \"app:noenv\" denies env.get on "
               "\"SECRET_X\"', err:message())\n"
               "local d = err:details()\n"
               "assert(d.action == 'env.get' and d.resource == 'SECRET_X')\n"
               "v, err = check('process.spawn', 'app:x')\n"
               "assert(err:message() == 'permission denied: no policy allows process.spawn on "
               "\"app:x\"', err:message())\n"));
  /* a long resource is named in full */
  CHECK(run(L, "local r = 'wss://x/' .. string.rep('a', 5000)\n"
               "local v, err = check('websocket.connect.url', r)\n"
               "assert(v == nil and err:message():find(r, 1, true))\n"
               "assert(err:details().resource == r)\n"));
  CHECK_EQ(lua_gettop(L), 0);
  int n = security_check(L, "process.spawn", "app:x", NULL);
  CHECK_EQ(n, 2);
  CHECK_EQ(lua_gettop(L), 2);
  CHECK(lua_isnil(L, 1) && werr_is(L, 2));
  lua_settop(L, 0);
  lua_close(L);

  /* a registry value of the wrong kind denies everything */
  L = lua_with(NULL);
  lua_pushstring(L, "not a context");
  lua_setfield(L, LUA_REGISTRYINDEX, SECURITY_REGISTRY_KEY);
  CHECK(security_context_of(L) == NULL);
  CHECK(run(L, "assert(security.can('env.get', 'HOME') == false)\n"
               "local v, err = check('env.get', 'HOME')\n"
               "assert(err:message() == 'permission denied: no security context: env.get on "
               "\"HOME\" is denied', err:message())\n"));
  lua_close(L);

  /* an actor without meta gets an empty meta table */
  sec_context *bare = ctx_with(s, "svc:bare", NULL, SEC_CTX_STRICT);
  L = lua_with(bare);
  CHECK(run(L, "local a = security.actor()\n"
               "assert(a.id == 'svc:bare' and type(a.meta) == 'table' and next(a.meta) == nil)"));
  lua_close(L);
  sec_context_release(bare);

  sec_context_release(c);
  sec_scope_release(s);
  sec_policy_release(ws);
  sec_policy_release(env);
  sec_policy_release(noenv);
}

static void test_cleanup(void) {
  json_decref(std_actor_meta);
  json_decref(std_meta);
  std_actor_meta = std_meta = NULL;
}

TEST_MAIN(test_pattern, test_op_eq_ne, test_op_order, test_op_in, test_op_exists,
          test_op_contains, test_op_matches, test_value_from, test_conditions_all_hold,
          test_parse_errors, test_policy_is_immutable, test_actor_parse, test_deny_wins,
          test_no_match_denies, test_modes, test_context_identity, test_reason_buffer,
          test_registry, test_doc_examples, test_concurrent, test_lua_module, test_cleanup)
