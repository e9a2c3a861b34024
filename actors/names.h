/* actors/names.h — the process registry: names -> pids, process-wide. A name belongs to the
 * pid it was registered for and is released when that actor ends. */
#ifndef WISP_NAMES_H
#define WISP_NAMES_H
#include <stdbool.h>
#include <stdint.h>

#define NAMES_MAX_LEN 255

/* 0 ok, 1 the name is taken (by a live actor), -1 invalid name. */
int names_register(const char *name, uint64_t pid);
uint64_t names_lookup(const char *name);       /* 0 = not registered */
bool names_unregister(const char *name);       /* false = not registered */
void names_release_pid(uint64_t pid);          /* every name of pid */

#endif
