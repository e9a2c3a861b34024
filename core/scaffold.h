/* core/scaffold.h — `wisp init DIR`: writes a new app (manifest, a service, a test) that
 * `wisp check`, `wisp run` and `wisp test` accept as is. */
#ifndef WISP_SCAFFOLD_H
#define WISP_SCAFFOLD_H
#include <stdio.h>

/* Creates dir (or uses an empty existing one) and writes the app. Returns 0, or 1 with a
 * message on err (an existing non-empty directory is refused: nothing is overwritten). */
int scaffold_app(const char *dir, FILE *out, FILE *err);

#endif
