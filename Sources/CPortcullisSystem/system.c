#define _GNU_SOURCE
#include <fcntl.h>
#include <unistd.h>
#include "CPortcullisSystem.h"

int portcullis_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags) { return accept4(fd, addr, len, flags); }
int portcullis_pipe2(int fds[2], int flags) { return pipe2(fds, flags); }
long portcullis_splice(int fd_in, int fd_out, unsigned long len, unsigned int flags) {
    return splice(fd_in, NULL, fd_out, NULL, len, flags);
}
