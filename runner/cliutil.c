/* runner/cliutil.c — see cliutil.h. */
#include "runner/cliutil.h"

#include <cjson/cJSON.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int cb_cli_parse_run_id(const char *s, int64_t *out, cb_err *err) {
    char *end = NULL;
    errno = 0;
    long long v = s ? strtoll(s, &end, 10) : 0;
    if (!s || !*s || errno || *end || v <= 0)
        return cb_err_set(err, CB_EUSAGE, "bad run id '%s' (expected a positive integer)", s ? s : "");
    *out = v;
    return 0;
}

int cb_cli_db_writable(const char *path) {
    if (access(path, F_OK) != 0) return 1;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == dir)
        dir[1] = 0;
    else if (slash)
        *slash = 0;
    else
        snprintf(dir, sizeof dir, ".");
    return access(path, W_OK) == 0 && access(dir, W_OK) == 0;
}

int cb_cli_label_add(char **json, const char *kv, cb_err *err) {
    const char *eq = kv ? strchr(kv, '=') : NULL;
    if (!eq || eq == kv)
        return cb_err_set(err, CB_EUSAGE, "--label: expected KEY=VALUE (e.g. step=1000), got \"%s\"", kv ? kv : "");
    cJSON *o = cJSON_Parse(*json ? *json : "{}");
    char *key = strndup(kv, (size_t)(eq - kv));
    int rc = 0;
    if (!o || !key || !cJSON_IsObject(o)) {
        rc = cb_err_set(err, CB_ENOMEM, "out of memory");
        goto out;
    }
    cJSON_DeleteItemFromObjectCaseSensitive(o, key);
    char *txt = cJSON_AddStringToObject(o, key, eq + 1) ? cJSON_PrintUnformatted(o) : NULL;
    if (!txt) {
        rc = cb_err_set(err, CB_ENOMEM, "out of memory");
        goto out;
    }
    free(*json);
    *json = txt;
out:
    free(key);
    cJSON_Delete(o);
    return rc;
}
