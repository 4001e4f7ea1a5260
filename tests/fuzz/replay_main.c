/* SPDX-License-Identifier: Apache-2.0 */
/* Replays every file of a corpus directory through LLVMFuzzerTestOneInput, so
 * that ordinary (sanitizer) builds run the fuzz targets' seeds under ctest. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REPLAY_MAX_FILE (1u << 20)

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
    return 2;
  }
  DIR *d = opendir(argv[1]);
  if (!d) {
    perror(argv[1]);
    return 1;
  }
  unsigned count = 0;
  struct dirent *de;
  static uint8_t buf[REPLAY_MAX_FILE];
  while ((de = readdir(d))) {
    if (de->d_name[0] == '.') continue;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", argv[1], de->d_name);
    FILE *f = fopen(path, "rb");
    if (!f) continue;
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    LLVMFuzzerTestOneInput(buf, n);
    count++;
  }
  closedir(d);
  printf("replayed %u inputs from %s\n", count, argv[1]);
  return count ? 0 : 1;
}
