# include/ and numkong/ are the installed usearch package's (scripts/build-usearch-addon.mjs links
# them in). NumKong is built as its own numkong.gypi builds it, with the kernels of the types the
# engine stores (f32, f16; f64 and the casts, which usearch uses around them) and stubs for the
# rest (numkong_unused.c): a fifth of the compile.
{
    "variables": {
        "numkong_probes": "<!(node -e \"console.log(require('path').resolve('numkong', 'nk_probes.h'))\")",
    },
    "targets": [
        {
            "target_name": "numkong_kernels",
            "type": "static_library",
            "actions": [
                {
                    "action_name": "numkong_probe",
                    "inputs": ["./numkong/probes/probe.js"],
                    "outputs": ["<(numkong_probes)"],
                    "action": ["node", "./numkong/probes/probe.js"],
                    "message": "Probing ISA capabilities for NumKong",
                },
            ],
            "sources": [
                "./numkong/c/numkong.c",
                "./numkong/c/dispatch_f64.c",
                "./numkong/c/dispatch_f32.c",
                "./numkong/c/dispatch_f16.c",
                "./numkong/c/dispatch_other.c",
                "numkong_unused.c",
            ],
            "include_dirs": ["./numkong/include", "./numkong/c"],
            "defines": ["NK_NATIVE_F16=0", "NK_NATIVE_BF16=0", "NK_DYNAMIC_DISPATCH=1"],
            "cflags": ["-std=c11", "-O3", "-Wno-unknown-pragmas", "-Wno-maybe-uninitialized", "-Wno-cast-function-type", "-Wno-switch", "-Wno-psabi", "-include", "<(numkong_probes)"],
            "direct_dependent_settings": {"include_dirs": ["./numkong/include"]},
        },
        {
            "target_name": "usearch_graph",
            "sources": ["usearch_graph.cpp"],
            "dependencies": ["<!(node -p \"require('node-addon-api').gyp\")", "numkong_kernels"],
            "include_dirs": ["<!@(node -p \"require('node-addon-api').include\")", "./include"],
            "defines": ["USEARCH_USE_NUMKONG=1", "NK_DYNAMIC_DISPATCH=1", "USEARCH_USE_OPENMP=0", "NAPI_CPP_EXCEPTIONS"],
            "cflags_cc": ["-std=c++17", "-fexceptions", "-O3", "-Wno-unknown-pragmas", "-Wno-maybe-uninitialized"],
            "cflags_cc!": ["-fno-exceptions"],
        }
    ]
}
