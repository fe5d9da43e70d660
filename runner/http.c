/* runner/http.c — the only file that includes curl/curl.h: global libcurl
 * set-up now; the HTTP transfer engine of the remote backend lands here. */
#include "runner/commands.h"

#include <curl/curl.h>

void cb_http_global_init(void) {
    static int done;
    if (!done) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        done = 1;
    }
}
