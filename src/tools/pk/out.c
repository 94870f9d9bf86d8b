/* out.c: exit codes, error reports, and the text/JSON renderings shared by every command. */
#include <inttypes.h>
#include <string.h>
#include <time.h>

#include "pk.h"

/* Map a ZooKeeper return code to the pk exit code for its class. */
int pk_exit_for_zrc(int rc) {
    PK_ASSERT(rc <= 0);
    switch (rc) {
    case ZOK: return PK_EXIT_OK;
    case ZNONODE: return PK_EXIT_NONODE;
    case ZNODEEXISTS: return PK_EXIT_EXISTS;
    case ZBADVERSION: return PK_EXIT_BADVERSION;
    case ZNOTEMPTY: return PK_EXIT_NOTEMPTY;
    case ZNOAUTH: case ZAUTHFAILED: return PK_EXIT_AUTH;
    case ZCONNECTIONLOSS: case ZOPERATIONTIMEOUT: case ZCLOSING: case ZINVALIDSTATE: return PK_EXIT_CONN;
    case ZSESSIONEXPIRED: case ZSESSIONMOVED: return PK_EXIT_EXPIRED;
    case ZINVALIDACL: case ZBADARGUMENTS: case ZUNIMPLEMENTED: case ZNOCHILDRENFOREPHEMERALS:
        return PK_EXIT_ARGS;
    default: return PK_EXIT_ZK;
    }
}

/* Java's KeeperException.Code name for a return code (used in JSON errors). */
const char *pk_zrc_name(int rc) {
    PK_ASSERT(rc <= 0);
    switch (rc) {
    case ZOK: return "OK";
    case ZNONODE: return "NoNode";
    case ZNODEEXISTS: return "NodeExists";
    case ZBADVERSION: return "BadVersion";
    case ZNOTEMPTY: return "NotEmpty";
    case ZNOAUTH: return "NoAuth";
    case ZAUTHFAILED: return "AuthFailed";
    case ZCONNECTIONLOSS: return "ConnectionLoss";
    case ZOPERATIONTIMEOUT: return "OperationTimeout";
    case ZSESSIONEXPIRED: return "SessionExpired";
    case ZSESSIONMOVED: return "SessionMoved";
    case ZINVALIDACL: return "InvalidACL";
    case ZBADARGUMENTS: return "BadArguments";
    case ZUNIMPLEMENTED: return "Unimplemented";
    case ZNOCHILDRENFOREPHEMERALS: return "NoChildrenForEphemerals";
    case ZNOWATCHER: return "NoWatcher";
    case ZINVALIDSTATE: return "InvalidState";
    case ZCLOSING: return "Closing";
    default: return "SystemError";
    }
}

/* Print a ZooKeeper error for path the way zkCli does (or as JSON) and return its exit code. */
int pk_report_zerr(pk_out *o, int rc, const char *path) {
    PK_ASSERT(o != NULL);
    PK_ASSERT(rc != ZOK);
    char msg[PK_PATH_MAX + 128];
    const char *p = path ? path : "";
    switch (rc) {
    case ZNONODE: snprintf(msg, sizeof msg, "Node does not exist: %s", p); break;
    case ZNODEEXISTS: snprintf(msg, sizeof msg, "Node already exists: %s", p); break;
    case ZBADVERSION: snprintf(msg, sizeof msg, "version No is not valid : %s", p); break;
    case ZNOTEMPTY: snprintf(msg, sizeof msg, "Node not empty: %s", p); break;
    case ZNOAUTH: snprintf(msg, sizeof msg, "Insufficient permission : %s", p); break;
    case ZINVALIDACL: snprintf(msg, sizeof msg, "Acl is not valid : %s", p); break;
    default: snprintf(msg, sizeof msg, "KeeperErrorCode = %s for %s", pk_zrc_name(rc), p); break;
    }
    if (o->json) {
        fprintf(o->err, "{\"error\":\"%s\",\"code\":%d,\"path\":", pk_zrc_name(rc), rc);
        pk_json_str(o->err, p, strlen(p));
        fprintf(o->err, ",\"message\":");
        pk_json_str(o->err, msg, strlen(msg));
        fprintf(o->err, "}\n");
    } else {
        fprintf(o->err, "%s\n", msg);
    }
    fflush(o->err);
    return pk_exit_for_zrc(rc);
}

/* Print a usage line and return PK_EXIT_USAGE. */
int pk_report_usage(pk_out *o, const char *usage) {
    PK_ASSERT(o != NULL);
    PK_ASSERT(usage != NULL);
    if (o->json) {
        fprintf(o->err, "{\"error\":\"Usage\",\"code\":0,\"message\":");
        pk_json_str(o->err, usage, strlen(usage));
        fprintf(o->err, "}\n");
    } else {
        fprintf(o->err, "%s\n", usage);
    }
    return PK_EXIT_USAGE;
}

/* Write bytes as a JSON string; control bytes and non-ASCII bytes that are not UTF-8 are escaped. */
void pk_json_str(FILE *f, const char *s, size_t n) {
    PK_ASSERT(f != NULL);
    PK_ASSERT(s != NULL || n == 0);
    fputc('"', f);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\') {
            fputc('\\', f);
            fputc(ch, f);
        } else if (ch == '\n') {
            fputs("\\n", f);
        } else if (ch == '\t') {
            fputs("\\t", f);
        } else if (ch == '\r') {
            fputs("\\r", f);
        } else if (ch < 0x20 || ch == 0x7f) {
            fprintf(f, "\\u%04x", ch);
        } else if (ch >= 0x80) {
            /* Pass valid 2..4 byte UTF-8 sequences through; escape stray bytes as latin-1. */
            int len = ch >= 0xf0 ? 4 : ch >= 0xe0 ? 3 : ch >= 0xc0 ? 2 : 0;
            bool ok = len > 0 && i + (size_t)len <= n;
            for (int k = 1; ok && k < len; k++) ok = ((unsigned char)s[i + k] & 0xc0) == 0x80;
            if (ok) {
                fwrite(s + i, 1, (size_t)len, f);
                i += (size_t)len - 1;
            } else {
                fprintf(f, "\\u%04x", ch);
            }
        } else {
            fputc(ch, f);
        }
    }
    fputc('"', f);
}

/* Write a Stat as a JSON object. */
void pk_json_stat(FILE *f, const struct Stat *st) {
    PK_ASSERT(f != NULL);
    PK_ASSERT(st != NULL);
    fprintf(f,
            "{\"czxid\":%" PRId64 ",\"mzxid\":%" PRId64 ",\"ctime\":%" PRId64 ",\"mtime\":%" PRId64
            ",\"version\":%d,\"cversion\":%d,\"aversion\":%d,\"ephemeralOwner\":%" PRId64
            ",\"dataLength\":%d,\"numChildren\":%d,\"pzxid\":%" PRId64 "}",
            st->czxid, st->mzxid, st->ctime, st->mtime, st->version, st->cversion, st->aversion,
            st->ephemeralOwner, st->dataLength, st->numChildren, st->pzxid);
}

/* Format epoch milliseconds like java.util.Date.toString(). */
void pk_format_time(char *buf, size_t n, int64_t ms) {
    PK_ASSERT(buf != NULL);
    PK_ASSERT(n > 0);
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(buf, n, "%a %b %d %H:%M:%S %Z %Y", &tm);
}

/* Write a Stat in zkCli's text layout. */
void pk_text_stat(FILE *f, const struct Stat *st) {
    PK_ASSERT(f != NULL);
    PK_ASSERT(st != NULL);
    char ct[64], mt[64];
    pk_format_time(ct, sizeof ct, st->ctime);
    pk_format_time(mt, sizeof mt, st->mtime);
    fprintf(f,
            "cZxid = 0x%" PRIx64 "\nctime = %s\nmZxid = 0x%" PRIx64 "\nmtime = %s\npZxid = 0x%" PRIx64
            "\ncversion = %d\ndataVersion = %d\naclVersion = %d\nephemeralOwner = 0x%" PRIx64
            "\ndataLength = %d\nnumChildren = %d\n",
            (uint64_t)st->czxid, ct, (uint64_t)st->mzxid, mt, (uint64_t)st->pzxid, st->cversion,
            st->version, st->aversion, (uint64_t)st->ephemeralOwner, st->dataLength, st->numChildren);
}
