/*
 * The NumKong kernels of the element types the engine never stores (hnsw.quantization is f32 or
 * f16), left out of the build to shorten it (to a fifth): each type's lookup reports "no kernel",
 * as NumKong does for a kernel the CPU lacks, and its dispatch-table entries stay empty. The
 * binding (usearch_graph.cpp) creates indexes of f32 and f16 only.
 */
#include "dispatch.h"

#define NK_UNUSED_TYPE(type)                                                                                   \
    void nk_dispatch_##type##_find_(nk_capability_t v, nk_kernel_kind_t k, nk_kernel_punned_t *m, nk_capability_t *c) { \
        (void)v, (void)k;                                                                                      \
        *m = (nk_kernel_punned_t)nk_error_dense_, *c = 0;                                                       \
    }                                                                                                          \
    void nk_dispatch_##type##_init_(nk_capability_t caps) { (void)caps; }

NK_UNUSED_TYPE(f64c)
NK_UNUSED_TYPE(f32c)
NK_UNUSED_TYPE(bf16c)
NK_UNUSED_TYPE(f16c)
NK_UNUSED_TYPE(bf16)
NK_UNUSED_TYPE(e5m2)
NK_UNUSED_TYPE(e4m3)
NK_UNUSED_TYPE(e3m2)
NK_UNUSED_TYPE(e2m3)
NK_UNUSED_TYPE(i64)
NK_UNUSED_TYPE(i32)
NK_UNUSED_TYPE(i16)
NK_UNUSED_TYPE(i8)
NK_UNUSED_TYPE(i4)
NK_UNUSED_TYPE(u64)
NK_UNUSED_TYPE(u32)
NK_UNUSED_TYPE(u16)
NK_UNUSED_TYPE(u8)
NK_UNUSED_TYPE(u4)
NK_UNUSED_TYPE(u1)
