/*
 * Jail: chroot, unshare, and user/group lookups through NSS (--uid, --gid, --chown-socket).
 * Node has setuid/setgid/setgroups/initgroups but neither chroot(2) nor unshare(2), and its
 * name lookups exist only inside those setters, while chown needs the numbers first.
 */
#include "tsgi.h"

#include <grp.h>
#include <pwd.h>
#include <sched.h>

/* chroot(dir): chroot(2) then chdir("/"), so no cwd is left outside the jail. */
napi_value chroot_into(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  char dir[PATH_MAX];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (!get_string(env, argv[0], "dir", "chroot", dir, sizeof dir)) return NULL;
  if (chroot(dir) != 0) {
    throw_errno(env, errno, "chroot", dir);
    return NULL;
  }
  if (chdir("/") != 0) {
    throw_errno(env, errno, "chdir", "/");
    return NULL;
  }
  return NULL;
}

static const struct {
  const char* name;
  int flag;
} NAMESPACES[] = {
    {"mount", CLONE_NEWNS}, {"ipc", CLONE_NEWIPC}, {"uts", CLONE_NEWUTS}, {"net", CLONE_NEWNET},
};

/*
 * unshare(names): the namespaces named ("mount", "ipc", "uts", "net"). Only the calling thread
 * moves, which is what the master needs: the children it forks from this thread are born in
 * the new namespaces, while the sockets bound before stay reachable in the old network.
 */
napi_value unshare_namespaces(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  uint32_t count = 0;
  CHECK(napi_get_array_length(env, argv[0], &count));
  int flags = 0;
  for (uint32_t i = 0; i < count; i++) {
    napi_value item;
    char name[16];
    CHECK(napi_get_element(env, argv[0], i, &item));
    if (!get_string(env, item, "names", "unshare", name, sizeof name)) return NULL;
    size_t known = 0;
    while (known < sizeof NAMESPACES / sizeof NAMESPACES[0] && strcmp(NAMESPACES[known].name, name) != 0) known++;
    if (known == sizeof NAMESPACES / sizeof NAMESPACES[0]) {
      throw_errno(env, EINVAL, "unshare", name);
      return NULL;
    }
    flags |= NAMESPACES[known].flag;
  }
  if (unshare(flags) != 0) {
    throw_errno(env, errno, "unshare", NULL);
    return NULL;
  }
  return NULL;
}

static napi_value id_entry(napi_env env, const char* name, unsigned uid, unsigned gid) {
  napi_value result, name_value, uid_value, gid_value;
  CHECK(napi_create_object(env, &result));
  CHECK(napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &name_value));
  CHECK(napi_create_uint32(env, uid, &uid_value));
  CHECK(napi_create_uint32(env, gid, &gid_value));
  CHECK(napi_set_named_property(env, result, "name", name_value));
  CHECK(napi_set_named_property(env, result, "uid", uid_value));
  CHECK(napi_set_named_property(env, result, "gid", gid_value));
  return result;
}

/* Whether `text` is all digits: then it is an id, as in uWSGI (a user named "33" loses). */
static bool numeric(const char* text, unsigned* out) {
  if (*text == '\0') return false;
  char* end;
  errno = 0;
  unsigned long value = strtoul(text, &end, 10);
  if (*end != '\0' || errno != 0 || value > UINT32_MAX - 1) return false;
  *out = (unsigned)value;
  return true;
}

/* lookupUser(nameOrId) → {name, uid, gid} from the passwd database, or null. */
napi_value lookup_user(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], null_value;
  char text[256], buffer[4096];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (!get_string(env, argv[0], "user", "getpwnam", text, sizeof text)) return NULL;
  struct passwd entry, *found = NULL;
  unsigned id;
  int error = numeric(text, &id) ? getpwuid_r((uid_t)id, &entry, buffer, sizeof buffer, &found)
                                 : getpwnam_r(text, &entry, buffer, sizeof buffer, &found);
  if (error != 0 && error != ENOENT && error != ESRCH) {
    throw_errno(env, error, "getpwnam", text);
    return NULL;
  }
  if (found == NULL) {
    CHECK(napi_get_null(env, &null_value));
    return null_value;
  }
  return id_entry(env, found->pw_name, found->pw_uid, found->pw_gid);
}

/* lookupGroup(nameOrId) → {name, uid: 0, gid} from the group database, or null. */
napi_value lookup_group(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], null_value;
  char text[256], buffer[16384];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (!get_string(env, argv[0], "group", "getgrnam", text, sizeof text)) return NULL;
  struct group entry, *found = NULL;
  unsigned id;
  int error = numeric(text, &id) ? getgrgid_r((gid_t)id, &entry, buffer, sizeof buffer, &found)
                                 : getgrnam_r(text, &entry, buffer, sizeof buffer, &found);
  if (error != 0 && error != ENOENT && error != ESRCH) {
    throw_errno(env, error, "getgrnam", text);
    return NULL;
  }
  if (found == NULL) {
    CHECK(napi_get_null(env, &null_value));
    return null_value;
  }
  return id_entry(env, found->gr_name, 0, found->gr_gid);
}
