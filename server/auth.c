/* Token authentication: loading the token file, reloading it, and constant-time checks. */
#include "jialing/auth.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct token_entry {
    char *token;
    size_t len;
    au_role role;
    char *name; /* the file's third column, or "token-N" */
} token_entry;

struct au_tokens {
    char *path;
    pthread_rwlock_t lock; /* reload swaps entries under the write lock */
    token_entry *entries;
    size_t count;
};

static void free_entries(token_entry *entries, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        if (entries[i].token)
            memset(entries[i].token, 0, entries[i].len);
        free(entries[i].token);
        free(entries[i].name);
    }
    free(entries);
}

static int read_file(const char *path, token_entry **out, size_t *out_count, jl_error *err)
{
    *out = NULL;
    *out_count = 0;
    FILE *file = fopen(path, "r");
    if (file == NULL)
        return jl_error_set(err, JL_EIO, "cannot read token file %s: %s", path, strerror(errno));
    token_entry *entries = NULL;
    size_t count = 0, capacity = 0;
    char line[1024];
    long number = 0;
    int rc = JL_OK;
    while (fgets(line, sizeof line, file)) {
        number++;
        char *save = NULL;
        char *token = strtok_r(line, " \t\r\n", &save);
        if (token == NULL || token[0] == '#')
            continue;
        char *role_text = strtok_r(NULL, " \t\r\n", &save);
        au_role role = AU_ROLE_NONE;
        if (role_text && strcmp(role_text, "write") == 0)
            role = AU_ROLE_WRITE;
        else if (role_text && strcmp(role_text, "read") == 0)
            role = AU_ROLE_READ;
        else if (role_text && strcmp(role_text, "review") == 0)
            role = AU_ROLE_REVIEW;
        char *name = role == AU_ROLE_NONE ? NULL : strtok_r(NULL, " \t\r\n", &save);
        if (role == AU_ROLE_NONE || (name && strtok_r(NULL, " \t\r\n", &save) != NULL)) {
            rc = jl_error_set(err, JL_EINVAL,
                              "token file %s, line %ld: expected `TOKEN ROLE [NAME]`, ROLE one of "
                              "write, read and review",
                              path, number);
            break;
        }
        if (name && strlen(name) > AU_MAX_NAME_BYTES) {
            rc = jl_error_set(err, JL_EINVAL,
                              "token file %s, line %ld: the name is longer than %d bytes", path,
                              number, AU_MAX_NAME_BYTES);
            break;
        }
        if (count == capacity) {
            capacity = capacity ? capacity * 2 : 8;
            token_entry *grown = realloc(entries, capacity * sizeof *grown);
            if (grown == NULL) {
                rc = jl_error_set(err, JL_ENOMEM, "out of memory reading tokens");
                break;
            }
            entries = grown;
        }
        char fallback[32];
        snprintf(fallback, sizeof fallback, "token-%ld", number);
        entries[count].token = strdup(token);
        entries[count].len = strlen(token);
        entries[count].role = role;
        entries[count].name = strdup(name ? name : fallback);
        count++;
        if (entries[count - 1].token == NULL || entries[count - 1].name == NULL) {
            rc = jl_error_set(err, JL_ENOMEM, "out of memory reading tokens");
            break;
        }
    }
    fclose(file);
    if (rc != JL_OK) {
        free_entries(entries, count);
        return rc;
    }
    *out = entries;
    *out_count = count;
    return JL_OK;
}

int au_tokens_load(const char *path, au_tokens **out, jl_error *err)
{
    *out = NULL;
    au_tokens *tokens = calloc(1, sizeof *tokens);
    if (tokens == NULL || (tokens->path = strdup(path)) == NULL) {
        free(tokens);
        return jl_error_set(err, JL_ENOMEM, "out of memory reading tokens");
    }
    int rc = read_file(path, &tokens->entries, &tokens->count, err);
    if (rc != JL_OK) {
        free(tokens->path);
        free(tokens);
        return rc;
    }
    pthread_rwlock_init(&tokens->lock, NULL);
    *out = tokens;
    return JL_OK;
}

int au_tokens_reload(au_tokens *tokens, jl_error *err)
{
    token_entry *entries;
    size_t count;
    int rc = read_file(tokens->path, &entries, &count, err);
    if (rc != JL_OK)
        return rc;
    pthread_rwlock_wrlock(&tokens->lock);
    token_entry *old = tokens->entries;
    size_t old_count = tokens->count;
    tokens->entries = entries;
    tokens->count = count;
    pthread_rwlock_unlock(&tokens->lock);
    free_entries(old, old_count);
    return JL_OK;
}

void au_tokens_free(au_tokens *tokens)
{
    if (tokens == NULL)
        return;
    free_entries(tokens->entries, tokens->count);
    pthread_rwlock_destroy(&tokens->lock);
    free(tokens->path);
    free(tokens);
}

/* Compares without an early exit, so timing does not reveal how much of a token matched. */
static int equal_constant_time(const char *a, size_t a_len, const char *b, size_t b_len)
{
    unsigned char difference = (unsigned char)(a_len != b_len);
    for (size_t i = 0; i < a_len; i++)
        difference |= (unsigned char)(a[i] ^ b[i < b_len ? i : 0]);
    return difference == 0 && b_len > 0;
}

au_role au_tokens_identify(au_tokens *tokens, const char *authorization,
                           char name[AU_MAX_NAME_BYTES + 1])
{
    if (name)
        name[0] = '\0';
    if (tokens == NULL || authorization == NULL)
        return AU_ROLE_NONE;
    const char *token = NULL;
    if (strncasecmp(authorization, "Bearer ", 7) == 0)
        token = authorization + 7;
    else if (strncasecmp(authorization, "Token ", 6) == 0)
        token = authorization + 6;
    if (token == NULL)
        return AU_ROLE_NONE;
    while (*token == ' ')
        token++;
    size_t len = strlen(token);
    au_role role = AU_ROLE_NONE;
    pthread_rwlock_rdlock(&tokens->lock);
    for (size_t i = 0; i < tokens->count; i++)
        if (equal_constant_time(token, len, tokens->entries[i].token, tokens->entries[i].len)) {
            role = tokens->entries[i].role;
            if (name)
                snprintf(name, AU_MAX_NAME_BYTES + 1, "%s", tokens->entries[i].name);
        }
    pthread_rwlock_unlock(&tokens->lock);
    return role;
}

au_role au_tokens_check(au_tokens *tokens, const char *authorization)
{
    return au_tokens_identify(tokens, authorization, NULL);
}
