#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "CPortcullisSystem.h"

int portcullis_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags) { return accept4(fd, addr, len, flags); }
int portcullis_pipe2(int fds[2], int flags) { return pipe2(fds, flags); }
int portcullis_malloc_trim(void) { return malloc_trim(0); }
uint32_t portcullis_counter_add(uint32_t *table, size_t index, uint32_t delta) {
    return __atomic_add_fetch(&table[index], delta, __ATOMIC_RELAXED);
}
uint32_t portcullis_counter_subtract(uint32_t *table, size_t index, uint32_t delta) {
    return __atomic_sub_fetch(&table[index], delta, __ATOMIC_RELAXED);
}
uint32_t portcullis_counter_load(const uint32_t *table, size_t index) {
    return __atomic_load_n(&table[index], __ATOMIC_RELAXED);
}
long portcullis_splice(int fd_in, int fd_out, unsigned long len, unsigned int flags) {
    return splice(fd_in, NULL, fd_out, NULL, len, flags);
}

/* ---- epoll ---- */
int portcullis_epoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

int portcullis_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data) {
    struct epoll_event event;
    memset(&event, 0, sizeof event);
    event.events = events;
    event.data.u64 = data;
    return epoll_ctl(epfd, op, fd, &event);
}

void *portcullis_epoll_events_allocate(int count) {
    return calloc((size_t)(count > 0 ? count : 1), sizeof(struct epoll_event));
}

void portcullis_epoll_events_free(void *events) { free(events); }

int portcullis_epoll_wait(int epfd, void *events, int count, int timeout_ms) {
    return epoll_wait(epfd, (struct epoll_event *)events, count, timeout_ms);
}

uint32_t portcullis_epoll_event_flags(const void *events, int index) {
    return ((const struct epoll_event *)events)[index].events;
}

uint64_t portcullis_epoll_event_data(const void *events, int index) {
    return ((const struct epoll_event *)events)[index].data.u64;
}

/* ---- eventfd ---- */
int portcullis_eventfd_create(void) { return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); }

void portcullis_eventfd_signal(int fd) {
    uint64_t one = 1;
    ssize_t ignored = write(fd, &one, sizeof one);
    (void)ignored;
}

uint64_t portcullis_eventfd_drain(int fd) {
    uint64_t value = 0;
    if (read(fd, &value, sizeof value) != (ssize_t)sizeof value) return 0;
    return value;
}

/* ---- signals ---- */
static void fill_set(sigset_t *set, const int *signals, int count) {
    sigemptyset(set);
    for (int i = 0; i < count; i++) sigaddset(set, signals[i]);
}

int portcullis_block_signals(const int *signals, int count) {
    sigset_t set;
    fill_set(&set, signals, count);
    return pthread_sigmask(SIG_BLOCK, &set, NULL);
}

int portcullis_unblock_signals(const int *signals, int count) {
    sigset_t set;
    fill_set(&set, signals, count);
    return pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}

int portcullis_signalfd_create(const int *signals, int count) {
    sigset_t set;
    fill_set(&set, signals, count);
    return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

int portcullis_signalfd_next(int fd) {
    struct signalfd_siginfo info;
    ssize_t got = read(fd, &info, sizeof info);
    if (got == (ssize_t)sizeof info) return (int)info.ssi_signo;
    if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
    return -1;
}

void portcullis_ignore_sigpipe(void) { signal(SIGPIPE, SIG_IGN); }

/* ---- sockets ---- */
int portcullis_socket_stream(int domain) { return socket(domain, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0); }

int portcullis_accept_nonblocking(int fd, struct sockaddr_storage *address, socklen_t *length) {
    return accept4(fd, (struct sockaddr *)address, length, SOCK_NONBLOCK | SOCK_CLOEXEC);
}

static int set_int_option(int fd, int level, int name, int value) {
    return setsockopt(fd, level, name, &value, sizeof value);
}

int portcullis_set_reuseaddr(int fd) { return set_int_option(fd, SOL_SOCKET, SO_REUSEADDR, 1); }
int portcullis_set_reuseport(int fd) { return set_int_option(fd, SOL_SOCKET, SO_REUSEPORT, 1); }
int portcullis_set_v6only(int fd, int on) { return set_int_option(fd, IPPROTO_IPV6, IPV6_V6ONLY, on ? 1 : 0); }
int portcullis_set_nodelay(int fd) { return set_int_option(fd, IPPROTO_TCP, TCP_NODELAY, 1); }
int portcullis_set_defer_accept(int fd, int seconds) { return set_int_option(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, seconds); }

int portcullis_set_linger_zero(int fd) {
    struct linger linger = { .l_onoff = 1, .l_linger = 0 };
    return setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, sizeof linger);
}

int portcullis_socket_error(int fd) {
    int error = 0;
    socklen_t length = sizeof error;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0) return -1;
    return error;
}

long portcullis_send(int fd, const void *buffer, unsigned long length) {
    return send(fd, buffer, length, MSG_NOSIGNAL);
}

long portcullis_recv(int fd, void *buffer, unsigned long length) { return recv(fd, buffer, length, 0); }
