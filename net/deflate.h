/* net/deflate.h — permessage-deflate (RFC 7692) for the WebSocket client, without sockets:
 * the extension offer, validation of the server's answer, and the per-message codec that the
 * connection layer (net/ws_conn.c) calls. docs/deflate.md has the integration recipe.
 *
 * Memory model (the point of this module):
 *  - No connection owns a z_stream between messages. zlib streams live in a per-thread pool
 *    and are lent for one message: an outgoing message is compressed inside one pmd_compress
 *    call; an incoming one holds an inflate stream from its first chunk to its last.
 *  - Context takeover is kept as the LZ77 window itself: after each compressed message the
 *    connection keeps the last 2^bits bytes of that direction's uncompressed data, and the next
 *    message primes a pooled stream with them (deflateSetDictionary / inflateSetDictionary).
 *    The peer sees exactly the stream a dedicated z_stream would produce and accept.
 *  So an idle connection costs its two windows (4 KiB each with the offered 12 bits) plus a
 *  small struct in context-takeover mode, and the struct alone in no-context mode. Every byte
 *  goes through a counting allocator (pmd_conn_bytes, pmd_live_bytes).
 *
 * Threads: a pmd_conn is used by one thread at a time; the pool is thread-local. A stream
 * lent on one thread may be given back on another (it carries its own byte count). */
#ifndef WISP_NET_DEFLATE_H
#define WISP_NET_DEFLATE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/buf.h"
#include "net/ws_handshake.h"

/* Window we offer for both directions in context-takeover mode (client_max_window_bits and
 * server_max_window_bits): 4 KiB per direction per connection; docs/deflate.md has the
 * ratio/memory table that chose it. */
#define PMD_OFFER_WINDOW_BITS 12
#define PMD_MIN_WINDOW_BITS 8
#define PMD_MAX_WINDOW_BITS 15
/* zlib memLevel of the pooled deflate streams (per thread, not per connection): the same
 * ratio as memLevel 8 on message-sized input, an 8x smaller hash table to clear per message. */
#define PMD_MEM_LEVEL 5
#define PMD_LEVEL 6             /* zlib compression level */
#define PMD_OUT_CHUNK 16384     /* a sink receives at most this many bytes per call */
#define PMD_POOL_IDLE_INFLATE 4 /* idle inflate streams a thread keeps for reuse */
#define PMD_ERR_MAX 160         /* enough for any pmd_negotiate message */

enum { PMD_DISABLED = 0, PMD_CONTEXT_TAKEOVER = 1, PMD_NO_CONTEXT = 2 }; /* = opts.compression */

/* What the handshake agreed. Window bits are the LZ77 window of each direction's sender. */
typedef struct pmd_params {
  bool enabled;                    /* false: no permessage-deflate (declined or not offered) */
  bool server_no_context_takeover; /* incoming messages are independent: no inflate context */
  bool client_no_context_takeover; /* outgoing messages are independent: no deflate context */
  uint8_t server_max_window_bits;  /* 8..15: the window of what we inflate */
  uint8_t client_max_window_bits;  /* 8..15: the window we compress with */
} pmd_params;

/* ---- negotiation ----------------------------------------------------------------------- */

/* The Sec-WebSocket-Extensions value to send for a mode (static storage), NULL for
 * PMD_DISABLED or an unknown mode.
 *  PMD_CONTEXT_TAKEOVER: "permessage-deflate; client_max_window_bits=12;
 *      server_max_window_bits=12, permessage-deflate; client_max_window_bits=12"
 *      (the second element is the fallback for servers that cannot shrink their window, e.g.
 *      java.util.zip based ones: they decline the first and accept the second)
 *  PMD_NO_CONTEXT: "permessage-deflate; client_no_context_takeover;
 *      server_no_context_takeover; client_max_window_bits" */
const char *pmd_offer(int mode);

/* Validates the server's Sec-WebSocket-Extensions header lines (values[i] is one line's value;
 * several lines are one comma-separated list, RFC 7230 §3.2.2) against what pmd_offer(mode)
 * sent. No element at all: 0 with out->enabled = false (the server declined). Returns 0 with
 * the agreed parameters, or -1 with a message in err when the handshake must fail: malformed
 * syntax, an extension other than permessage-deflate, permessage-deflate twice, an unknown or
 * duplicate parameter, a value on server/client_no_context_takeover, window bits missing or
 * outside 8..15 (decimal, no leading zero; quoted-string values are unescaped first),
 * client_max_window_bits when not offered or above the offered value, or a requested
 * server_no_context_takeover the server did not confirm. server_no_context_takeover,
 * client_no_context_takeover and server_max_window_bits may come unrequested (RFC 7692 §7.1). */
int pmd_negotiate(int mode, const ws_str *values, size_t nvalues, pmd_params *out, char *err,
                  size_t errsz);

/* ---- codec ----------------------------------------------------------------------------- */

typedef struct pmd_conn pmd_conn;

/* A connection's codec. threshold: messages shorter than this are sent uncompressed;
 * read_limit: maximum inflated size of an incoming message (0 = none). Returns NULL when
 * params is not enabled or has window bits outside 8..15, or on allocation failure. */
pmd_conn *pmd_conn_new(const pmd_params *params, size_t threshold, uint64_t read_limit);
/* Frees the codec and gives back a stream lent for a half-received message. NULL is a no-op. */
void pmd_conn_free(pmd_conn *c);

enum { PMD_PLAIN = 0, PMD_COMPRESSED = 1, PMD_FAILED = -1 };

/* One outgoing data message (text or binary). PMD_COMPRESSED: the payload to send was
 * appended to out (RFC 7692 §7.2.1: raw deflate, sync-flushed, trailing 00 00 ff ff removed);
 * send it with RSV1 on the first frame only. PMD_PLAIN: out is untouched; send data as is
 * without RSV1 — the message is below the threshold, or compressing did not make it smaller
 * (then it is not part of the compression context either). PMD_FAILED: zlib ran out of memory;
 * out is untouched, pmd_error says so; the context is unchanged, so sending the message plain
 * is still correct. */
int pmd_compress(pmd_conn *c, const void *data, size_t len, wbuf *out);

/* Receives inflated bytes, at most PMD_OUT_CHUNK per call (pointer valid during the call).
 * Returns 0 to go on, or a close code (e.g. 1007 for invalid UTF-8) to stop: pmd_decompress
 * then returns that code. */
typedef int (*pmd_sink)(void *ud, const uint8_t *p, size_t n);

/* Feeds the next piece of a compressed message's payload (unmasked, as the frame parser hands
 * it out; pieces may be cut anywhere); fin marks the last piece (len may be 0). Output goes to
 * sink as it is produced. Returns 0, or the close code the connection must fail with:
 * 1009 the message inflates beyond read_limit (at most read_limit bytes were given to the sink,
 * and at most read_limit + 1 were ever inflated), 1007 the data is not valid DEFLATE or does
 * not end on a block boundary, 1011 out of memory, or the sink's code. Errors are sticky. */
int pmd_decompress(pmd_conn *c, const uint8_t *in, size_t len, bool fin, pmd_sink sink,
                   void *ud);

/* True between the first and the last piece of an incoming compressed message. */
bool pmd_in_message(const pmd_conn *c);
/* The reason of the last failure (either direction), "" if none: ASCII, at most 123 bytes, so
 * it fits a close frame's reason. Formatted on demand into a thread-local buffer (a
 * connection keeps no message buffer): valid until the next pmd_error call on this thread. */
const char *pmd_error(const pmd_conn *c);

/* ---- memory ---------------------------------------------------------------------------- */

/* Bytes this connection holds (struct, windows and, mid-message, the lent inflate stream),
 * as counted by the allocator (request + 16-byte header per block, malloc's own overhead not
 * included). */
size_t pmd_conn_bytes(const pmd_conn *c);
/* Bytes held by idle pooled streams of the calling thread. */
size_t pmd_pool_bytes(void);
/* Bytes currently allocated by this module, all threads together. */
size_t pmd_live_bytes(void);
/* Frees the calling thread's idle pooled streams (also done automatically at thread exit). */
void pmd_thread_release(void);

/* Fault injection for tests: after `after` more successful allocations on the calling
 * thread, every allocation of this module fails; a negative value turns it off. */
void pmd_inject_alloc_failure(long after);

#endif
