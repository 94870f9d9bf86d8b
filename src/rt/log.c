/* rt/log: implementation of the leveled stderr logger. */
#include "rt/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static enum rt_log_level log_threshold = RT_LOG_INFO;

/* Sets the process-wide threshold. */
void rt_log_set_level(enum rt_log_level level) { log_threshold = level; }

/* Formats a line with a UTC timestamp and writes it with a single write(2). */
void rt_log(enum rt_log_level level, const char *fmt, ...) {
    static const char *names[] = {"DEBUG", "INFO ", "WARN ", "ERROR"};
    if (level < log_threshold) return;
    char line[2048];
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    int n = snprintf(line, sizeof line, "%04d-%02d-%02d %02d:%02d:%02d.%03d %s ", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(tv.tv_usec / 1000), names[level & 3]);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof line - 2) len = sizeof line - 2;
    line[len++] = '\n';
    ssize_t w = write(2, line, len);
    (void)w;
}
