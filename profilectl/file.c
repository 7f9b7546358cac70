/* Bounded reading of whole text files. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "profilectl.h"

static char *read_stream(FILE *f, const char *path, size_t limit, char *err, size_t errlen)
{
    struct stat st;
    char *text;
    size_t len;

    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s is not a regular file", path);
        return NULL;
    }
    if ((unsigned long long)st.st_size > limit) {
        snprintf(err, errlen, "%s is larger than %zu bytes", path, limit);
        return NULL;
    }
    len = (size_t)st.st_size;
    if (!(text = malloc(len + 1))) {
        snprintf(err, errlen, "out of memory reading %s", path);
        return NULL;
    }
    if (fread(text, 1, len, f) != len || fgetc(f) != EOF) {
        snprintf(err, errlen, "%s could not be read completely (changed while reading?)", path);
        free(text);
        return NULL;
    }
    text[len] = '\0';
    if (strlen(text) != len) {
        snprintf(err, errlen, "%s contains a NUL byte: not a text file", path);
        free(text);
        return NULL;
    }
    return text;
}

char *profile_ctl_read_file(const char *path, size_t limit, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    char *text;

    if (!f) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    text = read_stream(f, path, limit, err, errlen);
    fclose(f);
    return text;
}
