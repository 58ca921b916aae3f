"""A minimal single-threaded Mongrel2 handler in pyzmq, the yardstick of bench/zmq.bench.ts.

It does what Mongrel2's own Python examples (m2py) do per request, no more: receive, split
off SENDER CONN_ID PATH, json-decode the headers netstring, skip disconnect notices, publish
a Content-Length hello response. XPUB, as tsgi's handler, so nothing is published before
Mongrel2's SUB has subscribed (the slow joiner); "ready" is printed then.

usage: /usr/bin/python3 bench/peers/mongrel2_hello.py PULL_ADDR PUB_ADDR
"""
import json
import sys

import zmq

RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\r\nHello World"

ctx = zmq.Context()
pub = ctx.socket(zmq.XPUB)
pub.setsockopt(zmq.SNDHWM, 0)
pub.connect(sys.argv[2])
pull = ctx.socket(zmq.PULL)
pull.connect(sys.argv[1])
pub.recv()  # Mongrel2's subscription
print("ready: pulling requests", flush=True)
while True:
    message = pull.recv()
    sender, conn_id, _path, rest = message.split(b" ", 3)
    length, rest = rest.split(b":", 1)
    headers = json.loads(rest[: int(length)])
    if headers.get("METHOD") == "JSON":
        continue  # {"type":"disconnect"}
    pub.send(b"%s %d:%s, %s" % (sender, len(conn_id), conn_id, RESPONSE))
