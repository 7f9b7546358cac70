/* Finds ProfileDatabase in an httpd configuration file, parsed like httpd's own reader
 * (ap_cfg_getline for lines, ap_getword_conf for the argument). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "profilectl.h"

#define DIRECTIVE     "ProfileDatabase"
#define DIRECTIVE_LEN (sizeof(DIRECTIVE) - 1)

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

/* Copies the next physical lines into line up to the first that does not end in "\",
 * dropping those backslashes; returns the text after them. line holds strlen(text) + 1. */
static const char *logical_line(const char *text, char *line, unsigned *line_no)
{
    size_t len = 0;
    for (;;) {
        const char *eol = strchr(text, '\n');
        size_t n = eol ? (size_t)(eol - text) : strlen(text);
        memcpy(line + len, text, n);
        len += n;
        text += n + (eol ? 1 : 0);
        (*line_no)++;
        while (len > 0 && is_space(line[len - 1]))
            len--;
        if (len > 0 && line[len - 1] == '\\' && *text) {
            len--;
            continue;
        }
        line[len] = '\0';
        return text;
    }
}

/* One argument as ap_getword_conf reads it: quoted with " or ' (a backslash escapes the quote
 * or a backslash) or up to the next white space. Decoded into word, which holds strlen(s) + 1;
 * returns the rest of s. */
static const char *conf_word(const char *s, char *word)
{
    char quote = (*s == '"' || *s == '\'') ? *s : 0;
    const char *in = quote ? s + 1 : s;

    while (*in && (quote ? *in != quote : !is_space(*in))) {
        if (*in == '\\' && (in[1] == '\\' || (quote && in[1] == quote)))
            in++;
        *word++ = *in++;
    }
    *word = '\0';
    return quote && *in == quote ? in + 1 : in;
}

/* 1 and *value for a ProfileDatabase line, 0 for any other line, -1 on a bad one. */
static int conf_match(const char *line, unsigned line_no, char **value, char *err, size_t errlen)
{
    const char *s = line, *rest;
    char *word;

    while (is_space(*s))
        s++;
    if (strncasecmp(s, DIRECTIVE, DIRECTIVE_LEN) != 0
        || (s[DIRECTIVE_LEN] && !is_space(s[DIRECTIVE_LEN])))
        return 0;
    s += DIRECTIVE_LEN;
    while (is_space(*s))
        s++;
    if (!(word = malloc(strlen(s) + 1))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    rest = conf_word(s, word);
    while (is_space(*rest))
        rest++;
    if (!*word)
        snprintf(err, errlen, "line %u: " DIRECTIVE " needs a connection string", line_no);
    else if (*rest)
        snprintf(err, errlen, "line %u: " DIRECTIVE " takes one argument (quote the "
                 "connection string)", line_no);
    else if (strstr(word, "${"))
        snprintf(err, errlen, "line %u: " DIRECTIVE " uses a ${...} variable, which profilectl "
                 "cannot expand; pass --database instead", line_no);
    else {
        *value = word;
        return 1;
    }
    free(word);
    return -1;
}

int profile_ctl_conf_find_database(const char *text, char **value, char *err, size_t errlen)
{
    char *line = malloc(strlen(text) + 1);
    unsigned line_no = 0, first;
    int rc = 0;

    *value = NULL;
    if (!line) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    while (rc == 0 && *text) {
        first = line_no + 1;
        text = logical_line(text, line, &line_no);
        rc = conf_match(line, first, value, err, errlen);
    }
    free(line);
    return rc;
}

int profile_ctl_conf_database(const char *path, char **value, char *err, size_t errlen)
{
    char *text = profile_ctl_read_file(path, PROFILE_CTL_FILE_MAX, err, errlen);
    char msg[512];
    int rc;

    *value = NULL;
    if (!text)
        return -1;
    rc = profile_ctl_conf_find_database(text, value, msg, sizeof(msg));
    if (rc < 0)
        snprintf(err, errlen, "%s: %s", path, msg);
    free(text);
    return rc;
}
