// lru.hpp: a bounded least-recently-used cache for kvstore values.
#pragma once

#include <list>
#include <string>
#include <unordered_map>

namespace kv {

/// Default number of entries.
constexpr std::size_t kDefaultCapacity = 1024;

/// A bounded cache that evicts the least recently used entry.
template <typename V>
class LruCache {
public:
    explicit LruCache(std::size_t capacity = kDefaultCapacity);

    /// Returns the value of key, or nullptr.
    const V* get(const std::string& key);

    void put(const std::string& key, V value);

    std::size_t size() const { return index_.size(); }

private:
    using Entry = std::pair<std::string, V>;

    void evict();

    std::size_t capacity_;
    std::list<Entry> order_;
    std::unordered_map<std::string, typename std::list<Entry>::iterator> index_;
};

template <typename V>
LruCache<V>::LruCache(std::size_t capacity) : capacity_(capacity) {}

template <typename V>
const V* LruCache<V>::get(const std::string& key) {
    auto it = index_.find(key);
    if (it == index_.end()) return nullptr;
    order_.splice(order_.begin(), order_, it->second);
    return &it->second->second;
}

template <typename V>
void LruCache<V>::put(const std::string& key, V value) {
    order_.emplace_front(key, std::move(value));
    index_[key] = order_.begin();
    if (order_.size() > capacity_) evict();
}

// Drops the oldest entry.
template <typename V>
void LruCache<V>::evict() {
    index_.erase(order_.back().first);
    order_.pop_back();
}

namespace {
inline int unused_helper() { return 0; }
}  // namespace

}  // namespace kv
