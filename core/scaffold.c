/* core/scaffold.c — the files of a new app. The texts are the smallest complete app: a
 * service that greets on an interval and answers messages, a policy that lets it, and a test. */
#include "core/scaffold.h"
#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

static const char manifest[] =
    "# The app manifest: every *.yaml with namespace + entries under this directory is loaded.\n"
    "# Reference: docs/manifest.md. Check it with: wisp check .\n"
    "version: \"1.0\"\n"
    "namespace: app\n"
    "\n"
    "entries:\n"
    "  # What the greeter may do (strict mode denies everything a service is not granted).\n"
    "  - name: greeter_policy\n"
    "    kind: security.policy\n"
    "    policy:\n"
    "      actions: [\"process.send\", \"process.registry.register\"]\n"
    "      resources: \"*\"\n"
    "      effect: allow\n"
    "    groups: [app:greeters]\n"
    "\n"
    "  - name: greeter_process\n"
    "    kind: process.lua\n"
    "    source: file://greeter.lua\n"
    "    method: main\n"
    "    modules: [logger, time]\n"
    "\n"
    "  # A supervised service: started at `wisp run`, restarted with back-off if it fails.\n"
    "  - name: greeter\n"
    "    kind: process.service\n"
    "    process: app:greeter_process\n"
    "    input: [\"world\"]\n"
    "    lifecycle:\n"
    "      auto_start: true\n"
    "      security:\n"
    "        actor: { id: \"service:greeter\" }\n"
    "        groups: [app:greeters]\n"
    "      restart:\n"
    "        initial_delay: 1s\n"
    "        max_delay: 30s\n"
    "\n"
    "  # Run by `wisp test .`\n"
    "  - name: greeting_test\n"
    "    kind: function.lua\n"
    "    source: file://greeting_test.lua\n"
    "    method: main\n"
    "    meta:\n"
    "      type: test\n";

static const char greeter[] =
    "-- A service: logs a greeting every few seconds and answers \"hello\" messages.\n"
    "local logger = require(\"logger\")\n"
    "local time = require(\"time\")\n"
    "\n"
    "local function greeting(name)\n"
    "  return \"hello, \" .. name\n"
    "end\n"
    "\n"
    "local function main(name)\n"
    "  assert(process.registry.register(\"greeter\"))\n"
    "  local inbox, events = process.inbox(), process.events()\n"
    "  local ticker = time.ticker(\"5s\")\n"
    "  logger:info(greeting(name))\n"
    "  while true do\n"
    "    local r = channel.select { inbox:case_receive(), events:case_receive(), ticker:channel():case_receive() }\n"
    "    if r.channel == events and r.value.kind == process.event.CANCEL then\n"
    "      logger:info(\"goodbye\")\n"
    "      return true\n"
    "    elseif r.channel == inbox then\n"
    "      process.send(r.value:from(), \"greeting\", greeting(r.value:payload():data()))\n"
    "    elseif r.channel ~= events then\n"
    "      logger:info(greeting(name), { at = r.value:format_rfc3339() })\n"
    "    end\n"
    "  end\n"
    "end\n"
    "\n"
    "return { main = main, greeting = greeting }\n";

static const char test[] =
    "-- A test: passes when main returns without error (and not nil, err).\n"
    "local function main()\n"
    "  local r = \"hello, \" .. \"test\"\n"
    "  assert(r == \"hello, test\", \"unexpected greeting: \" .. r)\n"
    "  return true\n"
    "end\n"
    "\n"
    "return { main = main }\n";

static const char readme[] =
    "# A Wisp app\n"
    "\n"
    "```sh\n"
    "wisp check .   # validate the manifest\n"
    "wisp run .     # run the services until Ctrl-C\n"
    "wisp test .    # run the tests\n"
    "```\n";

static int write_file(const char *dir, const char *name, const char *text, FILE *err) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "wx");
  if (!f) {
    fprintf(err, "wisp init: cannot create %s: %s\n", path, strerror(errno));
    return 1;
  }
  fputs(text, f);
  if (fclose(f) != 0) {
    fprintf(err, "wisp init: cannot write %s: %s\n", path, strerror(errno));
    return 1;
  }
  return 0;
}

int scaffold_app(const char *dir, FILE *out, FILE *err) {
  if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
    fprintf(err, "wisp init: cannot create %s: %s\n", dir, strerror(errno));
    return 1;
  }
  DIR *d = opendir(dir);
  if (!d) {
    fprintf(err, "wisp init: %s: %s\n", dir, strerror(errno));
    return 1;
  }
  struct dirent *de;
  while ((de = readdir(d)) != NULL)
    if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
      closedir(d);
      fprintf(err, "wisp init: %s is not empty; choose a new directory (nothing was written)\n", dir);
      return 1;
    }
  closedir(d);
  if (write_file(dir, "_index.yaml", manifest, err) || write_file(dir, "greeter.lua", greeter, err) ||
      write_file(dir, "greeting_test.lua", test, err) || write_file(dir, "README.md", readme, err))
    return 1;
  fprintf(out, "created %s: _index.yaml, greeter.lua, greeting_test.lua, README.md\n"
               "next: wisp check %s && wisp test %s && wisp run %s\n", dir, dir, dir, dir);
  return 0;
}
