/* Tests server/auth.c's token file: the roles read, write and review, the optional name column
 * (and the "token-N" name of a line without one, N the line number), old two-column files, the
 * refusals naming the line, and that a reload replaces names with the tokens. */
#include "check.h"

#include "jialing/auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Writes text into a new temporary file; returns its path (static buffer of the caller). */
static void write_file(char *path, const char *text)
{
    strcpy(path, "/tmp/jialing-test-auth-XXXXXX");
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    size_t len = strlen(text);
    CHECK_INT(write(fd, text, len), (long)len);
    close(fd);
}

static void rewrite_file(const char *path, const char *text)
{
    FILE *file = fopen(path, "w");
    CHECK(file != NULL);
    fputs(text, file);
    fclose(file);
}

static void test_roles_and_names(void)
{
    char path[64];
    write_file(path, "# reviewers and writers\n"
                     "w-token write\n"
                     "\n"
                     "r-token read reader-1\n"
                     "v-token review 张工\n"
                     "v2-token\treview\tzhang \n");
    au_tokens *tokens = NULL;
    jl_error err;
    CHECK_INT(au_tokens_load(path, &tokens, &err), JL_OK);
    char name[AU_MAX_NAME_BYTES + 1];
    CHECK_INT(au_tokens_identify(tokens, "Bearer w-token", name), AU_ROLE_WRITE);
    CHECK_STR(name, "token-2"); /* no name: line 2 of the file */
    CHECK_INT(au_tokens_identify(tokens, "Token r-token", name), AU_ROLE_READ);
    CHECK_STR(name, "reader-1");
    CHECK_INT(au_tokens_identify(tokens, "Bearer v-token", name), AU_ROLE_REVIEW);
    CHECK_STR(name, "\xe5\xbc\xa0\xe5\xb7\xa5");
    CHECK_INT(au_tokens_identify(tokens, "Bearer v2-token", name), AU_ROLE_REVIEW);
    CHECK_STR(name, "zhang");
    CHECK_INT(au_tokens_check(tokens, "Bearer v-token"), AU_ROLE_REVIEW);

    /* Unknown tokens and absent headers: no role, no name. */
    strcpy(name, "stale");
    CHECK_INT(au_tokens_identify(tokens, "Bearer nope", name), AU_ROLE_NONE);
    CHECK_STR(name, "");
    strcpy(name, "stale");
    CHECK_INT(au_tokens_identify(tokens, NULL, name), AU_ROLE_NONE);
    CHECK_STR(name, "");
    strcpy(name, "stale");
    CHECK_INT(au_tokens_identify(NULL, "Bearer w-token", name), AU_ROLE_NONE);
    CHECK_STR(name, "");

    /* A reload brings the new names (and drops the old tokens). */
    rewrite_file(path, "v-token review li\nw-token write writer\n");
    CHECK_INT(au_tokens_reload(tokens, &err), JL_OK);
    CHECK_INT(au_tokens_identify(tokens, "Bearer v-token", name), AU_ROLE_REVIEW);
    CHECK_STR(name, "li");
    CHECK_INT(au_tokens_identify(tokens, "Bearer w-token", name), AU_ROLE_WRITE);
    CHECK_STR(name, "writer");
    CHECK_INT(au_tokens_identify(tokens, "Bearer r-token", name), AU_ROLE_NONE);
    au_tokens_free(tokens);
    unlink(path);
}

static void refused(const char *text, const char *message_after_path)
{
    char path[64];
    write_file(path, text);
    au_tokens *tokens = (au_tokens *)1;
    jl_error err;
    jl_error_clear(&err);
    CHECK_INT(au_tokens_load(path, &tokens, &err), JL_EINVAL);
    CHECK(tokens == NULL);
    char expected[512];
    snprintf(expected, sizeof expected, "token file %s, %s", path, message_after_path);
    CHECK_STR(err.message, expected);
    unlink(path);
}

static void test_refusals(void)
{
    const char *shape = "expected `TOKEN ROLE [NAME]`, ROLE one of write, read and review";
    char message[256];
    snprintf(message, sizeof message, "line 1: %s", shape);
    refused("lonely\n", message);
    refused("t admin\n", message);
    refused("t Review\n", message);
    snprintf(message, sizeof message, "line 3: %s", shape);
    refused("a read\n# ok so far\nb review name extra\n", message);
    char text[400];
    char long_name[AU_MAX_NAME_BYTES + 2];
    memset(long_name, 'n', AU_MAX_NAME_BYTES + 1);
    long_name[AU_MAX_NAME_BYTES + 1] = '\0';
    snprintf(text, sizeof text, "t review %s\n", long_name);
    refused(text, "line 1: the name is longer than 255 bytes");

    /* A name of exactly 255 bytes is taken whole. */
    long_name[AU_MAX_NAME_BYTES] = '\0';
    char path[64];
    snprintf(text, sizeof text, "t review %s\n", long_name);
    write_file(path, text);
    au_tokens *tokens = NULL;
    jl_error err;
    CHECK_INT(au_tokens_load(path, &tokens, &err), JL_OK);
    char name[AU_MAX_NAME_BYTES + 1];
    CHECK_INT(au_tokens_identify(tokens, "Bearer t", name), AU_ROLE_REVIEW);
    CHECK_INT(strlen(name), 255);
    CHECK(strspn(name, "n") == 255);
    au_tokens_free(tokens);
    unlink(path);
}

int main(void)
{
    RUN(test_roles_and_names);
    RUN(test_refusals);
    return CHECK_DONE();
}
