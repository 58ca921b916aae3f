{
  "targets": [
    {
      "target_name": "tsgi",
      "sources": ["native/tsgi.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra"]
    }
  ]
}
