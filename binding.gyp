{
  "variables": {
    "tsgi_zmq%": "<!(node scripts/detect-libzmq.mjs)"
  },
  "targets": [
    {
      "target_name": "tsgi",
      "sources": [
        "native/errors.c",
        "native/args.c",
        "native/address.c",
        "native/sockets.c",
        "native/fd.c",
        "native/shm.c",
        "native/process.c",
        "native/jail.c",
        "native/poll.c",
        "native/conn-server.c",
        "native/unix-diag.c",
        "native/router-sockets.c",
        "native/dgram.c",
        "native/module.c"
      ],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-fvisibility=hidden"],
      "conditions": [
        ["tsgi_zmq==1", {
          "sources": ["native/zmq.c"],
          "defines": ["TSGI_HAVE_ZMQ=1"],
          "libraries": ["-lzmq"]
        }]
      ]
    }
  ]
}
