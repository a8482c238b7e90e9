// trim(): glibc's malloc_trim(0), which hands every free page of every malloc arena back to the
// kernel. glibc returns only the top of a heap by itself; the main thread's heap, fragmented by
// gRPC's short-lived buffers, otherwise keeps tens of MiB resident that nothing uses
// (engine/src/memory/malloc-trim.ts says when the engine calls it).
#include <malloc.h>
#include <node_api.h>

static napi_value Trim(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value released;
  napi_get_boolean(env, malloc_trim(0) != 0, &released);
  return released;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "trim", NAPI_AUTO_LENGTH, Trim, NULL, &fn);
  napi_set_named_property(env, exports, "trim", fn);
  return exports;
}
