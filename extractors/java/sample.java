/*
 * Copyright 2024 The kvstore Authors. Licensed under the Apache License 2.0.
 */

// Client side of the kvstore wire protocol.
package org.kvstore.client;

import java.io.IOException;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A caching client for a kvstore server.
 *
 * <p>Thread-safe.
 */
public class CachingClient implements AutoCloseable {
    /** Largest value kept in the cache, in bytes. */
    public static final int MAX_CACHED = 4096;

    private final Map<String, byte[]> cache = new ConcurrentHashMap<>();
    private final Transport transport;

    public CachingClient(Transport transport) {
        this.transport = transport;
    }

    /** Returns the value of key, from the cache when possible. */
    public byte[] get(String key) throws IOException {
        byte[] hit = cache.get(key);
        if (hit != null) {
            return hit;
        }
        byte[] value = transport.fetch(key);
        remember(key, value);
        return value;
    }

    // Caches small values only.
    private void remember(String key, byte[] value) {
        if (value.length <= MAX_CACHED) {
            cache.put(key, value);
        }
    }

    @Override
    public void close() throws IOException {
        transport.close();
    }

    /** How values travel to and from the server. */
    public interface Transport extends AutoCloseable {
        byte[] fetch(String key) throws IOException;

        @Override
        void close() throws IOException;
    }

    enum State { OPEN, CLOSED }
}
