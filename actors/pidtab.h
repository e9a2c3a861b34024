/* actors/pidtab.h — registration of live actors by pid (lookup is declared in actor.h). */
#ifndef WISP_PIDTAB_H
#define WISP_PIDTAB_H
#include "actors/actor.h"

uint64_t pidtab_add(actor *a);  /* assigns a->pid */
void pidtab_remove(actor *a);
/* Calls fn on every live actor (retained for the call). */
void pidtab_foreach(void (*fn)(actor *a, void *ud), void *ud);

#endif
