// A usearch index (the library's header-only C++ core, with NumKong's run-time SIMD dispatch) as
// the engine's index workers drive it. The npm package's own binding has no way to read a stored
// vector back, to search with a per-call ef, or to fix the number of threads an insert may use:
// the engine needs all three (Fetch, rebuilds and reshards read vectors; a recall may carry its own
// ef; a worker must not start one thread per core). This file is that binding, and nothing more.
#include <napi.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>

#include <usearch/index_dense.hpp>

using namespace unum::usearch;

namespace {

using dense_t = index_dense_t;

metric_kind_t metric_of(std::string const& name) {
    if (name == "cos") return metric_kind_t::cos_k;
    if (name == "ip") return metric_kind_t::ip_k;
    if (name == "l2sq") return metric_kind_t::l2sq_k;
    return metric_kind_t::unknown_k;
}

// The precisions the engine stores (hnsw.quantization); NumKong's other kernels are not built.
scalar_kind_t scalar_of(std::string const& name) {
    if (name == "f32") return scalar_kind_t::f32_k;
    if (name == "f16") return scalar_kind_t::f16_k;
    return scalar_kind_t::unknown_k;
}

class Graph : public Napi::ObjectWrap<Graph> {
  public:
    static Napi::Object Init(Napi::Env env, Napi::Object exports) {
        Napi::Function cls = DefineClass(env, "Graph", {
            InstanceMethod("reserve", &Graph::Reserve),
            InstanceMethod("upsert", &Graph::Upsert),
            InstanceMethod("search", &Graph::Search),
            InstanceMethod("get", &Graph::Get),
            InstanceMethod("save", &Graph::Save),
            InstanceMethod("load", &Graph::Load),
            InstanceMethod("size", &Graph::Size),
            InstanceMethod("free", &Graph::Free),
        });
        exports.Set("Graph", cls);
        return exports;
    }

    // new Graph(dimensions, metric 'cos' | 'ip' | 'l2sq', scalar 'f32' | 'f16', M, efConstruction, efSearch)
    Graph(Napi::CallbackInfo const& info) : Napi::ObjectWrap<Graph>(info) {
        Napi::Env env = info.Env();
        std::size_t dimensions = info[0].As<Napi::Number>().Uint32Value();
        metric_kind_t metric_kind = metric_of(info[1].As<Napi::String>().Utf8Value());
        scalar_kind_t scalar_kind = scalar_of(info[2].As<Napi::String>().Utf8Value());
        if (metric_kind == metric_kind_t::unknown_k || scalar_kind == scalar_kind_t::unknown_k) {
            Napi::TypeError::New(env, "unknown metric or scalar kind").ThrowAsJavaScriptException();
            return;
        }
        metric_punned_t metric(dimensions, metric_kind, scalar_kind);
        if (metric.missing()) {
            Napi::Error::New(env, "usearch has no such metric for this scalar kind").ThrowAsJavaScriptException();
            return;
        }
        index_dense_config_t config(info[3].As<Napi::Number>().Uint32Value(), info[4].As<Napi::Number>().Uint32Value(),
                                    info[5].As<Napi::Number>().Uint32Value());
        auto made = dense_t::make(metric, config);
        if (!made) {
            Napi::Error::New(env, made.error.release()).ThrowAsJavaScriptException();
            return;
        }
        index_.reset(new dense_t(std::move(made.index)));
        threads_ = 1;
        if (!index_->try_reserve(index_limits_t(64, threads_)))
            Napi::Error::New(env, "usearch could not reserve memory").ThrowAsJavaScriptException();
    }

  private:
    std::unique_ptr<dense_t> index_;
    std::size_t threads_ = 1;

    bool alive(Napi::Env env) {
        if (index_) return true;
        Napi::Error::New(env, "this index was freed").ThrowAsJavaScriptException();
        return false;
    }

    // Capacity grows by doubling, and the thread contexts match the most threads an insert uses.
    bool ensure(Napi::Env env, std::size_t members, std::size_t threads) {
        if (members <= index_->capacity() && threads <= threads_) return true;
        std::size_t capacity = std::max<std::size_t>(index_->capacity(), 64);
        while (capacity < members) capacity *= 2;
        threads_ = std::max(threads_, threads);
        if (index_->try_reserve(index_limits_t(capacity, threads_))) return true;
        Napi::Error::New(env, "usearch could not reserve memory for " + std::to_string(capacity) + " vectors").ThrowAsJavaScriptException();
        return false;
    }

    // reserve(members)
    void Reserve(Napi::CallbackInfo const& info) {
        if (!alive(info.Env())) return;
        ensure(info.Env(), info[0].As<Napi::Number>().Uint32Value(), threads_);
    }

    // upsert(labels: Uint32Array, vectors: Float32Array, threads): vector i is vectors[i*d .. (i+1)*d).
    // A label already present is removed first (usearch reuses its node). Labels must be distinct.
    void Upsert(Napi::CallbackInfo const& info) {
        Napi::Env env = info.Env();
        if (!alive(env)) return;
        Napi::Uint32Array labels = info[0].As<Napi::Uint32Array>();
        Napi::Float32Array vectors = info[1].As<Napi::Float32Array>();
        std::size_t threads = std::max<std::size_t>(1, info[2].As<Napi::Number>().Uint32Value());
        std::size_t count = labels.ElementLength();
        std::size_t dims = index_->dimensions();
        if (vectors.ElementLength() < count * dims) {
            Napi::RangeError::New(env, "fewer vectors than labels").ThrowAsJavaScriptException();
            return;
        }
        for (std::size_t i = 0; i < count; i++) {
            auto removed = index_->remove(static_cast<default_key_t>(labels[i]));
            if (!removed) {
                Napi::Error::New(env, removed.error.release()).ThrowAsJavaScriptException();
                return;
            }
        }
        if (!ensure(env, index_->size() + count, threads)) return;
        threads = std::min(threads, count);
        float const* data = vectors.Data();
        std::string first_error;
        std::atomic<bool> failed{false};
        auto insert = [&](std::size_t thread, std::size_t i) {
            if (failed.load()) return;
            auto result = index_->add(static_cast<default_key_t>(labels[i]), data + i * dims, thread);
            if (!result && !failed.exchange(true)) first_error = result.error.release();
            else if (!result) result.error.release();
        };
        if (threads <= 1) {
            for (std::size_t i = 0; i < count; i++) insert(0, i);
        } else {
            executor_stl_t executor(threads);
            executor.fixed(count, [&](std::size_t thread, std::size_t i) { insert(thread, i); });
        }
        if (failed) Napi::Error::New(env, first_error).ThrowAsJavaScriptException();
    }

    // search(query: Float32Array, k, ef) -> [labels: Uint32Array, distances: Float32Array]
    Napi::Value Search(Napi::CallbackInfo const& info) {
        Napi::Env env = info.Env();
        if (!alive(env)) return env.Null();
        Napi::Float32Array query = info[0].As<Napi::Float32Array>();
        std::size_t wanted = info[1].As<Napi::Number>().Uint32Value();
        std::size_t ef = info[2].As<Napi::Number>().Uint32Value();
        if (query.ElementLength() != index_->dimensions()) {
            Napi::RangeError::New(env, "query has the wrong dimension").ThrowAsJavaScriptException();
            return env.Null();
        }
        std::size_t kept = index_->expansion_search();
        index_->change_expansion_search(std::max(ef, wanted));
        auto result = index_->search(query.Data(), wanted, 0);
        index_->change_expansion_search(kept);
        if (!result) {
            Napi::Error::New(env, result.error.release()).ThrowAsJavaScriptException();
            return env.Null();
        }
        std::size_t found = result.size();
        Napi::Uint32Array labels = Napi::Uint32Array::New(env, found);
        Napi::Float32Array distances = Napi::Float32Array::New(env, found);
        for (std::size_t i = 0; i < found; i++) {
            auto match = result[i];
            labels[i] = static_cast<std::uint32_t>(match.member.key);
            distances[i] = match.distance;
        }
        Napi::Array pair = Napi::Array::New(env, 2);
        pair.Set(0u, labels);
        pair.Set(1u, distances);
        return pair;
    }

    // get(label) -> Float32Array (the stored vector, converted back from its scalar kind) | null
    Napi::Value Get(Napi::CallbackInfo const& info) {
        Napi::Env env = info.Env();
        if (!alive(env)) return env.Null();
        Napi::Float32Array out = Napi::Float32Array::New(env, index_->dimensions());
        if (index_->get(static_cast<default_key_t>(info[0].As<Napi::Number>().Uint32Value()), out.Data()) == 0) return env.Null();
        return out;
    }

    void Save(Napi::CallbackInfo const& info) {
        if (!alive(info.Env())) return;
        auto result = index_->save(info[0].As<Napi::String>().Utf8Value().c_str());
        if (!result) Napi::Error::New(info.Env(), result.error.release()).ThrowAsJavaScriptException();
    }

    void Load(Napi::CallbackInfo const& info) {
        Napi::Env env = info.Env();
        if (!alive(env)) return;
        auto result = index_->load(info[0].As<Napi::String>().Utf8Value().c_str());
        if (!result) {
            Napi::Error::New(env, result.error.release()).ThrowAsJavaScriptException();
            return;
        }
        threads_ = 0;
        ensure(env, std::max<std::size_t>(index_->size(), 1), 1);
    }

    Napi::Value Size(Napi::CallbackInfo const& info) {
        return Napi::Number::New(info.Env(), index_ ? static_cast<double>(index_->size()) : 0);
    }

    // Frees the native memory now (a graph that left the worker; V8 does not know its size).
    void Free(Napi::CallbackInfo const&) { index_.reset(); }
};

Napi::Object Init(Napi::Env env, Napi::Object exports) { return Graph::Init(env, exports); }

} // namespace

NODE_API_MODULE(usearch_graph, Init)
