// Copyright 2024 The kvstore Authors. All rights reserved.

// .NET client for kvstore servers.
using System;
using System.Collections.Generic;
using System.Threading.Tasks;

namespace KvStore.Client
{
    /// <summary>
    /// Reads and writes keys over HTTP.
    /// </summary>
    public class KvClient : IDisposable
    {
        /// <summary>Default request timeout.</summary>
        public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(5);

        private readonly Dictionary<string, byte[]> _cache = new();

        public KvClient(Uri baseAddress)
        {
            BaseAddress = baseAddress;
        }

        public Uri BaseAddress { get; }

        /// <summary>Returns the value of <paramref name="key"/>.</summary>
        public async Task<byte[]?> GetAsync(string key)
        {
            if (_cache.TryGetValue(key, out var hit)) return hit;
            var value = await FetchAsync(key);
            Remember(key, value);
            return value;
        }

        // Keeps small values only.
        private void Remember(string key, byte[]? value)
        {
            if (value is { Length: < 4096 }) _cache[key] = value;
        }

        private Task<byte[]?> FetchAsync(string key) => Task.FromResult<byte[]?>(null);

        public void Dispose() => _cache.Clear();
    }

    public interface IKvClient
    {
        Task<byte[]?> GetAsync(string key);
    }

    internal enum Mode { ReadOnly, ReadWrite }
}
