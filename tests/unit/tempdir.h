/* Temporary data directories for the unit tests that open a real LMDB store: made under /tmp
 * with mkdtemp, removed with everything in them. Header-only, like check.h. */
#ifndef JIALING_TEMPDIR_H
#define JIALING_TEMPDIR_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Creates /tmp/jialing-test-<name>-XXXXXX; the caller passes the result to remove_dir(). */
static char *make_temp_dir_named(const char *name)
{
    char pattern[128];
    snprintf(pattern, sizeof pattern, "/tmp/jialing-test-%s-XXXXXX", name);
    char *path = strdup(pattern);
    if (path == NULL || mkdtemp(path) == NULL) {
        perror("mkdtemp");
        abort();
    }
    return path;
}

/* Removes the directory and everything in it, and frees path. */
static void remove_dir(char *path)
{
    char command[512];
    snprintf(command, sizeof command, "rm -rf '%s'", path);
    if (system(command) != 0)
        fprintf(stderr, "could not remove %s\n", path);
    free(path);
}

#endif
