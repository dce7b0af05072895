#ifndef PORTCULLIS_CSYSTEM_H
#define PORTCULLIS_CSYSTEM_H
/* Linux system calls the Glibc module does not export (epoll, eventfd, timerfd, signalfd) or hides behind
 * _GNU_SOURCE (accept4, pipe2, splice). Wrapped in a .c file that defines _GNU_SOURCE. */
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <signal.h>

int portcullis_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags);
int portcullis_pipe2(int fds[2], int flags);
long portcullis_splice(int fd_in, int fd_out, unsigned long len, unsigned int flags);
#endif
