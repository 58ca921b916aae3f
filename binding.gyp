{
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
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-fvisibility=hidden"]
    }
  ]
}
