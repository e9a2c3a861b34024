/* stdlib/channel.h — the C side of local channels, for modules that feed channels from outside
 * the actor (time, process inbox, websocket). A channel is a userdata "wisp.Channel" local to
 * one actor; values pass by reference inside the actor. */
#ifndef WISP_STDLIB_CHANNEL_H
#define WISP_STDLIB_CHANNEL_H
#include <lua.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct wchan wchan;

#define CHAN_UNBOUNDED (-1)

/* Pushes a new channel with capacity cap (0 = unbuffered). */
wchan *chan_push_new(lua_State *L, int cap);
wchan *chan_check(lua_State *L, int idx);   /* raises a Lua error if not a channel */
wchan *chan_test(lua_State *L, int idx);    /* NULL if not a channel */
/* Marks the channel at idx as fed from outside and gives it an id for mailbox delivery.
 * drop_when_full: a delivered value that finds the buffer at capacity is dropped (tickers). */
uint64_t chan_make_external(lua_State *L, int idx, bool drop_when_full);
/* Pushes the channel with that id, or nil if it was collected. */
void chan_push_by_id(lua_State *L, uint64_t id);
/* Delivers the value on top (popped) to the channel at idx from outside: hands it to a waiting
 * receiver or buffers it (external deliveries ignore the capacity unless drop_when_full). */
void chan_deliver(lua_State *L, int idx);
void chan_close(lua_State *L, int idx);
bool chan_is_closed(wchan *c);
/* Called each time a receiver takes a value from the channel (from its buffer, or handed over
 * on delivery): the hook of back-pressure, e.g. WebSocket read credits. ud must outlive the
 * channel or be cleared with a NULL fn. */
typedef void (*chan_take_hook)(lua_State *L, void *ud);
void chan_set_take_hook(wchan *c, chan_take_hook fn, void *ud);
/* Keeps obj_idx alive as long as the channel (e.g. the timer feeding it). */
void chan_set_anchor(lua_State *L, int idx, int obj_idx);
/* Undelivered values in the channel's buffer. */
int chan_count(wchan *c);

int luaopen_wisp_channel(lua_State *L);

#endif
