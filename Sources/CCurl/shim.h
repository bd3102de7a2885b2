#ifndef OPSCTL_CCURL_SHIM_H
#define OPSCTL_CCURL_SHIM_H
#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

// curl_easy_setopt and curl_easy_getinfo are variadic: typed wrappers, one per argument kind.
static inline CURLcode opsctl_curl_setopt_long(CURL *handle, CURLoption option, long value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode opsctl_curl_setopt_pointer(CURL *handle, CURLoption option, void *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode opsctl_curl_setopt_string(CURL *handle, CURLoption option, const char *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode opsctl_curl_setopt_off_t(CURL *handle, CURLoption option, curl_off_t value) {
    return curl_easy_setopt(handle, option, value);
}

typedef size_t (*opsctl_curl_write_callback)(char *data, size_t size, size_t count, void *userdata);

static inline CURLcode opsctl_curl_setopt_write_function(CURL *handle, CURLoption option, opsctl_curl_write_callback callback) {
    return curl_easy_setopt(handle, option, callback);
}

// Uploads stream from a file: the read callback has the write callback's shape; the seek
// callback lets libcurl rewind a body it must send again.
typedef size_t (*opsctl_curl_read_callback)(char *buffer, size_t size, size_t count, void *userdata);

static inline CURLcode opsctl_curl_setopt_read_function(CURL *handle, opsctl_curl_read_callback callback) {
    return curl_easy_setopt(handle, CURLOPT_READFUNCTION, callback);
}

typedef int (*opsctl_curl_seek_callback)(void *userdata, curl_off_t offset, int origin);

static inline CURLcode opsctl_curl_setopt_seek_function(CURL *handle, opsctl_curl_seek_callback callback) {
    return curl_easy_setopt(handle, CURLOPT_SEEKFUNCTION, callback);
}

// CURL_READFUNC_ABORT is a macro of a size_t constant Swift does not import.
static inline size_t opsctl_curl_read_abort(void) { return CURL_READFUNC_ABORT; }

static inline CURLcode opsctl_curl_getinfo_long(CURL *handle, CURLINFO info, long *value) {
    return curl_easy_getinfo(handle, info, value);
}

static inline CURLcode opsctl_curl_getinfo_off_t(CURL *handle, CURLINFO info, curl_off_t *value) {
    return curl_easy_getinfo(handle, info, value);
}

static inline CURLcode opsctl_curl_getinfo_string(CURL *handle, CURLINFO info, char **value) {
    return curl_easy_getinfo(handle, info, value);
}

static inline CURLMcode opsctl_curl_multi_setopt_long(CURLM *multi, CURLMoption option, long value) {
    return curl_multi_setopt(multi, option, value);
}
// The leaf certificate's "Expire date" from CURLINFO_CERTINFO (needs CURLOPT_CERTINFO = 1);
// 1 and the text in buffer when known. The struct walk is simpler in C than through Swift's imports.
static inline int opsctl_curl_leaf_expire_date(CURL *handle, char *buffer, size_t size) {
    struct curl_certinfo *info = NULL;
    if (curl_easy_getinfo(handle, CURLINFO_CERTINFO, &info) != CURLE_OK || info == NULL || info->num_of_certs < 1) return 0;
    for (struct curl_slist *item = info->certinfo[0]; item != NULL; item = item->next) {
        if (strncmp(item->data, "Expire date:", 12) == 0) {
            snprintf(buffer, size, "%s", item->data + 12);
            return 1;
        }
    }
    return 0;
}

// CURLVERSION_NOW is a macro naming the newest struct layout this header knows.
static inline const char *opsctl_curl_version_number(void) {
    return curl_version_info(CURLVERSION_NOW)->version;
}
#endif
