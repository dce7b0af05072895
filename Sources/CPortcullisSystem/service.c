#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>
#include <linux/capability.h>
#include "portcullis_service.h"

/* ---- sd_notify ---- */
int portcullis_notify_socket(void) { return socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0); }

long portcullis_notify_send(int fd, const char *path, const void *message, unsigned long length) {
    struct sockaddr_un address;
    memset(&address, 0, sizeof address);
    address.sun_family = AF_UNIX;
    size_t path_length = strlen(path);
    if (path_length < 2 || (path[0] != '/' && path[0] != '@') || path_length > sizeof address.sun_path - (path[0] == '/')) {
        errno = EINVAL;
        return -1;
    }
    memcpy(address.sun_path, path, path_length);
    socklen_t address_length;
    if (path[0] == '@') {
        /* Abstract namespace: a leading NUL, and the length counts exactly the name (no terminator). */
        address.sun_path[0] = '\0';
        address_length = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + path_length);
    } else {
        address_length = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + path_length + 1);
    }
    return sendto(fd, message, length, MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr *)&address, address_length);
}

/* ---- inherited sockets ---- */
int portcullis_is_listening_stream(int fd) {
    if (fcntl(fd, F_GETFD) < 0) return -1;
    int type = 0, listening = 0;
    socklen_t length = sizeof type;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &length) != 0) return 0;
    length = sizeof listening;
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &length) != 0) return 0;
    return type == SOCK_STREAM && listening ? 1 : 0;
}

int portcullis_set_cloexec(int fd) {
    int flags = fcntl(fd, F_GETFD);
    if (flags < 0) return -1;
    return fcntl(fd, F_SETFD, flags | FD_CLOEXEC) < 0 ? -1 : 0;
}

int portcullis_set_nonblocking(int fd) {
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0) return -1;
    return fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0 ? -1 : 0;
}

int portcullis_dup_cloexec(int fd) { return fcntl(fd, F_DUPFD_CLOEXEC, 3); }

/* ---- identity ---- */
static int all_digits(const char *text) {
    if (*text == '\0') return 0;
    for (const char *c = text; *c; c++) if (*c < '0' || *c > '9') return 0;
    return 1;
}

static long lookup_buffer_size(int name) {
    long size = sysconf(name);
    return size > 0 ? size : 16384;
}

int portcullis_lookup_user(const char *name, uint32_t *uid, uint32_t *gid, char *canonical, unsigned long capacity) {
    long size = lookup_buffer_size(_SC_GETPW_R_SIZE_MAX);
    for (;;) {
        char *buffer = malloc((size_t)size);
        if (!buffer) { errno = ENOMEM; return -1; }
        struct passwd entry, *found = NULL;
        int error = all_digits(name)
            ? getpwuid_r((uid_t)strtoul(name, NULL, 10), &entry, buffer, (size_t)size, &found)
            : getpwnam_r(name, &entry, buffer, (size_t)size, &found);
        if (error == ERANGE && size < (1L << 20)) { free(buffer); size *= 2; continue; }
        if (error != 0) { free(buffer); errno = error; return -1; }
        if (!found) { free(buffer); return 1; }
        *uid = (uint32_t)entry.pw_uid;
        *gid = (uint32_t)entry.pw_gid;
        if (capacity > 0) {
            strncpy(canonical, entry.pw_name, capacity - 1);
            canonical[capacity - 1] = '\0';
        }
        free(buffer);
        return 0;
    }
}

int portcullis_lookup_group(const char *name, uint32_t *gid) {
    long size = lookup_buffer_size(_SC_GETGR_R_SIZE_MAX);
    for (;;) {
        char *buffer = malloc((size_t)size);
        if (!buffer) { errno = ENOMEM; return -1; }
        struct group entry, *found = NULL;
        int error = all_digits(name)
            ? getgrgid_r((gid_t)strtoul(name, NULL, 10), &entry, buffer, (size_t)size, &found)
            : getgrnam_r(name, &entry, buffer, (size_t)size, &found);
        if (error == ERANGE && size < (1L << 20)) { free(buffer); size *= 2; continue; }
        if (error != 0) { free(buffer); errno = error; return -1; }
        if (!found) { free(buffer); return 1; }
        *gid = (uint32_t)entry.gr_gid;
        free(buffer);
        return 0;
    }
}

int portcullis_user_name(uint32_t uid, char *buffer, unsigned long capacity) {
    long size = lookup_buffer_size(_SC_GETPW_R_SIZE_MAX);
    char *scratch = malloc((size_t)size);
    if (!scratch) return -1;
    struct passwd entry, *found = NULL;
    int result = -1;
    if (getpwuid_r((uid_t)uid, &entry, scratch, (size_t)size, &found) == 0 && found && capacity > 0) {
        strncpy(buffer, entry.pw_name, capacity - 1);
        buffer[capacity - 1] = '\0';
        result = 0;
    }
    free(scratch);
    return result;
}

int portcullis_holds_capabilities(void) {
    struct __user_cap_header_struct header = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
    struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
    memset(data, 0, sizeof data);
    if (syscall(SYS_capget, &header, data) != 0) return 1;
    for (int i = 0; i < _LINUX_CAPABILITY_U32S_3; i++) {
        if (data[i].effective || data[i].permitted) return 1;
    }
    for (int capability = 0; capability <= CAP_LAST_CAP; capability++) {
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, capability, 0, 0) == 1) return 1;
    }
    return 0;
}

/* Every thread has its own capability sets and capset(2) only changes the caller's, so this must run
 * before any other thread exists (glibc broadcasts set*id calls to all threads, but not capset). */
int portcullis_drop_capabilities(void) {
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) return -1;
    struct __user_cap_header_struct header = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
    struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
    memset(data, 0, sizeof data);
    return syscall(SYS_capset, &header, data) == 0 ? 0 : -1;
}

int portcullis_switch_identity(const char *user, uint32_t uid, uint32_t gid, int change_uid) {
    /* Order matters: groups and gid need privilege, so they go before the uid. glibc applies each set*id
     * call to every thread of the process. */
    int groups_result = user ? initgroups(user, (gid_t)gid) : setgroups(1, (const gid_t[]){ (gid_t)gid });
    if (groups_result != 0) return PORTCULLIS_SWITCH_SETGROUPS;
    if (setresgid((gid_t)gid, (gid_t)gid, (gid_t)gid) != 0) return PORTCULLIS_SWITCH_SETGID;
    if (change_uid && setresuid((uid_t)uid, (uid_t)uid, (uid_t)uid) != 0) return PORTCULLIS_SWITCH_SETUID;

    uid_t ruid, euid, suid;
    gid_t rgid, egid, sgid;
    if (getresuid(&ruid, &euid, &suid) != 0 || getresgid(&rgid, &egid, &sgid) != 0) return PORTCULLIS_SWITCH_VERIFY_IDS;
    if (rgid != gid || egid != gid || sgid != gid) return PORTCULLIS_SWITCH_VERIFY_IDS;
    if (change_uid && (ruid != uid || euid != uid || suid != uid)) return PORTCULLIS_SWITCH_VERIFY_IDS;
    if (!change_uid || uid == 0) return PORTCULLIS_SWITCH_OK;
    /* The way back must be closed: a process that could call setuid(0) again has dropped nothing. */
    if (setuid(0) == 0 || seteuid(0) == 0) return PORTCULLIS_SWITCH_REGAINED_ROOT;
    if (gid != 0 && (setgid(0) == 0 || setegid(0) == 0)) return PORTCULLIS_SWITCH_REGAINED_ROOT;
    if (portcullis_holds_capabilities()) return PORTCULLIS_SWITCH_CAPABILITIES_LEFT;
    return PORTCULLIS_SWITCH_OK;
}
