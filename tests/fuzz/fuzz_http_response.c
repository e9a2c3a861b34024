/* tests/fuzz/fuzz_http_response.c — the upgrade response parser on arbitrary bytes, fed at
 * once and in random growing prefixes (as from a socket): results must agree and a successful
 * parse must satisfy every promise of ws_response_parse.
 * Input: byte 0 = flags (bit 0 offer subprotocols, bit 1 offer extensions, bit 2 prepend a
 * valid status line and the three required headers so the fuzzer explores what follows),
 * byte 1 = split seed, rest = the response. */
#include <stdlib.h>
#include <string.h>
#include "net/ws_handshake.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define KEY "dGhlIHNhbXBsZSBub25jZQ=="
#define PREFIX                                                                             \
  "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"     \
  "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"

static const ws_str offered[] = {{"chat", 4}, {"v2.proto", 8}};

static void check_done(const ws_response *r, const char *buf, size_t len, size_t hl,
                       bool protos, bool ext) {
  if (hl == 0 || hl > len || hl > WS_HS_MAX_BYTES) abort();
  if (buf[hl - 1] != '\n') abort();
  if (r->status != 101 || r->minor_version != 1) abort();
  if (r->nheaders > WS_HS_MAX_HEADERS) abort();
  for (size_t i = 0; i < r->nheaders; i++) {
    const ws_header *h = &r->headers[i];
    if (h->name < buf || h->name + h->name_len > buf + hl) abort();
    if (h->value < buf || h->value + h->value_len > buf + hl) abort();
    if (h->name_len == 0) abort();
    for (size_t k = 0; k < h->value_len; k++)
      if (h->value[k] == '\r' || h->value[k] == '\n' || h->value[k] == 0) abort();
  }
  if (r->protocol.ptr) {
    if (!protos) abort();
    bool found = false;
    for (size_t i = 0; i < 2; i++)
      found |= r->protocol.len == offered[i].len &&
               memcmp(r->protocol.ptr, offered[i].ptr, offered[i].len) == 0;
    if (!found) abort();
  }
  if (r->nextensions && !ext) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2) return 0;
  bool protos = data[0] & 1, ext = data[0] & 2, prefix = data[0] & 4;
  unsigned seed = data[1];
  size_t plen = prefix ? sizeof PREFIX - 1 : 0;
  size_t len = plen + size - 2;
  char *buf = malloc(len ? len : 1);
  memcpy(buf, PREFIX, plen);
  memcpy(buf + plen, data + 2, size - 2);

  ws_response *a = malloc(sizeof *a), *b = malloc(sizeof *b);
  ws_response_init(a, KEY, protos ? offered : NULL, protos ? 2 : 0, ext);
  ws_response_init(b, KEY, protos ? offered : NULL, protos ? 2 : 0, ext);
  size_t hla = 0, hlb = 0;
  int ra = ws_response_parse(a, buf, len, &hla);
  int rb = WS_HS_NEED_MORE;
  size_t avail = 0;
  while (rb == WS_HS_NEED_MORE && avail < len) {
    seed = seed * 1103515245u + 12345u;
    avail += 1 + (seed >> 16) % 97;
    if (avail > len) avail = len;
    rb = ws_response_parse(b, buf, avail, &hlb);
  }
  if (ra != rb) abort();
  if (ra == WS_HS_ERROR) {
    if (a->error[0] == 0 || strcmp(a->error, b->error) != 0) abort();
    if (a->status != b->status) abort();
  } else if (ra == WS_HS_DONE) {
    if (hla != hlb) abort();
    check_done(a, buf, len, hla, protos, ext);
    check_done(b, buf, len, hlb, protos, ext);
  } else if (len >= WS_HS_MAX_BYTES) {
    abort(); /* a head that long must have been decided */
  }
  free(a);
  free(b);
  free(buf);
  return 0;
}
