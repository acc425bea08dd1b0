/* main() for fuzz targets built without libFuzzer: feeds every file named on the command line,
 * or found (recursively) in a directory named there, to LLVMFuzzerTestOneInput once, so that
 * `make test` replays the corpora under the plain and sanitizer builds. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path, unsigned long *replayed)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "replay: cannot open %s\n", path);
        return -1;
    }
    size_t cap = 4096, len = 0;
    uint8_t *data = malloc(cap);
    int rc = 0;
    while (data != NULL) {
        len += fread(data + len, 1, cap - len, f);
        if (len < cap)
            break;
        uint8_t *grown = realloc(data, cap * 2);
        if (grown == NULL) {
            free(data);
            data = NULL;
            break;
        }
        data = grown;
        cap *= 2;
    }
    if (data == NULL || ferror(f)) {
        fprintf(stderr, "replay: cannot read %s\n", path);
        rc = -1;
    } else {
        /* An exact-size copy, so ASan catches reads one byte past the input. */
        uint8_t *exact = malloc(len ? len : 1);
        if (exact == NULL) {
            rc = -1;
        } else {
            memcpy(exact, data, len);
            LLVMFuzzerTestOneInput(exact, len);
            free(exact);
            (*replayed)++;
        }
    }
    free(data);
    fclose(f);
    return rc;
}

static int replay_path(const char *path, unsigned long *replayed)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "replay: no such file or directory: %s\n", path);
        return -1;
    }
    if (!S_ISDIR(st.st_mode))
        return replay_file(path, replayed);
    DIR *dir = opendir(path);
    if (dir == NULL) {
        fprintf(stderr, "replay: cannot open directory %s\n", path);
        return -1;
    }
    int rc = 0;
    struct dirent *entry;
    while ((entry = readdir(dir)) != NULL) {
        if (entry->d_name[0] == '.')
            continue;
        size_t n = strlen(path) + strlen(entry->d_name) + 2;
        char *child = malloc(n);
        if (child == NULL) {
            rc = -1;
            break;
        }
        snprintf(child, n, "%s/%s", path, entry->d_name);
        if (replay_path(child, replayed) != 0)
            rc = -1;
        free(child);
    }
    closedir(dir);
    return rc;
}

int main(int argc, char **argv)
{
    unsigned long replayed = 0;
    int rc = 0;
    for (int i = 1; i < argc; i++) {
        if (replay_path(argv[i], &replayed) != 0)
            rc = 1;
    }
    printf("replayed %lu inputs\n", replayed);
    return rc;
}
