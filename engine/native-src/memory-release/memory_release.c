// Two ways of giving memory back to the kernel that Node does not offer
// (engine/src/memory/memory-release.ts says when the engine calls them):
//   trimHeap():                    glibc's malloc_trim(0), which hands every free page of every
//                                  malloc arena back. glibc returns only the top of a heap by itself;
//                                  the main thread's heap, fragmented by gRPC's short-lived buffers,
//                                  otherwise keeps tens of MiB resident that nothing uses.
//   dropFilePages(fd, from, to):   posix_fadvise(POSIX_FADV_DONTNEED) over bytes [from, to) of an
//                                  open file (to = 0: its end). Files the engine writes once and
//                                  reads only at recovery (log segments, snapshots) would otherwise
//                                  fill a container's memory limit with page cache.
#define _GNU_SOURCE
#include <fcntl.h>
#include <malloc.h>
#include <node_api.h>

static napi_value TrimHeap(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value released;
  napi_get_boolean(env, malloc_trim(0) != 0, &released);
  return released;
}

/** Returns 0, or the errno posix_fadvise gave; a bad argument throws a TypeError. */
static napi_value DropFilePages(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int64_t fd = -1, from = 0, to = 0;
  if (argc != 3 || napi_get_value_int64(env, argv[0], &fd) != napi_ok || napi_get_value_int64(env, argv[1], &from) != napi_ok ||
      napi_get_value_int64(env, argv[2], &to) != napi_ok || fd < 0 || from < 0 || (to != 0 && to < from)) {
    napi_throw_type_error(env, NULL, "dropFilePages(fd, from, to): a file descriptor and a byte range (to = 0: to the end)");
    return NULL;
  }
  int rc = posix_fadvise((int)fd, (off_t)from, to == 0 ? 0 : (off_t)(to - from), POSIX_FADV_DONTNEED);
  napi_value result;
  napi_create_int32(env, rc, &result);
  return result;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "trimHeap", NAPI_AUTO_LENGTH, TrimHeap, NULL, &fn);
  napi_set_named_property(env, exports, "trimHeap", fn);
  napi_create_function(env, "dropFilePages", NAPI_AUTO_LENGTH, DropFilePages, NULL, &fn);
  napi_set_named_property(env, exports, "dropFilePages", fn);
  return exports;
}
