/* Online backups: a compacted, consistent copy of the store's LMDB environment into a new or
 * empty directory, taken while writes go on. The copy is one LMDB read transaction, so it holds
 * exactly one commit: chunks, catalog, postings and the write log that carries that commit's
 * unsealed tails, which recovery replays when the copy is opened as a store.
 *
 * Caveat: the map cannot grow while a copy runs (LMDB forbids resizing with a transaction
 * open); a writer that needs to grow waits for the copy to end, like it waits for snapshots. */
#include "store_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Returns JL_OK when path is an empty directory (setting *created 0) or did not exist and was
 * created (*created 1); refuses anything else so a backup never overwrites a store. */
static int prepare_directory(const char *path, int *created, jl_error *err)
{
    *created = 0;
    if (mkdir(path, 0755) == 0) {
        *created = 1;
        return JL_OK;
    }
    if (errno != EEXIST)
        return jl_error_set(err, errno == ENOSPC ? JL_EDISKFULL : JL_EIO,
                            "cannot create backup directory %s: %s", path, strerror(errno));
    DIR *dir = opendir(path);
    if (dir == NULL)
        return jl_error_set(err, JL_EINVAL, "backup destination %s is not a usable directory: %s",
                            path, strerror(errno));
    int empty = 1;
    struct dirent *entry;
    while (empty && (entry = readdir(dir)) != NULL)
        empty = strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0;
    closedir(dir);
    if (!empty)
        return jl_error_set(err, JL_EINVAL,
                            "backup destination %s is not empty; give a new or empty directory",
                            path);
    return JL_OK;
}

/* mdb_env_copy2 does not fsync what it wrote: flush the file and the directory entry so a
 * backup that was reported complete survives a crash. */
static int sync_path(const char *path, int flags, jl_error *err)
{
    int fd = open(path, flags | O_CLOEXEC);
    if (fd < 0)
        return jl_error_set(err, JL_EIO, "cannot open %s to sync it: %s", path, strerror(errno));
    int rc = JL_OK;
    if (fsync(fd) != 0)
        rc = jl_error_set(err, errno == ENOSPC ? JL_EDISKFULL : JL_EIO, "cannot sync %s: %s", path,
                          strerror(errno));
    close(fd);
    return rc;
}

int st_store_backup(st_store *store, const char *out_directory, jl_error *err)
{
    if (store == NULL || out_directory == NULL || out_directory[0] == '\0')
        return jl_error_set(err, JL_EINVAL, "no backup directory given");
    char data_path[4096];
    int n = snprintf(data_path, sizeof data_path, "%s/data.mdb", out_directory);
    if (n < 0 || (size_t)n >= sizeof data_path)
        return jl_error_set(err, JL_EINVAL, "backup directory path is too long");
    int created = 0;
    int rc = prepare_directory(out_directory, &created, err);
    if (rc != JL_OK)
        return rc;

    pthread_rwlock_rdlock(&store->map_lock);
    int mrc = mdb_env_copy2(store->env, out_directory, MDB_CP_COMPACT);
    pthread_rwlock_unlock(&store->map_lock);
    if (mrc != 0) {
        rc = store_lmdb_error(err, mrc, "copying the store");
        goto out;
    }
    rc = sync_path(data_path, O_RDONLY, err);
    if (rc == JL_OK)
        rc = sync_path(out_directory, O_RDONLY | O_DIRECTORY, err);
out:
    if (rc != JL_OK && mrc != EEXIST) {
        /* Leave no half copy that could later be mistaken for a backup (EEXIST: the file is
         * someone else's, created after the emptiness check). */
        unlink(data_path);
        if (created)
            rmdir(out_directory);
    }
    return rc;
}
