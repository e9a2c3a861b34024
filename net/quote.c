/* net/quote.c — see quote.h. */
#include "net/quote.h"
#include <stdio.h>
#include <string.h>

void quote_append(char *out, size_t outsz, const char *p, size_t n, size_t max) {
  size_t o = strlen(out);
  for (size_t i = 0; i < n && o + 8 < outsz; i++) {
    unsigned char c = (unsigned char)p[i];
    if (i == max) {
      memcpy(out + o, "...", 4);
      return;
    }
    if (c == '"' || c == '\\') {
      out[o++] = '\\';
      out[o++] = (char)c;
    } else if (c < 0x20 || c >= 0x7F) {
      o += (size_t)snprintf(out + o, outsz - o, "\\x%02X", c);
    } else {
      out[o++] = (char)c;
    }
    out[o] = '\0';
  }
}
