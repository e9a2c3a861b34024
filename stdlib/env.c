/* stdlib/env.c — `require("env")`: environment variables of the wisp process, read through the
 * security policy (action env.get, resource = the variable's name). The environment is read
 * once, at start-up, on the main thread (env_snapshot), so actors never call getenv while
 * another thread might change it. */
#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>
#include "stdlib/errors.h"
#include "stdlib/security.h"
#include "stdlib/stdlib.h"

extern char **environ;
static char **snapshot;
static size_t nsnapshot;

void env_snapshot(void) {
  if (snapshot) return;
  size_t n = 0;
  while (environ && environ[n]) n++;
  snapshot = calloc(n + 1, sizeof *snapshot);
  if (!snapshot) return;
  for (size_t i = 0; i < n; i++) snapshot[i] = strdup(environ[i]);
  nsnapshot = n;
}

static int l_get(lua_State *L) {
  size_t len;
  const char *name = luaL_checklstring(L, 1, &len);
  if (len == 0 || memchr(name, '=', len) || strlen(name) != len)
    return werr_fail(L, WERR_INVALID, false, "env.get: invalid variable name \"%s\"", name);
  int r = security_check(L, "env.get", name, NULL);
  if (r) return r;
  for (size_t i = 0; i < nsnapshot; i++)
    if (strncmp(snapshot[i], name, len) == 0 && snapshot[i][len] == '=') {
      lua_pushstring(L, snapshot[i] + len + 1);
      return 1;
    }
  return werr_fail(L, WERR_NOT_FOUND, false, "env.get: %s is not set", name);
}

int luaopen_wisp_env(lua_State *L) {
  static const luaL_Reg funcs[] = {{"get", l_get}, {NULL, NULL}};
  luaL_newlib(L, funcs);
  return 1;
}
