/* core/health.c — see health.h. */
#include "core/health.h"
#include <stdatomic.h>

static _Atomic bool ready;

void health_set_ready(bool r) { atomic_store(&ready, r); }
bool health_ready(void) { return atomic_load(&ready); }
