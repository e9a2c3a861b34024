#!/bin/bash
# deploy/healthcheck.sh — installed as /usr/local/bin/wisp-healthcheck in the image: one HTTP/1.0
# GET to the admin endpoint through bash's /dev/tcp (debian:12-slim has bash, no curl or wget).
# Usage: wisp-healthcheck [HOST:PORT] [PATH]   (default 127.0.0.1:9090 /healthz)
# Exit 0 when the status line is 2xx, 1 otherwise (refused, timed out, other status).
set -u
addr=${1:-127.0.0.1:9090}
path=${2:-/healthz}
host=${addr%:*}
port=${addr##*:}
if [[ -z $host || -z $port || $host == "$addr" ]]; then
  echo "wisp-healthcheck: expected HOST:PORT, got \"$addr\"" >&2
  exit 1
fi
if ! { exec 3<>"/dev/tcp/$host/$port"; } 2>/dev/null; then
  echo "wisp-healthcheck: cannot connect to $addr" >&2
  exit 1
fi
printf 'GET %s HTTP/1.0\r\nHost: %s\r\nConnection: close\r\n\r\n' "$path" "$addr" >&3
if ! IFS= read -r -t 2 status <&3; then
  echo "wisp-healthcheck: no answer from $addr$path" >&2
  exit 1
fi
status=${status%$'\r'}
case $status in
  "HTTP/1."?" 2"[0-9][0-9]*) exit 0 ;;
esac
echo "wisp-healthcheck: $addr$path answered \"$status\"" >&2
exit 1
