/* Criterion unit tests for pk's pure helpers: line splitting, JSON strings, exit codes, error text,
 * path and sequence helpers, the raw client's bounds-checked decoders. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/pk/pk.h"

/* Render pk_json_str of (s, n) into a heap string. */
static char *json_of(const char *s, size_t n) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    pk_json_str(f, s, n);
    fclose(f);
    return buf;
}

Test(pk_cli, split_line_quotes_and_spaces) {
    char line[] = "  create /a 'hello world' \"x y\"  z\t";
    char *argv[8];
    int n = pk_split_line(line, argv, 8);
    cr_assert_eq(n, 5);
    cr_assert_str_eq(argv[0], "create");
    cr_assert_str_eq(argv[1], "/a");
    cr_assert_str_eq(argv[2], "hello world");
    cr_assert_str_eq(argv[3], "x y");
    cr_assert_str_eq(argv[4], "z");
}

Test(pk_cli, split_line_bounded_and_empty) {
    char line[] = "a b c d";
    char *argv[2];
    cr_assert_eq(pk_split_line(line, argv, 2), 2);
    char empty[] = "   ";
    cr_assert_eq(pk_split_line(empty, argv, 2), 0);
    char quoted_empty[] = "set /a ''";
    char *v3[4];
    cr_assert_eq(pk_split_line(quoted_empty, v3, 4), 3);
    cr_assert_str_eq(v3[2], "");
}

Test(pk_cli, json_escapes) {
    char *j = json_of("a\"b\\c\nd\x01", 8);
    cr_assert_str_eq(j, "\"a\\\"b\\\\c\\nd\\u0001\"");
    free(j);
    j = json_of("caf\xc3\xa9", 5); /* valid UTF-8 passes through */
    cr_assert_str_eq(j, "\"caf\xc3\xa9\"");
    free(j);
    j = json_of("\xff\xc3", 2); /* stray bytes are escaped, a truncated sequence too */
    cr_assert_str_eq(j, "\"\\u00ff\\u00c3\"");
    free(j);
    j = json_of("a\0b", 3); /* embedded NUL */
    cr_assert_str_eq(j, "\"a\\u0000b\"");
    free(j);
}

Test(pk_cli, exit_codes_distinct) {
    int codes[] = {pk_exit_for_zrc(ZNONODE), pk_exit_for_zrc(ZNODEEXISTS), pk_exit_for_zrc(ZBADVERSION),
                   pk_exit_for_zrc(ZNOTEMPTY), pk_exit_for_zrc(ZNOAUTH), pk_exit_for_zrc(ZCONNECTIONLOSS),
                   pk_exit_for_zrc(ZSESSIONEXPIRED), pk_exit_for_zrc(ZSYSTEMERROR), pk_exit_for_zrc(ZINVALIDACL)};
    size_t n = sizeof codes / sizeof codes[0];
    for (size_t i = 0; i < n; i++) {
        cr_assert_neq(codes[i], 0);
        cr_assert_neq(codes[i], PK_EXIT_USAGE);
        for (size_t k = i + 1; k < n; k++) cr_assert_neq(codes[i], codes[k], "%zu vs %zu", i, k);
    }
    cr_assert_eq(pk_exit_for_zrc(ZOK), 0);
    cr_assert_eq(pk_exit_for_zrc(ZAUTHFAILED), PK_EXIT_AUTH);
    cr_assert_eq(pk_exit_for_zrc(ZOPERATIONTIMEOUT), PK_EXIT_CONN);
}

Test(pk_cli, error_text_like_zkcli) {
    char *buf = NULL;
    size_t len = 0;
    pk_out o = {.json = false, .out = stdout};
    o.err = open_memstream(&buf, &len);
    cr_assert_eq(pk_report_zerr(&o, ZNONODE, "/a"), PK_EXIT_NONODE);
    cr_assert_eq(pk_report_zerr(&o, ZBADVERSION, "/a"), PK_EXIT_BADVERSION);
    cr_assert_eq(pk_report_zerr(&o, ZSYSTEMERROR, "/a"), PK_EXIT_ZK);
    fclose(o.err);
    cr_assert_str_eq(buf, "Node does not exist: /a\nversion No is not valid : /a\n"
                          "KeeperErrorCode = SystemError for /a\n");
    free(buf);
    buf = NULL;
    o.json = true;
    o.err = open_memstream(&buf, &len);
    pk_report_zerr(&o, ZNODEEXISTS, "/q\"");
    fclose(o.err);
    cr_assert_str_eq(buf, "{\"error\":\"NodeExists\",\"code\":-110,\"path\":\"/q\\\"\",\"message\":"
                          "\"Node already exists: /q\\\"\"}\n");
    free(buf);
}

Test(pk_cli, paths_and_sequences) {
    char *p = pk_path_join("/", "a");
    cr_assert_str_eq(p, "/a");
    free(p);
    p = pk_path_join("/a/b", "c");
    cr_assert_str_eq(p, "/a/b/c");
    free(p);
    cr_assert_eq(pk_seq_of("_c_abc-lock-0000000042"), 42);
    cr_assert_eq(pk_seq_of("q-0000000000"), 0);
    cr_assert_eq(pk_seq_of("short1"), -1);
    cr_assert_eq(pk_seq_of("lock-00000000x1"), -1);
    char *v[] = {"b", "c", "a"};
    pk_sort_strs(v, 3);
    cr_assert_str_eq(v[0], "a");
    cr_assert_str_eq(v[2], "c");
    pk_sort_strs(NULL, 0);
}

Test(pk_cli, raw_decoders_bounds) {
    uint8_t b[] = {0, 0, 0, 3, 'a', 'b', 'c', 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 9, 'x'};
    pk_slice s = {b, sizeof b};
    const uint8_t *p = NULL;
    int32_t n = 0;
    cr_assert_eq(pk_raw_get_buf(&s, &p, &n), PK_OK);
    cr_assert_eq(n, 3);
    cr_assert_eq(memcmp(p, "abc", 3), 0);
    cr_assert_eq(pk_raw_get_buf(&s, &p, &n), PK_OK); /* -1: null */
    cr_assert_eq(n, -1);
    cr_assert_null(p);
    cr_assert_eq(pk_raw_get_buf(&s, &p, &n), PK_EDECODE); /* claims 9 bytes, has 1 */
    int64_t v64;
    pk_slice short_s = {b, 7};
    cr_assert_eq(pk_raw_get_i64(&short_s, &v64), PK_EDECODE);
    struct Stat st;
    pk_slice st_s = {b, sizeof b};
    cr_assert_eq(pk_raw_get_stat(&st_s, &st), PK_EDECODE);
}

Test(pk_cli, raw_encoders) {
    pk_buf b;
    pk_buf_init(&b);
    pk_raw_put_str(&b, "/ab");
    pk_raw_put_i32(&b, -2);
    const uint8_t want[] = {0, 0, 0, 3, '/', 'a', 'b', 0xff, 0xff, 0xff, 0xfe};
    cr_assert_eq(b.len, sizeof want);
    cr_assert_eq(memcmp(b.data, want, sizeof want), 0);
    pk_buf_deinit(&b);
}
