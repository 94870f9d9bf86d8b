/* rt/log: timestamped, leveled log lines on stderr ("2026-11-24 22:30:01.123 INFO  message").
 * Thread-safe (one write(2) per line). The level threshold is process-wide. */
#ifndef PK_RT_LOG_H
#define PK_RT_LOG_H

enum rt_log_level { RT_LOG_DEBUG = 0, RT_LOG_INFO = 1, RT_LOG_WARN = 2, RT_LOG_ERROR = 3 };

/* Sets the lowest level that is printed. */
void rt_log_set_level(enum rt_log_level level);
/* Prints one log line at `level`. */
void rt_log(enum rt_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define LOG_DEBUG(...) rt_log(RT_LOG_DEBUG, __VA_ARGS__)
#define LOG_INFO(...) rt_log(RT_LOG_INFO, __VA_ARGS__)
#define LOG_WARN(...) rt_log(RT_LOG_WARN, __VA_ARGS__)
#define LOG_ERROR(...) rt_log(RT_LOG_ERROR, __VA_ARGS__)

#endif
