/*
 * The benchmark's reference: a minimal single-threaded epoll chat relay, standing for what this
 * machine can do at all. bench/run.sh builds it with `cc -O2` and runs every workload against it
 * beside KestrelChat.
 *
 * Protocol, the subset of KestrelChat's that the load generator needs: on connect the relay sends
 * the 4 bytes "NICK"; the first LF-terminated line is the nickname, answered with
 * "* Welcome, NAME!\n"; every later line goes to every other named client as "NAME: text\n".
 * Nothing else: no commands, no notices, no validation, no flood control.
 *
 * Usage: relay PORT   (listens on 127.0.0.1; prints "listening on PORT" once ready)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define LINE_MAX_BYTES 8192          /* a longer line is not this protocol: the client is dropped */
#define READ_BYTES 8192              /* per read: a round's reads all fan out before anything is written, so
                                        bigger reads make bigger rounds (measured: 8 KiB beats 16 and 64) */
#define NICK_MAX 32
#define OUT_MAX (64L * 1024 * 1024)  /* a reader this far behind is dropped (KestrelChat: SendQueueBytes) */
#define EVENTS 512

typedef struct client {
    int fd, named, dead, dirty, want_out, member_index;
    char nick[NICK_MAX + 3];          /* "NAME: " ready to prefix */
    int nick_len;                     /* including ": " */
    char *partial;                    /* the start of a line whose LF has not arrived yet */
    int partial_len;
    char *out;                        /* grows on demand: an idle client costs a few hundred bytes */
    long out_len, out_off, out_cap;
} client;

static int epfd;
static client **by_fd;                /* indexed by fd */
static int by_fd_cap;
static client **members;              /* named clients, for fan-out */
static int member_count, member_cap;
static client **dirty;                /* clients with output to write after this epoll round */
static int dirty_count, dirty_cap;
static char rbuf[LINE_MAX_BYTES + READ_BYTES]; /* every read lands here, after the reader's partial line */

static void *grow(void *p, int *cap, int need, size_t size) {
    if (need <= *cap) return p;
    int n = *cap ? *cap : 64;
    while (n < need) n *= 2;
    p = realloc(p, (size_t)n * size);
    if (!p) { perror("realloc"); exit(1); }
    memset((char *)p + (size_t)*cap * size, 0, (size_t)(n - *cap) * size);
    *cap = n;
    return p;
}

static void mark_dirty(client *c) {
    if (c->dirty) return;
    c->dirty = 1;
    dirty = grow(dirty, &dirty_cap, dirty_count + 1, sizeof *dirty);
    dirty[dirty_count++] = c;
}

static void append(client *c, const char *a, long an, const char *b, long bn) {
    if (c->dead) return;
    long need = c->out_len + an + bn;
    if (need > OUT_MAX) { c->dead = 1; mark_dirty(c); return; }
    if (need > c->out_cap) {
        long cap = c->out_cap ? c->out_cap : 1024;
        while (cap < need) cap *= 2;
        c->out = realloc(c->out, (size_t)cap);
        if (!c->out) { perror("realloc"); exit(1); }
        c->out_cap = cap;
    }
    memcpy(c->out + c->out_len, a, (size_t)an);
    memcpy(c->out + c->out_len + an, b, (size_t)bn);
    c->out_len = need;
    mark_dirty(c);
}

static void drop(client *c) {
    if (c->named) {
        client *last = members[--member_count];
        members[c->member_index] = last;
        last->member_index = c->member_index;
    }
    close(c->fd);                     /* also leaves the epoll set */
    by_fd[c->fd] = NULL;
    free(c->partial);
    free(c->out);
    free(c);
}

static void set_want_out(client *c, int want) {
    if (c->want_out == want) return;
    c->want_out = want;
    struct epoll_event ev = { .events = EPOLLIN | (want ? EPOLLOUT : 0), .data.fd = c->fd };
    epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Writes what is queued; returns -1 if the client is gone. */
static int flush(client *c) {
    while (c->out_off < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_off, (size_t)(c->out_len - c->out_off), MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) { set_want_out(c, 1); return 0; }
        if (n <= 0) return -1;
        c->out_off += n;
    }
    c->out_off = c->out_len = 0;
    set_want_out(c, 0);
    return 0;
}

static void on_line(client *c, char *line, long len) {
    if (!c->named) {
        if (len > NICK_MAX) len = NICK_MAX;
        memcpy(c->nick, line, (size_t)len);
        memcpy(c->nick + len, ": ", 2);
        c->nick_len = (int)len + 2;
        c->named = 1;
        members = grow(members, &member_cap, member_count + 1, sizeof *members);
        c->member_index = member_count;
        members[member_count++] = c;
        char welcome[NICK_MAX + 16];
        int n = snprintf(welcome, sizeof welcome, "* Welcome, %.*s!\n", (int)len, line);
        append(c, welcome, n, "", 0);
        return;
    }
    for (int i = 0; i < member_count; i++) {
        if (members[i] != c) append(members[i], c->nick, c->nick_len, line, len + 1); /* + the LF */
    }
}

/* Reads once (epoll is level-triggered, so more input brings another event); returns -1 on EOF or error. */
static int on_readable(client *c) {
    memcpy(rbuf, c->partial, (size_t)c->partial_len);
    ssize_t n = recv(c->fd, rbuf + c->partial_len, READ_BYTES, 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return 0;
    if (n <= 0) return -1;
    char *start = rbuf, *end = rbuf + c->partial_len + n, *lf;
    while ((lf = memchr(start, '\n', (size_t)(end - start))) != NULL) {
        on_line(c, start, lf - start);
        start = lf + 1;
    }
    c->partial_len = (int)(end - start);
    if (c->partial_len > LINE_MAX_BYTES) return -1;
    if (c->partial_len > 0) {
        c->partial = realloc(c->partial, (size_t)c->partial_len);
        if (!c->partial) { perror("realloc"); exit(1); }
        memcpy(c->partial, start, (size_t)c->partial_len);
    }
    return 0;
}

static void on_accept(int listener) {
    for (;;) {
        int fd = accept4(listener, NULL, NULL, SOCK_NONBLOCK);
        if (fd < 0) return;           /* EAGAIN: no more waiting; anything else: try next round */
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        by_fd = grow(by_fd, &by_fd_cap, fd + 1, sizeof *by_fd);
        client *c = calloc(1, sizeof *c);
        if (!c) { perror("calloc"); exit(1); }
        c->fd = fd;
        by_fd[fd] = c;
        struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };
        epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
        append(c, "NICK", 4, "", 0);
    }
}

int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: relay PORT\n"); return 2; }
    signal(SIGPIPE, SIG_IGN);
    int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1])),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    if (bind(listener, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(listener, SOMAXCONN) < 0) {
        perror("listen");
        return 1;
    }
    epfd = epoll_create1(0);
    struct epoll_event ev = { .events = EPOLLIN, .data.fd = listener };
    epoll_ctl(epfd, EPOLL_CTL_ADD, listener, &ev);
    printf("listening on %s\n", argv[1]);
    fflush(stdout);

    struct epoll_event events[EVENTS];
    for (;;) {
        int n = epoll_wait(epfd, events, EVENTS, -1);
        for (int i = 0; i < n; i++) {
            int fd = events[i].data.fd;
            if (fd == listener) { on_accept(listener); continue; }
            client *c = fd < by_fd_cap ? by_fd[fd] : NULL;
            if (!c || c->dead) continue;
            if ((events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && on_readable(c) < 0) c->dead = 1;
            if ((events[i].events & EPOLLOUT) && flush(c) < 0) c->dead = 1;
            if (c->dead) mark_dirty(c);
        }
        /* One write per client per round, however many lines were queued for it: coalesced output. */
        for (int i = 0; i < dirty_count; i++) {
            client *c = dirty[i];
            c->dirty = 0;
            if (c->dead || flush(c) < 0) drop(c);
        }
        dirty_count = 0;
    }
}
