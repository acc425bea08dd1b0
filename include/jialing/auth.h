/* Bearer tokens: a file of `token role [name]` lines, checked in constant time. Roles: `read`;
 * `write` (reads too, and writes readings); `review` (reads too, and makes or withdraws review
 * marks, but writes no readings). The name is what review marks record as made_by/withdrawn_by;
 * without one a token is called "token-N", N its line number in the file, so files of the older
 * `token role` form keep working. Blank lines and lines starting with '#' are skipped. Tokens
 * are read at start and again on reload (SIGHUP). */
#ifndef JIALING_AUTH_H
#define JIALING_AUTH_H

#include "jialing/common.h"

typedef struct au_tokens au_tokens;

typedef enum au_role {
    AU_ROLE_NONE = 0,
    AU_ROLE_READ = 1,
    AU_ROLE_WRITE = 2,
    AU_ROLE_REVIEW = 3
} au_role;

/* Bytes a token's name may have (longer names are refused when the file is read). */
#define AU_MAX_NAME_BYTES 255

/* Reads the token file at path into a new set; JL_OK, or JL_EINVAL/JL_EIO naming the line. */
int au_tokens_load(const char *path, au_tokens **out, jl_error *err);

/* Re-reads the file the set was loaded from; on error the old tokens stay in force. */
int au_tokens_reload(au_tokens *tokens, jl_error *err);

/* Frees the set; NULL is ignored. */
void au_tokens_free(au_tokens *tokens);

/* Returns the role of the token carried by an Authorization header value ("Bearer T" or
 * "Token T"), AU_ROLE_NONE when absent or unknown. Thread-safe with reload. */
au_role au_tokens_check(au_tokens *tokens, const char *authorization);

/* As au_tokens_check(), and copies the token's name into name (AU_MAX_NAME_BYTES + 1 bytes,
 * NUL-terminated; "" when the role is AU_ROLE_NONE). Copied under the lock, so a reload that
 * frees the old names meanwhile cannot touch it. */
au_role au_tokens_identify(au_tokens *tokens, const char *authorization,
                           char name[AU_MAX_NAME_BYTES + 1]);

#endif
