/*
 * unixListenQueue(fd) → connections waiting in a listening unix socket's backlog, or -errno.
 * getsockopt has nothing for unix sockets (TCP_INFO is TCP's); the kernel tells through
 * sock_diag, as `ss -xl` shows it in Recv-Q: one NETLINK_SOCK_DIAG request for the socket's
 * inode, asking for UNIX_DIAG_RQLEN (for a listener: queued connections and the backlog limit).
 * No capability is needed to ask about a socket of one's own network namespace.
 */
#include "tsgi.h"

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>

/* The answer's UNIX_DIAG_RQLEN attribute, or -errno. */
static int read_rqlen(const char* buffer, ssize_t length) {
  const struct nlmsghdr* header = (const struct nlmsghdr*)buffer;
  if (!NLMSG_OK(header, (size_t)length)) return -EPROTO;
  if (header->nlmsg_type == NLMSG_ERROR) {
    const struct nlmsgerr* error = NLMSG_DATA(header);
    return error->error < 0 ? error->error : -EPROTO;
  }
  if (header->nlmsg_type != SOCK_DIAG_BY_FAMILY) return -EPROTO;
  const struct unix_diag_msg* message = NLMSG_DATA(header);
  int left = (int)header->nlmsg_len - (int)NLMSG_LENGTH(sizeof *message);
  for (const struct rtattr* attribute = (const struct rtattr*)(message + 1); RTA_OK(attribute, left);
       attribute = RTA_NEXT(attribute, left)) {
    if (attribute->rta_type == UNIX_DIAG_RQLEN) {
      const struct unix_diag_rqlen* queue = RTA_DATA(attribute);
      return (int)queue->udiag_rqueue;
    }
  }
  return -ENODATA;
}

static int unix_queue(int fd) {
  struct stat status;
  if (fstat(fd, &status) != 0) return -errno;
  if (!S_ISSOCK(status.st_mode)) return -ENOTSOCK;
  int diag = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (diag < 0) return -errno;
  struct {
    struct nlmsghdr header;
    struct unix_diag_req request;
  } query;
  memset(&query, 0, sizeof query);
  query.header.nlmsg_len = sizeof query;
  query.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  query.header.nlmsg_flags = NLM_F_REQUEST;
  query.request.sdiag_family = AF_UNIX;
  query.request.udiag_states = ~0U;
  query.request.udiag_ino = (__u32)status.st_ino;
  query.request.udiag_show = UDIAG_SHOW_RQLEN;
  query.request.udiag_cookie[0] = query.request.udiag_cookie[1] = ~0U; /* INET_DIAG_NOCOOKIE */
  struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
  char buffer[1024];
  ssize_t length = -1;
  if (sendto(diag, &query, sizeof query, 0, (struct sockaddr*)&kernel, sizeof kernel) == (ssize_t)sizeof query) {
    do length = recv(diag, buffer, sizeof buffer, 0);
    while (length < 0 && errno == EINTR);
  }
  int result = length < 0 ? -errno : read_rqlen(buffer, length);
  close(diag);
  return result;
}

napi_value unix_listen_queue(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int fd;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (!get_fd(env, argv[0], &fd)) return NULL;
  return int_value(env, unix_queue(fd));
}
