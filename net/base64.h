/* net/base64.h — RFC 4648 base64 (standard alphabet, '=' padding, no line breaks), used for
 * Sec-WebSocket-Key/Accept and proxy Basic credentials. Own code rather than wolfSSL's
 * Base64_Encode, which inserts line breaks and needs an in/out length dance. */
#ifndef WISP_NET_BASE64_H
#define WISP_NET_BASE64_H
#include <stddef.h>
#include <stdint.h>

#define BASE64_ENCODED_LEN(n) ((((n) + 2) / 3) * 4)

/* Writes BASE64_ENCODED_LEN(n) characters plus a NUL to out; returns the length written. */
size_t base64_encode(char *out, const void *in, size_t n);
/* Strict decoding: canonical padding required, no whitespace, unused bits must be zero.
 * Writes at most n / 4 * 3 bytes to out; returns the decoded length or -1 if malformed. */
long base64_decode(uint8_t *out, const char *in, size_t n);

#endif
