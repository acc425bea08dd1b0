/* Bearer tokens: a file of `token role` lines (role `write` or `read`; `write` may also read),
 * checked in constant time. Tokens are read at start and again on reload (SIGHUP). */
#ifndef JIALING_AUTH_H
#define JIALING_AUTH_H

#include "jialing/common.h"

typedef struct au_tokens au_tokens;

typedef enum au_role { AU_ROLE_NONE = 0, AU_ROLE_READ = 1, AU_ROLE_WRITE = 2 } au_role;

/* Reads the token file at path into a new set; JL_OK, or JL_EINVAL/JL_EIO naming the line. */
int au_tokens_load(const char *path, au_tokens **out, jl_error *err);

/* Re-reads the file the set was loaded from; on error the old tokens stay in force. */
int au_tokens_reload(au_tokens *tokens, jl_error *err);

/* Frees the set; NULL is ignored. */
void au_tokens_free(au_tokens *tokens);

/* Returns the role of the token carried by an Authorization header value ("Bearer T" or
 * "Token T"), AU_ROLE_NONE when absent or unknown. Thread-safe with reload. */
au_role au_tokens_check(au_tokens *tokens, const char *authorization);

#endif
