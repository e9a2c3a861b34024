/* core/manifest_check.c — `wisp check APP_DIR`: load the app, print every problem (sorted by
 * file and position) and their count, or a summary of what a valid app contains. */
#include <stdio.h>
#include "core/duration.h"
#include "core/manifest.h"

int mf_check_command(const char *app_dir, FILE *out) {
  mf_errors errs;
  mf_errors_init(&errs);
  mf_app *app = mf_load(app_dir, &errs);
  if (!app) {
    size_t n = mf_errors_count(&errs);
    mf_errors_print(&errs, out);
    fprintf(out, "%zu problem%s found\n", n, n == 1 ? "" : "s");
    mf_errors_free(&errs);
    fflush(out);
    return 1;
  }
  size_t count[MF_KIND_COUNT] = {0}, tests = 0;
  for (size_t i = 0; i < app->nentries; i++) {
    count[app->entries[i]->kind]++;
    if (app->entries[i]->is_test) tests++;
  }
  char shutdown[DUR_FORMAT_MAX];
  dur_format(app->shutdown_timeout_ns, shutdown, sizeof shutdown);
  fprintf(out, "%s: ok: %zu entr%s (", app->dir, app->nentries, app->nentries == 1 ? "y" : "ies");
  bool first = true;
  for (int k = 0; k < MF_KIND_COUNT; k++) {
    if (!count[k]) continue;
    fprintf(out, "%s%zu %s", first ? "" : ", ", count[k], mf_kind_name((mf_kind)k));
    first = false;
  }
  fprintf(out, "%s), %zu test%s, %zu service%s to auto-start, security %s, shutdown_timeout %s\n",
          first ? "none" : "", tests, tests == 1 ? "" : "s", app->nstart,
          app->nstart == 1 ? "" : "s", app->strict ? "strict" : "permissive", shutdown);
  mf_free(app);
  mf_errors_free(&errs);
  fflush(out);
  return 0;
}
