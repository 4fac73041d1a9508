#!/bin/sh
exec curl -sf --max-time 2 -o /dev/null http://127.0.0.1:8081/healthz
