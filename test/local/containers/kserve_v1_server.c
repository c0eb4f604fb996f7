#define _GNU_SOURCE
/* A tiny KServe V1 model server for the container tests, built with gcc -static into a FROM-scratch image.
 *
 * Serves model "m": GET /v1/models/m answers ready, POST /v1/models/m:predict answers
 * {"predictions": [2*x+1 ...]} (an instance that is a list counts as the sum of its numbers).
 * Listens on $PORT (default 8080); prints one line per request to stdout.
 * "--alloc-mb N" allocates and touches N MiB before listening (the memory-limit test).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void on_term(int sig) { (void)sig; _exit(0); }

static int send_all(int fd, const char *buf, size_t len) {
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n <= 0) return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

static int reply(int fd, int code, const char *body) {
    static char msg[1 << 17];
    const char *text = code == 200 ? "OK" : code == 404 ? "Not Found" : "Bad Request";
    /* headers and body in one write: two small writes meet Nagle and delayed ACKs (40 ms) */
    int n = snprintf(msg, sizeof msg,
                     "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s", code,
                     text, strlen(body), body);
    return send_all(fd, msg, (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1);
}

/* predictions for the "instances" array of body into out; 0 when there is none */
static int predict(const char *body, char *out, size_t cap) {
    const char *p = strstr(body, "\"instances\"");
    if (!p) return 0;
    p = strchr(p, '[');
    if (!p) return 0;
    p++;
    size_t used = (size_t)snprintf(out, cap, "{\"predictions\": [");
    int depth = 0, count = 0, in_list = 0;
    double sum = 0;
    while (*p && used + 64 < cap) {
        if (*p == '[') {
            depth++;
            in_list = 1;
            sum = 0;
            p++;
        } else if (*p == ']') {
            if (depth == 0) break;
            depth--;
            if (depth == 0 && in_list) {
                used += (size_t)snprintf(out + used, cap - used, "%s%g", count++ ? ", " : "", 2 * sum + 1);
                in_list = 0;
            }
            p++;
        } else if (*p == '-' || (*p >= '0' && *p <= '9')) {
            char *end;
            double x = strtod(p, &end);
            if (depth == 0)
                used += (size_t)snprintf(out + used, cap - used, "%s%g", count++ ? ", " : "", 2 * x + 1);
            else
                sum += x;
            p = end;
        } else {
            p++;
        }
    }
    snprintf(out + used, cap - used, "]}");
    return 1;
}

static void serve(int fd) {
    static char buf[1 << 16];
    static char out[1 << 16];
    size_t have = 0;
    for (;;) {
        char *end;
        while (!(end = strstr(buf, "\r\n\r\n"))) {
            if (have + 1 >= sizeof buf) return;
            ssize_t n = read(fd, buf + have, sizeof buf - 1 - have);
            if (n <= 0) return;
            have += (size_t)n;
            buf[have] = 0;
        }
        size_t head_len = (size_t)(end - buf) + 4;
        size_t body_len = 0;
        const char *cl = strcasestr(buf, "content-length:");
        if (cl && cl < end) body_len = strtoul(cl + 15, NULL, 10);
        if (head_len + body_len >= sizeof buf) return;
        while (have < head_len + body_len) {
            ssize_t n = read(fd, buf + have, sizeof buf - 1 - have);
            if (n <= 0) return;
            have += (size_t)n;
            buf[have] = 0;
        }
        char method[8] = "", path[256] = "";
        sscanf(buf, "%7s %255s", method, path);
        printf("request %s %s\n", method, path);
        char saved = buf[head_len + body_len];
        buf[head_len + body_len] = 0;
        int rc;
        if (!strcmp(method, "GET") && !strcmp(path, "/v1/models/m"))
            rc = reply(fd, 200, "{\"name\": \"m\", \"ready\": true}");
        else if (!strcmp(method, "POST") && !strcmp(path, "/v1/models/m:predict"))
            rc = predict(buf + head_len, out, sizeof out) ? reply(fd, 200, out)
                                                           : reply(fd, 400, "{\"error\": \"no instances\"}");
        else
            rc = reply(fd, 404, "{\"error\": \"not found\"}");
        buf[head_len + body_len] = saved;
        if (rc < 0) return;
        memmove(buf, buf + head_len + body_len, have - head_len - body_len);
        have -= head_len + body_len;
        buf[have] = 0;
    }
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGTERM, on_term);
    signal(SIGINT, on_term);
    signal(SIGCHLD, SIG_IGN);
    for (int i = 1; i + 1 < argc; i++) {
        if (!strcmp(argv[i], "--alloc-mb")) {
            size_t n = strtoul(argv[i + 1], NULL, 10) << 20;
            char *mem = malloc(n);
            if (!mem) {
                printf("cannot allocate %s MiB\n", argv[i + 1]);
                return 3;
            }
            memset(mem, 1, n);
            printf("allocated %s MiB\n", argv[i + 1]);
        }
    }
    const char *port_env = getenv("PORT");
    int port = port_env && *port_env ? atoi(port_env) : 8080;
    int srv = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(srv, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
    addr.sin_addr.s_addr = htonl(INADDR_ANY);
    if (bind(srv, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(srv, 64) < 0) {
        perror("listen");
        return 2;
    }
    printf("serving model m on port %d\n", port);
    for (;;) {
        int fd = accept(srv, NULL, NULL);
        if (fd < 0) continue;
        if (fork() == 0) {
            close(srv);
            serve(fd);
            _exit(0);
        }
        close(fd);
    }
}
