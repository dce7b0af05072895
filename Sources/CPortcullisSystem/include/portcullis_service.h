#ifndef PORTCULLIS_SERVICE_H
#define PORTCULLIS_SERVICE_H
/* Running as a service: the sd_notify datagram, sockets inherited from systemd, and switching to an
 * unprivileged user. Implemented in service.c (glibc only, no libsystemd). */
#include <stdint.h>
#include <sys/epoll.h>

/* ---- sd_notify ---- */
/* socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0). */
int portcullis_notify_socket(void);
/* Sends one datagram holding `message` to the socket at `path`: an absolute path, or an abstract socket
 * written with a leading '@'. Never blocks (MSG_DONTWAIT). Returns the bytes sent, or -1 with errno set
 * (EINVAL for a path that is neither absolute nor abstract, or too long for sockaddr_un). */
long portcullis_notify_send(int fd, const char *path, const void *message, unsigned long length);

/* ---- inherited sockets ---- */
/* 1 if `fd` is a listening (SO_ACCEPTCONN) SOCK_STREAM socket, 0 if it is open but something else, -1 if it
 * is not open (errno EBADF). */
int portcullis_is_listening_stream(int fd);
/* FD_CLOEXEC on; 0 or -1. */
int portcullis_set_cloexec(int fd);
/* O_NONBLOCK on (a file-status flag: shared with every descriptor of the same open socket); 0 or -1. */
int portcullis_set_nonblocking(int fd);
/* A close-on-exec duplicate numbered 3 or above (fcntl F_DUPFD_CLOEXEC), or -1. */
int portcullis_dup_cloexec(int fd);
/* Wake one waiter instead of all when several epoll instances watch the same socket. */
static const uint32_t portcullis_EPOLLEXCLUSIVE = EPOLLEXCLUSIVE;

/* ---- identity ---- */
/* Looks a user up by name, or by number when `name` is all digits. 0: found (uid, primary gid and the
 * canonical name, NUL-terminated, in `canonical` of `capacity` bytes); 1: no such user; -1: lookup error
 * (errno). */
int portcullis_lookup_user(const char *name, uint32_t *uid, uint32_t *gid, char *canonical, unsigned long capacity);
/* The same for a group. */
int portcullis_lookup_group(const char *name, uint32_t *gid);
/* The name of user `uid` into `buffer`; 0, or -1 when it has none. */
int portcullis_user_name(uint32_t uid, char *buffer, unsigned long capacity);

/* Steps of portcullis_switch_identity, reported when one fails. */
enum {
    PORTCULLIS_SWITCH_OK = 0,
    PORTCULLIS_SWITCH_SETGROUPS = 1,
    PORTCULLIS_SWITCH_SETGID = 2,
    PORTCULLIS_SWITCH_SETUID = 3,
    PORTCULLIS_SWITCH_VERIFY_IDS = 4,
    PORTCULLIS_SWITCH_REGAINED_ROOT = 5,
    PORTCULLIS_SWITCH_CAPABILITIES_LEFT = 6,
};
/* Drops to `uid`/`gid` for every thread of the process: supplementary groups from the group database for
 * `user` (initgroups), or just `gid` when `user` is NULL; then setresgid(gid) and, when `change_uid`,
 * setresuid(uid). Then verifies: real, effective and saved ids are the targets, and, when the new uid is not
 * 0, that neither setuid(0) nor setgid(0) succeeds and no capability is left in the effective, permitted or
 * ambient sets. Returns PORTCULLIS_SWITCH_OK or the step that failed (errno set for steps 1 to 3). */
int portcullis_switch_identity(const char *user, uint32_t uid, uint32_t gid, int change_uid);
/* 1 when the calling thread holds any capability in its effective, permitted or ambient set, else 0. */
int portcullis_holds_capabilities(void);
/* Clears the ambient, inheritable, permitted and effective capability sets of every thread (a non-root
 * process started with e.g. CAP_NET_BIND_SERVICE needs none once its sockets are bound). 0 or -1 (errno). */
int portcullis_drop_capabilities(void);
#endif
