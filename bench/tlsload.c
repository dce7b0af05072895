/*
 * tlsload: the TLS load client and plaintext backend of Portcullis' benchmark (bench/run.sh).
 *
 *   tlsload handshake --port P [--tls 1.2|1.3] [--resume] [--no-ticket] [--threads T] [--conns C]
 *                     [--warmup S] [--duration S] [--cpu-pids PID,...]
 *       C connections in flight at all times (spread over T threads, each an epoll loop). Every
 *       connection is a new TCP connection with a new SSL object. Without --resume no session is ever
 *       offered, so every handshake is a full one (a reused session counts as an error). With --resume
 *       each connection slot offers a session: TLS 1.2 keeps the first session it got (a ticket, or
 *       with --no-ticket a session id) and offers it every time; TLS 1.3 waits for the ticket after each
 *       handshake and offers the newest one next time (as browsers do). SSL_session_reused() tells
 *       whether the server really resumed it, and misses are counted.
 *       The connection is closed right after the handshake (close_notify, then close()); with --echo it
 *       first sends one byte and waits for it to come back through the backend (so the proxy must connect
 *       to the backend and relay both ways, as for a real request).
 *   tlsload bulk --port P --direction up|down|echo [--conns C] [--chunk BYTES] ...
 *       C TLS connections, each streams for the whole run. up: client -> backend (discarded);
 *       down: backend -> client; echo: both at once (the backend echoes), counted as received bytes.
 *   tlsload idle --port P --conns N [--hold S]
 *       Opens N TLS connections (at most 64 handshakes in flight), does a 1-byte echo round trip
 *       through the backend on each (so the proxy's backend leg exists), prints "READY ..." and holds
 *       them until SIGTERM/SIGINT/SIGUSR1 (or --hold seconds), counting connections the server drops.
 *   tlsload backend --port P [--threads T]
 *       Plaintext epoll server on 127.0.0.1. The first byte a client sends picks the behaviour:
 *       'E' echo, 'D' discard, 'S' source (send until the peer goes away). Anything else: discard.
 *       On SIGUSR1 it prints "ACCEPTED <n>" on stderr: the connections accepted so far (bench/run.sh
 *       compares that with the handshakes to see which proxies connect to the backend for a client that
 *       sent nothing).
 *
 * Every load mode prints exactly one line "RESULT key=value ..." on stdout (plus diagnostics on stderr).
 * Rates are measured over [warmup, warmup + duration] only. With --cpu-pids the CPU time (user + system,
 * all threads) of those processes is sampled at both ends of that window, so the server's CPU cost per
 * handshake / per byte is reported alongside the rate: on a 2-core machine shared by client and server
 * that is the figure least disturbed by the client.
 *
 * Build: gcc -O2 -Wall -o tlsload tlsload.c -lssl -lcrypto -lpthread
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

/* ------------------------------------------------------------------------------------------------ */
/* Options                                                                                          */

enum mode { MODE_HANDSHAKE, MODE_BULK, MODE_IDLE, MODE_BACKEND };
enum direction { DIR_UP, DIR_DOWN, DIR_ECHO };

static struct {
    enum mode mode;
    const char *host;
    int port;
    int threads;
    int conns;
    double warmup;
    double duration;
    double hold;
    double conn_timeout;
    int tls;            /* 0 = any (1.2..1.3), 12, 13 */
    int resume;
    int no_ticket;
    int echo;           /* handshake mode: one byte each way through the backend before closing */
    const char *ciphers;
    const char *ciphersuites;
    const char *groups;
    const char *sni;
    enum direction dir;
    size_t chunk;
    int src_ips;        /* spread client sockets over 127.0.0.2 .. 127.0.0.(1+src_ips); 0 = no bind */
    int cpu_pids[16];
    int n_cpu_pids;
    int quiet;
} O = {
    .host = "127.0.0.1",
    .threads = 1,
    .conns = 1,
    .warmup = 1.0,
    .duration = 5.0,
    .hold = 300.0,
    .conn_timeout = 10.0,
    .ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256",
    .ciphersuites = "TLS_AES_128_GCM_SHA256",
    .groups = "X25519:P-256",
    .chunk = 16384,
    .src_ips = 0,
};

static void usage(void)
{
    fprintf(stderr,
            "usage: tlsload handshake|bulk|idle|backend [options]\n"
            "  --host A --port P --threads T --conns C --warmup S --duration S --hold S\n"
            "  --tls 1.2|1.3 --resume --no-ticket --echo --ciphers X --ciphersuites X --groups X --sni NAME\n"
            "  --direction up|down|echo --chunk BYTES --src-ips K --cpu-pids PID[,PID...] --quiet\n");
    exit(2);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
    perror(what);
    exit(1);
}

/* The CPU time (user + system, all threads, in seconds) of the processes given with --cpu-pids. */
static double cpu_of_pids(void)
{
    double total = 0;
    long hz = sysconf(_SC_CLK_TCK);
    for (int i = 0; i < O.n_cpu_pids; i++) {
        char path[64], buf[2048];
        snprintf(path, sizeof path, "/proc/%d/stat", O.cpu_pids[i]);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = 0;
        /* Field 2 (comm) may contain spaces: skip to the last ')'. utime/stime are fields 14/15. */
        char *p = strrchr(buf, ')');
        if (!p)
            continue;
        p += 2;
        unsigned long long ut = 0, st = 0;
        /* fields 3..13 skipped, then 14 and 15 */
        if (sscanf(p, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) == 2)
            total += (double)(ut + st) / (double)hz;
    }
    return total;
}

/* ------------------------------------------------------------------------------------------------ */
/* Client side                                                                                      */

enum cstate { CS_FREE, CS_HANDSHAKE, CS_TICKET, CS_COMMAND, CS_RUN, CS_ECHO_WAIT, CS_IDLE, CS_DONE };

struct worker;

struct conn {
    int fd;
    SSL *ssl;
    enum cstate state;
    struct worker *w;
    SSL_SESSION *session;   /* --resume: the session this slot offers */
    int primed;             /* --resume: the slot holds a session to offer */
    int offered;            /* this connection offered a session */
    double deadline;        /* handshake / echo deadline */
    size_t write_off;       /* partial command/echo writes */
    unsigned serial;
};

struct stats {
    uint64_t ok;            /* completed handshakes in the measurement window */
    uint64_t ok_total;      /* completed handshakes overall */
    uint64_t reused;        /* ... of which the server resumed the offered session (window) */
    uint64_t not_reused;    /* --resume: offered a session, got a full handshake (window) */
    uint64_t unexpected_reuse; /* no session offered, yet reused (window) */
    uint64_t failed;        /* failed connects/handshakes/streams (whole run) */
    uint64_t timeouts;
    uint64_t bytes_in;      /* window */
    uint64_t bytes_out;     /* window */
    uint64_t established;   /* idle: connections ready */
    uint64_t dropped;       /* idle: closed by the server while held */
    uint64_t started;       /* idle: connections started */
    uint64_t echoed;        /* handshake --echo: round trips completed (whole run) */
    uint64_t settled;       /* idle: connections that reached CS_IDLE or failed before */
    char first_error[256];
};

struct worker {
    int id;
    pthread_t thread;
    int ep;
    SSL_CTX *ctx;
    struct conn *conns;
    int nconns;
    struct stats st;
    unsigned char *buf;     /* page-aligned I/O buffer */
    char proto[32], cipher[64], group[32], keytype[16];
};

static volatile sig_atomic_t g_stop;
static double g_t0, g_win_start, g_win_end;
static atomic_int g_ready_workers;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static void note_error(struct worker *w, const char *what)
{
    if (w->st.first_error[0])
        return;
    unsigned long e = ERR_peek_last_error();
    char ebuf[160] = "";
    if (e)
        ERR_error_string_n(e, ebuf, sizeof ebuf);
    snprintf(w->st.first_error, sizeof w->st.first_error, "%s%s%s%s%s", what, ebuf[0] ? ": " : "", ebuf,
             errno ? " errno=" : "", errno ? strerror(errno) : "");
}

static SSL_CTX *make_client_ctx(void)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx)
        die("SSL_CTX_new");
    int minv = TLS1_2_VERSION, maxv = TLS1_3_VERSION;
    if (O.tls == 12)
        maxv = TLS1_2_VERSION;
    if (O.tls == 13)
        minv = TLS1_3_VERSION;
    SSL_CTX_set_min_proto_version(ctx, minv);
    SSL_CTX_set_max_proto_version(ctx, maxv);
    if (SSL_CTX_set_cipher_list(ctx, O.ciphers) != 1 || SSL_CTX_set_ciphersuites(ctx, O.ciphersuites) != 1
        || SSL_CTX_set1_groups_list(ctx, O.groups) != 1) {
        ERR_print_errors_fp(stderr);
        exit(2);
    }
    /* The chain is not checked: the client's cost is not what is measured (the handshake signature
     * itself is still verified by TLS). */
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (O.no_ticket)
        SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    /* No client cache: a session is only offered when this program sets it explicitly. (With
     * SSL_SESS_CACHE_CLIENT, OpenSSL would also mark a used TLS 1.3 session not resumable.) */
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    return ctx;
}

static void conn_close(struct conn *c, int graceful)
{
    if (c->ssl) {
        if (graceful) {
            ERR_clear_error();
            SSL_shutdown(c->ssl);    /* sends close_notify; the reply is not awaited */
        }
        SSL_free(c->ssl);
        c->ssl = NULL;
    }
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
    c->state = CS_FREE;
}

static int conn_start(struct worker *w, struct conn *c)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        note_error(w, "socket");
        w->st.failed++;
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (O.src_ips > 0) {
        /* Several loopback source addresses multiply the (src, sport, dst, dport) space, so a fast
         * handshake loop does not run out of ephemeral ports while old ones sit in TIME_WAIT. */
        struct sockaddr_in src = { .sin_family = AF_INET };
        src.sin_addr.s_addr = htonl(0x7f000002u + (c->serial++ + (unsigned)w->id * 7u) % (unsigned)O.src_ips);
        setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        if (bind(fd, (struct sockaddr *)&src, sizeof src) != 0) {
            note_error(w, "bind");
            close(fd);
            w->st.failed++;
            return -1;
        }
    }
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)O.port) };
    inet_pton(AF_INET, O.host, &sa.sin_addr);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0 && errno != EINPROGRESS) {
        note_error(w, "connect");
        close(fd);
        w->st.failed++;
        return -1;
    }
    SSL *ssl = SSL_new(w->ctx);
    SSL_set_fd(ssl, fd);
    SSL_set_app_data(ssl, c);
    if (O.sni)
        SSL_set_tlsext_host_name(ssl, O.sni);
    c->offered = O.resume && c->primed;
    if (c->offered)
        SSL_set_session(ssl, c->session);
    SSL_set_connect_state(ssl);
    c->fd = fd;
    c->ssl = ssl;
    c->state = CS_HANDSHAKE;
    c->write_off = 0;
    c->deadline = now_s() + O.conn_timeout;
    struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = c };
    if (epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev) != 0)
        die("epoll_ctl");
    return 0;
}

static int in_window(double t)
{
    return t >= g_win_start && t < g_win_end;
}

static void record_details(struct worker *w, SSL *ssl)
{
    if (w->proto[0])
        return;
    snprintf(w->proto, sizeof w->proto, "%s", SSL_get_version(ssl));
    snprintf(w->cipher, sizeof w->cipher, "%s", SSL_get_cipher_name(ssl));
    int nid = SSL_get_negotiated_group(ssl);
    const char *g = nid ? OBJ_nid2sn(nid) : NULL;
    snprintf(w->group, sizeof w->group, "%s", g ? g : "?");
    X509 *peer = SSL_get1_peer_certificate(ssl);
    const char *kt = "?";
    if (peer) {
        EVP_PKEY *pk = X509_get0_pubkey(peer);
        int id = pk ? EVP_PKEY_get_base_id(pk) : 0;
        kt = id == EVP_PKEY_RSA ? "RSA" : id == EVP_PKEY_EC ? "EC" : id == EVP_PKEY_ED25519 ? "Ed25519" : "?";
        X509_free(peer);
    }
    snprintf(w->keytype, sizeof w->keytype, "%s", kt);
}

/* Returns 0 when the connection is still alive, -1 when it was closed (and the slot freed). */
static int conn_fail(struct worker *w, struct conn *c, const char *what)
{
    note_error(w, what);
    w->st.failed++;
    conn_close(c, 0);
    if (O.mode == MODE_IDLE) {
        w->st.settled++;
        c->state = CS_DONE;
    }
    return -1;
}

/* Classify an SSL_* return: 1 = would block, -1 = failed/closed. */
static int ssl_blocked(struct conn *c, int r)
{
    int e = SSL_get_error(c->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
        return 1;
    return -1;
}

static int after_exchange(struct conn *c);

static int handshake_done(struct worker *w, struct conn *c)
{
    double t = now_s();
    record_details(w, c->ssl);
    int reused = SSL_session_reused(c->ssl);
    int offered = c->offered;
    w->st.ok_total++;
    if (O.mode == MODE_HANDSHAKE && in_window(t)) {
        w->st.ok++;
        if (reused)
            w->st.reused++;
        if (offered && !reused)
            w->st.not_reused++;
        if (!offered && reused)
            w->st.unexpected_reuse++;
    }
    if (O.mode == MODE_HANDSHAKE && O.echo && c->state == CS_HANDSHAKE) {
        c->state = CS_COMMAND;     /* the request: "E" + one byte, echoed by the backend */
        c->write_off = 0;
        return 0;
    }
    return after_exchange(c);
}

/* Handshake mode, once the handshake (and the optional echo) is done: keep a session to offer, then close.
 * Returns -1 when the connection was closed, 0 when it waits for a ticket. */
static int after_exchange(struct conn *c)
{
    if (O.mode == MODE_HANDSHAKE) {
        if (O.resume && SSL_version(c->ssl) == TLS1_3_VERSION) {
            SSL_SESSION *cur = SSL_get0_session(c->ssl);
            if (cur && cur != c->session && SSL_SESSION_has_ticket(cur) && SSL_SESSION_is_resumable(cur)) {
                SSL_SESSION_free(c->session);   /* the ticket came with the echo */
                c->session = SSL_get1_session(c->ssl);
                c->primed = 1;
                conn_close(c, 1);
                return -1;
            }
            /* TLS 1.3: the ticket arrives after the handshake. Wait for it and offer the newest one
             * next time, as browsers do (a server may treat tickets as single-use). */
            c->state = CS_TICKET;
            c->deadline = now_s() + 2.0;
            return 0;
        }
        if (O.resume && !c->primed) {
            /* TLS 1.2: one session (id or ticket) per slot, offered on every following connection. */
            SSL_SESSION *s = SSL_get1_session(c->ssl);
            if (s && SSL_SESSION_is_resumable(s)) {
                c->session = s;
                c->primed = 1;
            } else if (s) {
                SSL_SESSION_free(s);
            }
        }
        conn_close(c, 1);
        return -1;
    }
    c->state = CS_COMMAND;
    c->write_off = 0;
    return 0;
}

static const char *command_for_mode(void)
{
    if (O.mode == MODE_IDLE || O.mode == MODE_HANDSHAKE)
        return "Ex";
    return O.dir == DIR_UP ? "D" : O.dir == DIR_DOWN ? "S" : "E";
}

/* Drive one connection as far as it goes without blocking. */
static void conn_drive(struct worker *w, struct conn *c)
{
    for (;;) {
        if (c->state == CS_FREE)
            return;
        ERR_clear_error();
        errno = 0;
        switch (c->state) {
        case CS_HANDSHAKE: {
            int r = SSL_do_handshake(c->ssl);
            if (r == 1) {
                if (handshake_done(w, c) < 0)
                    return;
                continue;
            }
            if (ssl_blocked(c, r) > 0)
                return;
            conn_fail(w, c, "handshake");
            return;
        }
        case CS_TICKET: {
            int r = SSL_read(c->ssl, w->buf, 1);
            SSL_SESSION *cur = SSL_get0_session(c->ssl);
            if (cur && cur != c->session && SSL_SESSION_has_ticket(cur) && SSL_SESSION_is_resumable(cur)) {
                SSL_SESSION_free(c->session);
                c->session = SSL_get1_session(c->ssl);
                c->primed = 1;
                conn_close(c, 1);
                return;
            }
            if (r > 0)
                continue;          /* unexpected application data: keep waiting for the ticket */
            if (ssl_blocked(c, r) > 0)
                return;
            conn_fail(w, c, "waiting for the session ticket");
            return;
        }
        case CS_COMMAND: {
            const char *cmd = command_for_mode();
            size_t len = strlen(cmd);
            int r = SSL_write(c->ssl, cmd + c->write_off, (int)(len - c->write_off));
            if (r > 0) {
                c->write_off += (size_t)r;
                if (c->write_off == len)
                    c->state = O.mode == MODE_BULK ? CS_RUN : CS_ECHO_WAIT;
                continue;
            }
            if (ssl_blocked(c, r) > 0)
                return;
            conn_fail(w, c, "sending the backend command");
            return;
        }
        case CS_ECHO_WAIT: {
            int r = SSL_read(c->ssl, w->buf, 16);
            if (r > 0) {
                if (O.mode == MODE_HANDSHAKE) {
                    w->st.echoed++;
                    if (after_exchange(c) < 0)
                        return;
                    continue;
                }
                c->state = CS_IDLE;
                w->st.established++;
                w->st.settled++;
                return;
            }
            if (ssl_blocked(c, r) > 0)
                return;
            conn_fail(w, c, "echo through the proxy");
            return;
        }
        case CS_IDLE: {
            /* Anything arriving on an idle connection: a late ticket is fine, a close is a drop. */
            int r = SSL_read(c->ssl, w->buf, 4096);
            if (r > 0)
                continue;
            if (ssl_blocked(c, r) > 0)
                return;
            w->st.dropped++;
            w->st.established--;
            note_error(w, "idle connection closed by the server");
            conn_close(c, 0);
            c->state = CS_DONE;
            return;
        }
        case CS_RUN: {
            double t = now_s();
            int progressed = 0;
            if (O.dir == DIR_UP || O.dir == DIR_ECHO) {
                for (;;) {
                    int r = SSL_write(c->ssl, w->buf, (int)O.chunk);
                    if (r > 0) {
                        if (in_window(t))
                            w->st.bytes_out += (uint64_t)r;
                        progressed = 1;
                        if (O.dir == DIR_ECHO)
                            break;  /* alternate with reading so the echo never stalls */
                        continue;
                    }
                    if (ssl_blocked(c, r) > 0)
                        break;
                    conn_fail(w, c, "bulk write");
                    return;
                }
            }
            if (O.dir == DIR_DOWN || O.dir == DIR_ECHO) {
                for (;;) {
                    int r = SSL_read(c->ssl, w->buf + O.chunk, (int)O.chunk);
                    if (r > 0) {
                        if (in_window(t))
                            w->st.bytes_in += (uint64_t)r;
                        progressed = 1;
                        continue;
                    }
                    if (ssl_blocked(c, r) > 0)
                        break;
                    conn_fail(w, c, "bulk read");
                    return;
                }
            }
            if (O.dir == DIR_ECHO && progressed)
                continue;
            return;
        }
        default:
            return;
        }
    }
}

static void *client_worker(void *arg)
{
    struct worker *w = arg;
    struct epoll_event evs[256];
    int idle = O.mode == MODE_IDLE;
    int inflight_max = idle ? 64 : w->nconns;
    int next_idle = 0;          /* idle: next slot to open */

    if (!idle)
        for (int i = 0; i < w->nconns; i++)
            conn_start(w, &w->conns[i]);

    double last_scan = now_s();
    int announced = 0;
    unsigned consecutive_fail = 0;
    for (;;) {
        double t = now_s();
        if (O.mode != MODE_IDLE && t >= g_win_end)
            break;
        if (O.mode == MODE_IDLE && g_stop)
            break;
        if (idle) {
            /* Keep at most inflight_max handshakes going until every slot was opened once. */
            while (next_idle < w->nconns && w->st.started - w->st.settled < (uint64_t)inflight_max) {
                if (conn_start(w, &w->conns[next_idle]) == 0)
                    w->st.started++;
                else
                    w->conns[next_idle].state = CS_DONE;
                next_idle++;
            }
            int inflight = (int)(w->st.started - w->st.settled);
            if (!announced && next_idle == w->nconns && inflight == 0) {
                announced = 1;
                atomic_fetch_add(&g_ready_workers, 1);
            }
        }
        int n = epoll_wait(w->ep, evs, 256, 50);
        for (int i = 0; i < n; i++)
            conn_drive(w, evs[i].data.ptr);
        t = now_s();
        if (t - last_scan > 0.1) {
            last_scan = t;
            for (int i = 0; i < w->nconns; i++) {
                struct conn *c = &w->conns[i];
                if (c->state == CS_TICKET && c->primed && t > c->deadline) {
                    conn_close(c, 1);      /* no new ticket this time: keep offering the previous one */
                    continue;
                }
                if ((c->state == CS_HANDSHAKE || c->state == CS_TICKET || c->state == CS_ECHO_WAIT
                     || c->state == CS_COMMAND) && t > c->deadline) {
                    w->st.timeouts++;
                    errno = 0;
                    conn_fail(w, c, "timeout");
                }
            }
        }
        if (!idle) {
            /* Restart closed slots (handshake mode after each handshake; failures in every mode). */
            int restarted_fail = 0;
            for (int i = 0; i < w->nconns; i++) {
                struct conn *c = &w->conns[i];
                if (c->state == CS_FREE && (O.mode == MODE_HANDSHAKE || g_win_end > t)) {
                    uint64_t before = w->st.failed;
                    conn_start(w, c);
                    if (w->st.failed != before)
                        restarted_fail = 1;
                }
            }
            /* A server that refuses everything must not turn this into a busy loop. */
            if (restarted_fail && ++consecutive_fail > 100)
                usleep(10000);
            else if (!restarted_fail)
                consecutive_fail = 0;
        }
    }
    for (int i = 0; i < w->nconns; i++)
        if (w->conns[i].state != CS_FREE && w->conns[i].state != CS_DONE)
            conn_close(&w->conns[i], 1);
    return NULL;
}

static int run_client(void)
{
    SSL_library_init();
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = { .sa_handler = on_signal };
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);

    if (O.threads < 1)
        O.threads = 1;
    if (O.threads > O.conns)
        O.threads = O.conns;
    struct worker *ws = calloc((size_t)O.threads, sizeof *ws);
    for (int i = 0; i < O.threads; i++) {
        struct worker *w = &ws[i];
        w->id = i;
        w->ep = epoll_create1(EPOLL_CLOEXEC);
        w->ctx = make_client_ctx();
        w->nconns = O.conns / O.threads + (i < O.conns % O.threads ? 1 : 0);
        w->conns = calloc((size_t)w->nconns, sizeof *w->conns);
        for (int j = 0; j < w->nconns; j++) {
            w->conns[j].fd = -1;
            w->conns[j].w = w;
            w->conns[j].serial = (unsigned)j;
        }
        if (posix_memalign((void **)&w->buf, 4096, 2 * O.chunk + 4096) != 0)
            die("posix_memalign");
        memset(w->buf, 'x', 2 * O.chunk + 4096);
    }

    g_t0 = now_s();
    if (O.mode == MODE_IDLE) {
        g_win_start = g_win_end = 1e300;
    } else {
        g_win_start = g_t0 + O.warmup;
        g_win_end = g_win_start + O.duration;
    }
    for (int i = 0; i < O.threads; i++)
        pthread_create(&ws[i].thread, NULL, client_worker, &ws[i]);

    double cpu0 = 0, cpu1 = 0, ready_at = 0;
    if (O.mode == MODE_IDLE) {
        while (!g_stop && atomic_load(&g_ready_workers) < O.threads && now_s() - g_t0 < O.hold)
            usleep(10000);
        uint64_t est = 0, failed = 0;
        for (int i = 0; i < O.threads; i++) {
            est += ws[i].st.established;
            failed += ws[i].st.failed;
        }
        ready_at = now_s();
        printf("READY established=%llu failed=%llu seconds=%.2f\n", (unsigned long long)est,
               (unsigned long long)failed, ready_at - g_t0);
        fflush(stdout);
        while (!g_stop && now_s() - g_t0 < O.hold)
            usleep(20000);
        g_stop = 1;
    } else {
        while (now_s() < g_win_start)
            usleep(1000);
        cpu0 = cpu_of_pids();
        while (now_s() < g_win_end)
            usleep(1000);
        cpu1 = cpu_of_pids();
    }
    for (int i = 0; i < O.threads; i++)
        pthread_join(ws[i].thread, NULL);

    struct stats t = { 0 };
    const char *err = "";
    struct worker *w0 = &ws[0];
    for (int i = 0; i < O.threads; i++) {
        struct stats *s = &ws[i].st;
        t.ok += s->ok;
        t.ok_total += s->ok_total;
        t.reused += s->reused;
        t.not_reused += s->not_reused;
        t.unexpected_reuse += s->unexpected_reuse;
        t.failed += s->failed;
        t.timeouts += s->timeouts;
        t.bytes_in += s->bytes_in;
        t.bytes_out += s->bytes_out;
        t.established += s->established;
        t.dropped += s->dropped;
        t.echoed += s->echoed;
        if (!err[0] && s->first_error[0])
            err = s->first_error;
        if (!w0->proto[0] && ws[i].proto[0])
            w0 = &ws[i];
    }
    double cpu = cpu1 - cpu0;
    printf("RESULT mode=%s", O.mode == MODE_HANDSHAKE ? "handshake" : O.mode == MODE_BULK ? "bulk" : "idle");
    printf(" proto=%s cipher=%s group=%s key=%s", w0->proto[0] ? w0->proto : "-", w0->cipher[0] ? w0->cipher : "-",
           w0->group[0] ? w0->group : "-", w0->keytype[0] ? w0->keytype : "-");
    if (O.mode == MODE_HANDSHAKE) {
        double rate = (double)t.ok / O.duration;
        printf(" handshakes=%llu handshakes_total=%llu rate=%.1f reused=%llu not_reused=%llu unexpected_reuse=%llu",
               (unsigned long long)t.ok, (unsigned long long)t.ok_total, rate, (unsigned long long)t.reused, (unsigned long long)t.not_reused,
               (unsigned long long)t.unexpected_reuse);
        if (O.resume)
            printf(" resumed_rate=%.1f", (double)t.reused / O.duration);
        if (O.echo)
            printf(" echoed=%llu", (unsigned long long)t.echoed);
        if (O.n_cpu_pids)
            printf(" server_cpu_s=%.2f server_cpu_us_per_hs=%.1f", cpu, t.ok ? cpu * 1e6 / (double)t.ok : 0.0);
    } else if (O.mode == MODE_BULK) {
        uint64_t bytes = O.dir == DIR_UP ? t.bytes_out : t.bytes_in;
        double mbps = (double)bytes / 1e6 / O.duration;
        printf(" direction=%s conns=%d bytes=%llu mb_per_s=%.1f bytes_out=%llu bytes_in=%llu",
               O.dir == DIR_UP ? "up" : O.dir == DIR_DOWN ? "down" : "echo", O.conns, (unsigned long long)bytes,
               mbps, (unsigned long long)t.bytes_out, (unsigned long long)t.bytes_in);
        if (O.n_cpu_pids)
            printf(" server_cpu_s=%.2f server_cpu_s_per_gb=%.3f", cpu, bytes ? cpu * 1e9 / (double)bytes : 0.0);
    } else {
        printf(" requested=%d established=%llu dropped=%llu ready_seconds=%.2f", O.conns,
               (unsigned long long)t.established, (unsigned long long)t.dropped, ready_at - g_t0);
    }
    printf(" failed=%llu timeouts=%llu", (unsigned long long)t.failed, (unsigned long long)t.timeouts);
    if (err[0]) {
        /* keep the line parseable: no spaces inside the value */
        char e[256];
        snprintf(e, sizeof e, "%s", err);
        for (char *p = e; *p; p++)
            if (*p == ' ')
                *p = '_';
        printf(" first_error=%s", e);
    }
    printf("\n");
    fflush(stdout);
    return 0;
}

/* ------------------------------------------------------------------------------------------------ */
/* Backend                                                                                          */

struct bconn {
    int fd;
    char mode;              /* 0 until the first byte arrived */
    int eof;
    unsigned char *pending; /* echo bytes not yet written (allocated only while needed) */
    size_t plen, poff;
};

static unsigned char *g_source_buf;
static atomic_ullong g_backend_accepts;
static volatile sig_atomic_t g_backend_report;

static void on_backend_report(int sig)
{
    (void)sig;
    g_backend_report = 1;
}
#define BACKEND_BUF 65536

static void bconn_close(struct bconn *b)
{
    close(b->fd);
    free(b->pending);
    free(b);
}

/* Returns 0 if still open, -1 if closed. */
static int bconn_flush(struct bconn *b)
{
    while (b->poff < b->plen) {
        ssize_t n = write(b->fd, b->pending + b->poff, b->plen - b->poff);
        if (n > 0) {
            b->poff += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EAGAIN)
            return 0;
        bconn_close(b);
        return -1;
    }
    free(b->pending);
    b->pending = NULL;
    b->plen = b->poff = 0;
    return 0;
}

static void bconn_event(struct bconn *b, unsigned char *buf)
{
    if (b->pending && bconn_flush(b) < 0)
        return;
    if (b->pending)
        return;                             /* back-pressure: read no more until flushed */
    if (b->eof) {
        bconn_close(b);
        return;
    }
    if (b->mode == 'S') {
        for (;;) {
            ssize_t n = write(b->fd, g_source_buf, BACKEND_BUF);
            if (n > 0)
                continue;
            if (n < 0 && errno == EAGAIN)
                break;
            bconn_close(b);
            return;
        }
    }
    for (;;) {
        ssize_t n = read(b->fd, buf, BACKEND_BUF);
        if (n == 0) {
            b->eof = 1;
            if (!b->pending)
                bconn_close(b);
            return;
        }
        if (n < 0) {
            if (errno == EAGAIN)
                return;
            bconn_close(b);
            return;
        }
        unsigned char *data = buf;
        size_t len = (size_t)n;
        if (!b->mode) {
            b->mode = (char)data[0];
            data++;
            len--;
            if (b->mode == 'S') {
                bconn_event(b, buf);        /* start sending right away */
                return;
            }
        }
        if (b->mode != 'E' || len == 0)
            continue;                       /* discard */
        size_t off = 0;
        while (off < len) {
            ssize_t m = write(b->fd, data + off, len - off);
            if (m > 0) {
                off += (size_t)m;
                continue;
            }
            if (m < 0 && errno == EAGAIN) {
                b->pending = malloc(len - off);
                memcpy(b->pending, data + off, len - off);
                b->plen = len - off;
                b->poff = 0;
                return;
            }
            bconn_close(b);
            return;
        }
    }
}

struct bworker {
    pthread_t thread;
    int lfd;
};

static void *backend_worker(void *arg)
{
    struct bworker *bw = arg;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
    epoll_ctl(ep, EPOLL_CTL_ADD, bw->lfd, &ev);
    unsigned char *buf;
    if (posix_memalign((void **)&buf, 4096, BACKEND_BUF) != 0)
        die("posix_memalign");
    struct epoll_event evs[256];
    while (!g_stop) {
        int n = epoll_wait(ep, evs, 256, 200);
        for (int i = 0; i < n; i++) {
            if (evs[i].data.ptr == NULL) {
                for (;;) {
                    int fd = accept4(bw->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                    if (fd < 0) {
                        if (errno == EMFILE || errno == ENFILE)
                            usleep(1000);   /* never spin on EMFILE */
                        break;
                    }
                    atomic_fetch_add_explicit(&g_backend_accepts, 1, memory_order_relaxed);
                    int one = 1;
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    struct bconn *b = calloc(1, sizeof *b);
                    b->fd = fd;
                    struct epoll_event cev = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = b };
                    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev);
                }
                continue;
            }
            bconn_event(evs[i].data.ptr, buf);
        }
    }
    return NULL;
}

static int run_backend(void)
{
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = { .sa_handler = on_signal };
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    struct sigaction su = { .sa_handler = on_backend_report };
    sigaction(SIGUSR1, &su, NULL);
    if (posix_memalign((void **)&g_source_buf, 4096, BACKEND_BUF) != 0)
        die("posix_memalign");
    memset(g_source_buf, 's', BACKEND_BUF);
    if (O.threads < 1)
        O.threads = 1;
    struct bworker *bws = calloc((size_t)O.threads, sizeof *bws);
    for (int i = 0; i < O.threads; i++) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)O.port) };
        inet_pton(AF_INET, O.host, &a.sin_addr);
        if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0)
            die("backend bind");
        if (listen(fd, 4096) != 0)
            die("backend listen");
        bws[i].lfd = fd;
    }
    fprintf(stderr, "backend listening on %s:%d (%d thread%s)\n", O.host, O.port, O.threads, O.threads > 1 ? "s" : "");
    for (int i = 0; i < O.threads; i++)
        pthread_create(&bws[i].thread, NULL, backend_worker, &bws[i]);
    /* SIGUSR1 may land on any thread; this one answers it (the workers only see EINTR). */
    while (!g_stop) {
        if (g_backend_report) {
            g_backend_report = 0;
            fprintf(stderr, "ACCEPTED %llu\n", (unsigned long long)atomic_load(&g_backend_accepts));
            fflush(stderr);
        }
        usleep(10000);
    }
    for (int i = 0; i < O.threads; i++)
        pthread_join(bws[i].thread, NULL);
    return 0;
}

/* ------------------------------------------------------------------------------------------------ */

static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int main(int argc, char **argv)
{
    if (argc < 2)
        usage();
    if (!strcmp(argv[1], "handshake"))
        O.mode = MODE_HANDSHAKE;
    else if (!strcmp(argv[1], "bulk"))
        O.mode = MODE_BULK;
    else if (!strcmp(argv[1], "idle"))
        O.mode = MODE_IDLE;
    else if (!strcmp(argv[1], "backend"))
        O.mode = MODE_BACKEND;
    else
        usage();
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
#define ARG() (i + 1 < argc ? argv[++i] : (usage(), ""))
        if (!strcmp(a, "--host"))
            O.host = ARG();
        else if (!strcmp(a, "--port"))
            O.port = atoi(ARG());
        else if (!strcmp(a, "--threads"))
            O.threads = atoi(ARG());
        else if (!strcmp(a, "--conns"))
            O.conns = atoi(ARG());
        else if (!strcmp(a, "--warmup"))
            O.warmup = atof(ARG());
        else if (!strcmp(a, "--duration"))
            O.duration = atof(ARG());
        else if (!strcmp(a, "--hold"))
            O.hold = atof(ARG());
        else if (!strcmp(a, "--timeout"))
            O.conn_timeout = atof(ARG());
        else if (!strcmp(a, "--tls")) {
            const char *v = ARG();
            O.tls = !strcmp(v, "1.2") ? 12 : !strcmp(v, "1.3") ? 13 : (usage(), 0);
        } else if (!strcmp(a, "--resume"))
            O.resume = 1;
        else if (!strcmp(a, "--no-ticket"))
            O.no_ticket = 1;
        else if (!strcmp(a, "--echo"))
            O.echo = 1;
        else if (!strcmp(a, "--ciphers"))
            O.ciphers = ARG();
        else if (!strcmp(a, "--ciphersuites"))
            O.ciphersuites = ARG();
        else if (!strcmp(a, "--groups"))
            O.groups = ARG();
        else if (!strcmp(a, "--sni"))
            O.sni = ARG();
        else if (!strcmp(a, "--direction")) {
            const char *v = ARG();
            O.dir = !strcmp(v, "up") ? DIR_UP : !strcmp(v, "down") ? DIR_DOWN : !strcmp(v, "echo") ? DIR_ECHO : (usage(), DIR_UP);
        } else if (!strcmp(a, "--chunk"))
            O.chunk = (size_t)atol(ARG());
        else if (!strcmp(a, "--src-ips"))
            O.src_ips = atoi(ARG());
        else if (!strcmp(a, "--cpu-pids")) {
            char *list = strdup(ARG());
            for (char *tok = strtok(list, ","); tok && O.n_cpu_pids < 16; tok = strtok(NULL, ","))
                O.cpu_pids[O.n_cpu_pids++] = atoi(tok);
            free(list);
        } else if (!strcmp(a, "--quiet"))
            O.quiet = 1;
        else
            usage();
#undef ARG
    }
    if (O.port <= 0 || O.port > 65535)
        usage();
    if (O.chunk < 1 || O.chunk > (1 << 20))
        usage();
    raise_nofile();
    if (O.mode == MODE_BACKEND)
        return run_backend();
    if (O.conns < 1)
        usage();
    return run_client();
}
