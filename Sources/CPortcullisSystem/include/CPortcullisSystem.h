#ifndef PORTCULLIS_CSYSTEM_H
#define PORTCULLIS_CSYSTEM_H
/* Linux system calls the Glibc module does not export (epoll, eventfd, timerfd, signalfd) or hides behind
 * _GNU_SOURCE (accept4, pipe2, splice). Wrapped in a .c file that defines _GNU_SOURCE.
 *
 * `struct epoll_event` is packed on x86_64 (12 bytes, the 64-bit data at offset 4), which Swift does not lay
 * out faithfully, so Swift never touches it: event arrays are opaque memory allocated and read here. */
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <signal.h>

int portcullis_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags);
int portcullis_pipe2(int fds[2], int flags);
/* glibc's malloc_trim(0): returns free heap pages of every arena to the kernel; 1 when some were released. */
int portcullis_malloc_trim(void);
/* Relaxed atomic operations on one 32-bit counter of a table shared by threads; add and subtract return the
 * counter's new value. */
uint32_t portcullis_counter_add(uint32_t *table, size_t index, uint32_t delta);
uint32_t portcullis_counter_subtract(uint32_t *table, size_t index, uint32_t delta);
uint32_t portcullis_counter_load(const uint32_t *table, size_t index);
long portcullis_splice(int fd_in, int fd_out, unsigned long len, unsigned int flags);

/* ---- epoll ---- */
static const uint32_t portcullis_EPOLLIN = EPOLLIN;
static const uint32_t portcullis_EPOLLOUT = EPOLLOUT;
static const uint32_t portcullis_EPOLLRDHUP = EPOLLRDHUP;
static const uint32_t portcullis_EPOLLERR = EPOLLERR;
static const uint32_t portcullis_EPOLLHUP = EPOLLHUP;
static const uint32_t portcullis_EPOLLET = EPOLLET;

/* epoll_create1(EPOLL_CLOEXEC). */
int portcullis_epoll_create(void);
/* epoll_ctl with the event built here; `op` is EPOLL_CTL_ADD/MOD/DEL (DEL ignores events and data). */
int portcullis_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data);
static const int portcullis_EPOLL_CTL_ADD = EPOLL_CTL_ADD;
static const int portcullis_EPOLL_CTL_MOD = EPOLL_CTL_MOD;
static const int portcullis_EPOLL_CTL_DEL = EPOLL_CTL_DEL;
/* An array of `count` epoll events (free with portcullis_epoll_events_free). */
void *portcullis_epoll_events_allocate(int count);
void portcullis_epoll_events_free(void *events);
/* epoll_wait into an array from portcullis_epoll_events_allocate. */
int portcullis_epoll_wait(int epfd, void *events, int count, int timeout_ms);
/* The flags and the 64-bit data of event `index`. */
uint32_t portcullis_epoll_event_flags(const void *events, int index);
uint64_t portcullis_epoll_event_data(const void *events, int index);

/* ---- eventfd ---- */
/* A non-blocking, close-on-exec eventfd starting at 0. */
int portcullis_eventfd_create(void);
/* Adds 1 (never blocks: a saturated counter already means "wake up"). */
void portcullis_eventfd_signal(int fd);
/* Resets the counter to 0; returns the value read, or 0 when it was already 0. */
uint64_t portcullis_eventfd_drain(int fd);

/* ---- signals ---- */
/* Blocks `count` signals in the calling thread (threads created afterwards inherit the mask). */
int portcullis_block_signals(const int *signals, int count);
/* Unblocks them again in the calling thread. */
int portcullis_unblock_signals(const int *signals, int count);
/* A non-blocking, close-on-exec signalfd for the signals (which must be blocked in every thread). */
int portcullis_signalfd_create(const int *signals, int count);
/* The number of the next pending signal from a signalfd, 0 when none is pending, -1 on error. */
int portcullis_signalfd_next(int fd);
/* SIGPIPE -> SIG_IGN, so writing to a closed socket (OpenSSL's fd BIO uses write(2)) returns EPIPE. */
void portcullis_ignore_sigpipe(void);
static const int portcullis_SIGHUP = SIGHUP;
static const int portcullis_SIGINT = SIGINT;
static const int portcullis_SIGTERM = SIGTERM;

/* ---- sockets ---- */
/* socket(domain, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0). */
int portcullis_socket_stream(int domain);
/* accept4 with SOCK_NONBLOCK | SOCK_CLOEXEC. */
int portcullis_accept_nonblocking(int fd, struct sockaddr_storage *address, socklen_t *length);
/* setsockopt helpers; each returns 0 or -1 (errno set). */
int portcullis_set_reuseaddr(int fd);
int portcullis_set_reuseport(int fd);
int portcullis_set_v6only(int fd, int on);
int portcullis_set_nodelay(int fd);
int portcullis_set_defer_accept(int fd, int seconds);
/* SO_LINGER {on, 0}: close(2) then sends RST and discards unsent data (an abort, not a clean close). */
int portcullis_set_linger_zero(int fd);
/* The pending socket error (SO_ERROR), clearing it; -1 if getsockopt itself failed. */
int portcullis_socket_error(int fd);
/* send(2) with MSG_NOSIGNAL. */
long portcullis_send(int fd, const void *buffer, unsigned long length);
/* recv(2) with no flags. */
long portcullis_recv(int fd, void *buffer, unsigned long length);
/* A 16-byte-aligned sockaddr_storage size, for Swift-side storage. */
static const int portcullis_sockaddr_storage_size = (int)sizeof(struct sockaddr_storage);

/* Service integration (sd_notify, inherited sockets, privilege drop). */
#include "portcullis_service.h"
#endif
