// Copyright 2024 The kvstore Authors. All rights reserved.

// Package keydir maps keys to the location of their newest record.
package keydir

import (
	"errors"
	"sync"

	seg "example.com/kvstore/segment"
)

// ErrNotFound is returned for a missing key.
var ErrNotFound = errors.New("keydir: not found")

const (
	// DefaultShards is the number of lock shards.
	DefaultShards = 16
	maxKeyLen     = 1 << 16
)

// Entry is where a record lives.
type Entry struct {
	Segment int
	Offset  int64
	size    int
}

// Index looks up entries by key.
type Index interface {
	Get(key string) (Entry, error)
	Put(key string, e Entry)
}

// Keydir is an in-memory Index guarded by a lock.
type Keydir struct {
	mu      sync.RWMutex
	entries map[string]Entry
}

// New returns an empty keydir.
func New() *Keydir {
	return &Keydir{entries: make(map[string]Entry)}
}

// Get returns the entry of key.
func (k *Keydir) Get(key string) (Entry, error) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	e, ok := k.entries[key]
	if !ok {
		return Entry{}, ErrNotFound
	}
	return e, nil
}

// Put records a newer entry for key.
func (k *Keydir) Put(key string, e Entry) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.entries[key] = e
}

func (k *Keydir) rebuild(s *seg.Segment) error {
	return s.Scan(func(key string, e Entry) { k.Put(key, e) })
}
