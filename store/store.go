package store

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// FileName is the name of the store file inside a data directory.
const FileName = "cpis.db"

// SchemaVersion is the layout version this code reads and writes (doc.go).
const SchemaVersion = "1"

// Sentinel errors.
var (
	// ErrLocked means another process holds the store file.
	ErrLocked = errors.New("the store is in use by another cpis process (is `cpis serve` running?)")
	// ErrNotInitialised means the data directory has no store yet.
	ErrNotInitialised = errors.New("no store in the data directory: run `cpis init` first")
	// ErrSchema means the store was written by an incompatible version.
	ErrSchema = errors.New("store schema version not supported")
	// ErrNotFound means a record asked for by its identifier does not exist.
	ErrNotFound = errors.New("not found")
)

var (
	bMeta         = []byte("meta")
	bAuthorities  = []byte("authorities")
	bDemographics = []byte("demographics")
	bPlans        = []byte("plans")
	bPlansByLA    = []byte("plans_by_la")
	bMessages     = []byte("messages")
	bMessageIDs   = []byte("message_ids")
	bMessageFiles = []byte("message_files")
	bOpen         = []byte("open_messages")
	bOutcomes     = []byte("outcomes")
	bLAState      = []byte("la_state")
	bAudit        = []byte("audit")

	allBuckets = [][]byte{bMeta, bAuthorities, bDemographics, bPlans, bPlansByLA,
		bMessages, bMessageIDs, bMessageFiles, bOpen, bOutcomes, bLAState, bAudit}
)

// bucket names a top-level bucket that Open creates. Each file of this
// package declares the buckets it owns with it (and lists them in doc.go).
func bucket(name string) []byte {
	b := []byte(name)
	allBuckets = append(allBuckets, b)
	return b
}

// DB is an open store.
type DB struct {
	bolt     *bolt.DB
	path     string
	borrowed bool
}

// Borrow returns a handle on the same open store whose Close does nothing:
// for commands run inside the daemon, which owns the store.
func (db *DB) Borrow() *DB { return &DB{bolt: db.bolt, path: db.path, borrowed: true} }

// Options tune Open.
type Options struct {
	// Create makes a new store file when none exists.
	Create bool
	// LockTimeout bounds the wait for another process's lock; 0 means 1s.
	LockTimeout time.Duration
	// NoSync skips fsync; for tests only, never in production.
	NoSync bool
	// Now is the creation time recorded in a new store (zero: the clock).
	Now time.Time
	// MaxBatchDelay is how long Batch waits for more concurrent callers
	// before it commits their group (one disk sync); 0 means
	// DefaultMaxBatchDelay.
	MaxBatchDelay time.Duration
	// MaxBatchSize commits a Batch group at once when it has this many
	// callers; 0 means bbolt's default (1000).
	MaxBatchSize int
}

// DefaultMaxBatchDelay is Batch's wait for more callers by default. bbolt's
// own default (10 ms) is long beside a disk sync on current disks (well under
// a millisecond): concurrent callers arriving while a group commits form the
// next group anyway, so a short wait keeps latency low at no cost in syncs.
var DefaultMaxBatchDelay = 2 * time.Millisecond

// Open opens the store file in dir. It fails with ErrLocked when another
// process holds it and ErrNotInitialised when there is none (unless
// opts.Create).
func Open(dir string, opts Options) (*DB, error) {
	path := filepath.Join(dir, FileName)
	if !opts.Create {
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("open store %s: %w", path, ErrNotInitialised)
		}
	}
	timeout := opts.LockTimeout
	if timeout == 0 {
		timeout = time.Second
	}
	// The freelist is rebuilt on open instead of written at every commit
	// (as etcd does): commits of a large store write far less. The mmap
	// starts large (address space only) so a growing store is not
	// remapped, which would wait for every reader.
	b, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: timeout, NoSync: opts.NoSync,
		FreelistType: bolt.FreelistMapType, NoFreelistSync: true, InitialMmapSize: 1 << 30})
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return nil, fmt.Errorf("open store %s: %w", path, ErrLocked)
		}
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	b.MaxBatchDelay = DefaultMaxBatchDelay
	if opts.MaxBatchDelay > 0 {
		b.MaxBatchDelay = opts.MaxBatchDelay
	}
	if opts.MaxBatchSize > 0 {
		b.MaxBatchSize = opts.MaxBatchSize
	}
	db := &DB{bolt: b, path: path}
	if err := db.bolt.Update(func(tx *bolt.Tx) error {
		for _, name := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bMeta)
		switch v := meta.Get([]byte("schema")); {
		case v == nil:
			created := opts.Now
			if created.IsZero() {
				created = time.Now()
			}
			if err := meta.Put([]byte("created"), []byte(created.UTC().Format(time.RFC3339Nano))); err != nil {
				return err
			}
			return meta.Put([]byte("schema"), []byte(SchemaVersion))
		case string(v) != SchemaVersion:
			return fmt.Errorf("%w: file has %q, this cpis reads %q", ErrSchema, v, SchemaVersion)
		}
		return nil
	}); err != nil {
		b.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	return db, nil
}

// Path returns the store file's path.
func (db *DB) Path() string { return db.path }

// Close closes the store (a borrowed handle leaves it open).
func (db *DB) Close() error {
	if db.borrowed {
		return nil
	}
	return db.bolt.Close()
}

// View runs fn in a read-only transaction.
func (db *DB) View(fn func(*Tx) error) error {
	return db.bolt.View(func(tx *bolt.Tx) error { return fn(&Tx{tx: tx}) })
}

// Update runs fn in a read-write transaction: everything fn does commits
// together, or nothing does when fn returns an error.
func (db *DB) Update(fn func(*Tx) error) error {
	return db.bolt.Update(func(tx *bolt.Tx) error { return fn(&Tx{tx: tx}) })
}

// Tx is a store transaction. Values it returns are copies, safe after the
// transaction ends.
type Tx struct {
	tx *bolt.Tx
}

func (t *Tx) b(name []byte) *bolt.Bucket { return t.tx.Bucket(name) }

func putJSON(b *bolt.Bucket, key []byte, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s: %w", key, err)
	}
	return b.Put(key, data)
}

func getJSON(b *bolt.Bucket, key []byte, v any) (bool, error) {
	data := b.Get(key)
	if data == nil {
		return false, nil
	}
	if err := json.Unmarshal(data, v); err != nil {
		return true, fmt.Errorf("decode %q: %w", key, err)
	}
	return true, nil
}

func u64(n uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], n)
	return b[:]
}

func u32(n uint32) []byte {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], n)
	return b[:]
}

func concat(parts ...[]byte) []byte {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	out := make([]byte, 0, n)
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func jsonUnmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }

// Batch runs fn in a write transaction shared with other concurrent Batch
// calls (group commit: one disk sync for many callers). fn may run more
// than once and must not have effects outside the transaction.
func (db *DB) Batch(fn func(*Tx) error) error {
	return db.bolt.Batch(func(tx *bolt.Tx) error { return fn(&Tx{tx: tx}) })
}

// Created returns when the store was made.
func (t *Tx) Created() time.Time {
	v, _ := time.Parse(time.RFC3339Nano, string(t.b(bMeta).Get([]byte("created"))))
	return v
}
