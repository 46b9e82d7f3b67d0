#define _GNU_SOURCE
/* Echo server for the aio suite's echo benchmark: one thread, level-triggered
 * epoll, non-blocking sockets; it writes back whatever it reads (the floor a
 * server can reach with a read and a write per request). Prints {"port": P}
 * once listening and serves until stdin closes. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

static void die(const char *what) { perror(what); exit(1); }

int main(void) {
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (ls < 0) die("socket");
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(ls, (struct sockaddr *)&a, sizeof a) < 0) die("bind");
    if (listen(ls, 1024) < 0) die("listen");
    socklen_t al = sizeof a;
    if (getsockname(ls, (struct sockaddr *)&a, &al) < 0) die("getsockname");
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) die("epoll_create1");
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = ls};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev) < 0) die("epoll_ctl");
    ev.data.fd = 0; /* stdin: its end stops the server */
    if (epoll_ctl(ep, EPOLL_CTL_ADD, 0, &ev) < 0) die("epoll_ctl stdin");
    printf("{\"port\": %d}\n", ntohs(a.sin_port));
    fflush(stdout);
    static char buf[65536];
    struct epoll_event evs[256];
    for (;;) {
        int n = epoll_wait(ep, evs, 256, -1);
        if (n < 0) {
            if (errno == EINTR) continue;
            die("epoll_wait");
        }
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == 0) {
                if (read(0, buf, sizeof buf) <= 0) return 0;
                continue;
            }
            if (fd == ls) {
                for (;;) {
                    int c = accept4(ls, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                    if (c < 0) break;
                    int one = 1;
                    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    struct epoll_event cev = {.events = EPOLLIN, .data.fd = c};
                    if (epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev) < 0) close(c);
                }
                continue;
            }
            ssize_t m = read(fd, buf, sizeof buf);
            if (m < 0 && (errno == EAGAIN || errno == EINTR)) continue;
            if (m <= 0) {
                close(fd);
                continue;
            }
            /* The reply is small and the socket buffer empty: it goes out
             * whole; a short write would only happen under a flood. */
            for (ssize_t off = 0; off < m;) {
                ssize_t w = write(fd, buf + off, m - off);
                if (w < 0) {
                    if (errno == EAGAIN || errno == EINTR) continue;
                    close(fd);
                    break;
                }
                off += w;
            }
        }
    }
}
