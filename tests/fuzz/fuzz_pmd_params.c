/* tests/fuzz/fuzz_pmd_params.c — pmd_negotiate on arbitrary Sec-WebSocket-Extensions lines.
 * Input: byte 0 = mode (0..3, 3 being invalid), the rest = header lines separated by '\n'.
 * Checks: no crash; a failure leaves enabled = false and a non-empty printable message that
 * fits its buffer; a success gives window bits in 8..15, confirms server_no_context_takeover
 * in no-context mode, respects the offered client window in takeover mode; and the agreed
 * parameters, written back as a canonical answer, negotiate to the same parameters. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "net/deflate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_LINES 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  int mode = data[0] & 3;
  const char *s = (const char *)data + 1;
  size_t n = size - 1;
  ws_str lines[MAX_LINES];
  size_t nlines = 0, start = 0;
  for (size_t i = 0; i <= n && nlines < MAX_LINES; i++) {
    if (i == n || s[i] == '\n') {
      lines[nlines++] = (ws_str){s + start, i - start};
      start = i + 1;
    }
  }
  pmd_params p;
  char err[PMD_ERR_MAX];
  memset(err, 'Z', sizeof err);
  int rc = pmd_negotiate(mode, lines, nlines, &p, err, sizeof err);
  if (rc != 0 && rc != -1) abort();
  if (rc == -1) {
    size_t len = strnlen(err, sizeof err);
    if (len == 0 || len >= sizeof err || p.enabled) abort();
    for (size_t i = 0; i < len; i++)
      if ((unsigned char)err[i] < 0x20 || (unsigned char)err[i] > 0x7e) abort();
    return 0;
  }
  if (mode == 3) abort(); /* an invalid mode never succeeds */
  if (!p.enabled) {
    if (p.server_no_context_takeover || p.client_no_context_takeover) abort();
    return 0;
  }
  if (mode == PMD_DISABLED) abort();
  if (p.server_max_window_bits < 8 || p.server_max_window_bits > 15) abort();
  if (p.client_max_window_bits < 8 || p.client_max_window_bits > 15) abort();
  if (mode == PMD_NO_CONTEXT && (!p.server_no_context_takeover || !p.client_no_context_takeover))
    abort();
  if (mode == PMD_CONTEXT_TAKEOVER && p.client_max_window_bits > PMD_OFFER_WINDOW_BITS) abort();

  char canon[256];
  snprintf(canon, sizeof canon, "permessage-deflate; server_max_window_bits=%d%s%s; "
           "client_max_window_bits=\"%d\"",
           p.server_max_window_bits,
           p.server_no_context_takeover ? "; server_no_context_takeover" : "",
           p.client_no_context_takeover ? "; client_no_context_takeover" : "",
           p.client_max_window_bits);
  ws_str v = {canon, strlen(canon)};
  pmd_params q;
  if (pmd_negotiate(mode, &v, 1, &q, err, sizeof err) != 0) abort();
  if (memcmp(&p, &q, sizeof p) != 0) abort();
  /* the agreed parameters make a working codec */
  pmd_conn *c = pmd_conn_new(&p, 0, 0);
  if (!c) abort();
  pmd_conn_free(c);
  return 0;
}
