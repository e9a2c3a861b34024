/* core/health.h — the runtime's readiness, set by the app layer and read by the admin
 * endpoint's /readyz (kept in core/ so that actors/ and net/ need not know each other). */
#ifndef WISP_HEALTH_H
#define WISP_HEALTH_H
#include <stdbool.h>

void health_set_ready(bool ready); /* any thread */
bool health_ready(void);

#endif
