/*
 * The cheapest uwsgi upstream this machine can run: one thread, blocking accept, read the
 * packet, write a fixed hello, close. bench/run.ts puts it behind the same nginx as tsgi to
 * measure the ceiling nginx itself leaves for any upstream (config ng_floor). Not part of tsgi.
 *
 * usage: floor_uwsgi PORT   (binds 127.0.0.1:PORT, backlog 1024)
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char RESPONSE[] =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 12\r\n\r\nHello World\n";

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: floor_uwsgi PORT\n");
    return 2;
  }
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1]))};
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(listener, (struct sockaddr *)&address, sizeof address) < 0 || listen(listener, 1024) < 0) {
    perror("floor_uwsgi: bind/listen");
    return 1;
  }
  fprintf(stderr, "floor_uwsgi ready on 127.0.0.1:%s\n", argv[1]);
  static unsigned char packet[65536 + 4];
  for (;;) {
    int conn = accept(listener, NULL, NULL);
    if (conn < 0) continue;
    /* The header's size field says how many bytes of vars follow; read until all are in. */
    size_t have = 0, want = 4;
    while (have < want) {
      ssize_t got = read(conn, packet + have, sizeof packet - have);
      if (got <= 0) break;
      have += (size_t)got;
      if (have >= 4) want = 4 + (size_t)(packet[1] | packet[2] << 8);
    }
    if (have >= want) (void)!write(conn, RESPONSE, sizeof RESPONSE - 1);
    close(conn);
  }
}
