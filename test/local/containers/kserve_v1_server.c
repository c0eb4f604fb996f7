#define _GNU_SOURCE
/* A tiny KServe V1 model server for the container tests, built with gcc -static into a FROM-scratch image.
 *
 * Serves model "m": GET /v1/models/m answers ready, POST /v1/models/m:predict answers
 * {"predictions": [2*x+1 ...]} (an instance that is a list counts as the sum of its numbers).
 * Listens on $PORT (default 8080); prints one line per request to stdout.
 * "--alloc-mb N" allocates and touches N MiB before listening (the memory-limit test).
 * "--predictor_host HOST" (a KServe transformer's flag) forwards every POST /v1/models/NAME:predict to
 * http://HOST/v1/models/NAME:predict through $http_proxy / $HTTP_PROXY (http://[user:pass@]ip:port,
 * the credentials sent as Proxy-Authorization) and answers with the predictor's status and body.
 * "--config-file PATH": GET /config answers the file's content, read at each request.
 */
#include <arpa/inet.h>
#include <fcntl.h>
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

static const char *predictor_host;
static const char *config_file;

static int reply(int fd, int code, const char *body) {
    static char msg[1 << 17];
    const char *text = code == 200 ? "OK" : code == 404 ? "Not Found" : code == 502 ? "Bad Gateway" : "Bad Request";
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

static void base64(const char *in, size_t len, char *out) {
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned char)in[i] << 16;
        if (i + 1 < len) v |= (unsigned char)in[i + 1] << 8;
        if (i + 2 < len) v |= (unsigned char)in[i + 2];
        out[o++] = abc[(v >> 18) & 63];
        out[o++] = abc[(v >> 12) & 63];
        out[o++] = i + 1 < len ? abc[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < len ? abc[v & 63] : '=';
    }
    out[o] = 0;
}

/* POST body to http://predictor_host/path through the HTTP proxy; the response body into out */
static int forward(const char *path, const char *body, size_t body_len, char *out, size_t cap) {
    const char *proxy = getenv("http_proxy");
    if (!proxy || !*proxy) proxy = getenv("HTTP_PROXY");
    if (!proxy || !*proxy) return snprintf(out, cap, "{\"error\": \"no HTTP_PROXY\"}"), 502;
    const char *p = strstr(proxy, "://");
    p = p ? p + 3 : proxy;
    char auth[512] = "", header[600] = "";
    const char *at = strchr(p, '@');
    if (at && (size_t)(at - p) * 4 / 3 + 4 < sizeof auth) {
        base64(p, (size_t)(at - p), auth);
        snprintf(header, sizeof header, "Proxy-Authorization: Basic %s\r\n", auth);
        p = at + 1;
    }
    char host[64] = "";
    int port = 80;
    sscanf(p, "%63[^:/]:%d", host, &port);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1 || connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
        close(fd);
        return snprintf(out, cap, "{\"error\": \"cannot connect to the proxy %s:%d\"}", host, port), 502;
    }
    static char req[1 << 16];
    int n = snprintf(req, sizeof req,
                     "POST http://%s%s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n%s\r\n",
                     predictor_host, path, predictor_host, body_len, header);
    if (n < 0 || (size_t)n + body_len >= sizeof req) return close(fd), 400;
    memcpy(req + n, body, body_len);
    send_all(fd, req, (size_t)n + body_len);
    static char resp[1 << 16];
    size_t have = 0;
    ssize_t got;
    while (have + 1 < sizeof resp && (got = read(fd, resp + have, sizeof resp - 1 - have)) > 0) have += (size_t)got;
    close(fd);
    resp[have] = 0;
    int status = 502;
    sscanf(resp, "HTTP/1.%*d %d", &status);
    char *start = strstr(resp, "\r\n\r\n");
    if (!start) return snprintf(out, cap, "{\"error\": \"no response from the proxy\"}"), 502;
    *start = 0;
    start += 4;
    size_t used = 0;
    if (strcasestr(resp, "transfer-encoding: chunked")) {
        char *end;
        size_t size;
        while ((size = strtoul(start, &end, 16)) > 0 && (end = strstr(end, "\r\n"))) {
            end += 2;
            if (used + size >= cap || end + size > resp + have) break;
            memcpy(out + used, end, size);
            used += size;
            start = end + size + 2;
        }
        out[used] = 0;
    } else {
        snprintf(out, cap, "%s", start);
    }
    return status;
}

static int read_file(const char *path, char *out, size_t cap) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) return -1;
    ssize_t n = read(fd, out, cap - 1);
    close(fd);
    out[n > 0 ? n : 0] = 0;
    return 0;
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
        size_t plen = strlen(path);
        if (!strcmp(method, "GET") && !strcmp(path, "/v1/models/m"))
            rc = reply(fd, 200, "{\"name\": \"m\", \"ready\": true}");
        else if (predictor_host && !strcmp(method, "POST") && !strncmp(path, "/v1/models/", 11) && plen > 8 &&
                 !strcmp(path + plen - 8, ":predict")) {
            int status = forward(path, buf + head_len, body_len, out, sizeof out);
            printf("forwarded %s to %s: %d\n", path, predictor_host, status);
            rc = reply(fd, status, out);
        } else if (config_file && !strcmp(method, "GET") && !strcmp(path, "/config"))
            rc = read_file(config_file, out, sizeof out) == 0 ? reply(fd, 200, out)
                                                              : reply(fd, 404, "{\"error\": \"no config file\"}");
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
        if (!strcmp(argv[i], "--predictor_host")) predictor_host = argv[i + 1];
        if (!strcmp(argv[i], "--config-file")) config_file = argv[i + 1];
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
