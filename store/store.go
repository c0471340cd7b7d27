package store

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// FileName is the name of the store file inside a data directory.
const FileName = "cpis.db"

// SchemaVersion is the layout version this code reads and writes (doc.go).
const SchemaVersion = "2"

// Sentinel errors.
var (
	// ErrLocked means another process holds the store file.
	ErrLocked = errors.New("the store is in use by another cpis process (is `cpis serve` running?)")
	// ErrNotInitialised means the data directory has no store yet.
	ErrNotInitialised = errors.New("no store in the data directory: run `cpis init` first")
	// ErrSchema means the store was written by an incompatible version.
	ErrSchema = errors.New("store schema version not supported")
	// ErrDamaged means the store file is not a whole store of this hub:
	// empty, truncated, not a bbolt file, or without the schema record
	// that a new store is given. Such a file is refused, never changed.
	ErrDamaged = errors.New("the store file is empty or damaged")
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

// laterBuckets are the buckets added after the first stores were made:
// Open creates one an older store lacks. Every other bucket is part of
// every store, and a store that lacks one is damaged (a store without
// its plans must never answer "no alert").
var laterBuckets = map[string]bool{}

// bucket names a top-level bucket that every store has. Each file of this
// package declares the buckets it owns with it (and lists them in doc.go).
func bucket(name string) []byte {
	b := []byte(name)
	allBuckets = append(allBuckets, b)
	return b
}

// bucketSince names a top-level bucket added to the layout after stores
// were in use: Open adds it to a store that lacks it.
func bucketSince(name string) []byte {
	laterBuckets[name] = true
	return bucket(name)
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
	// Create makes a new store file when none exists, with the schema
	// record (doc.go). An existing file is opened as without Create.
	Create bool
	// Setup, with Create, runs in the transaction that makes a new store
	// (not when the file exists), so that what it writes is there from
	// the store's first moment or the store is not made.
	Setup func(*Tx) error
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
// process holds it, ErrNotInitialised when there is none (unless
// opts.Create) and ErrDamaged when the file is not a whole store of this
// hub: empty, truncated, not a bbolt file, or without the schema record a
// new store is given. A refused file is never written to.
//
// The file is checked before bbolt maps it (filecheck.go), under a shared
// lock so that a committing writer cannot be mistaken for damage: bbolt
// would make an empty file into a new empty store, and a truncated one
// makes the process die of SIGBUS when a page beyond the end is read.
func Open(dir string, opts Options) (*DB, error) {
	path := filepath.Join(dir, FileName)
	timeout := opts.LockTimeout
	if timeout == 0 {
		timeout = time.Second
	}
	deadline := time.Now().Add(timeout)
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		if !opts.Create {
			return nil, fmt.Errorf("open store %s: %w", path, ErrNotInitialised)
		}
		if err := create(dir, opts); err != nil && !errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("create store %s: %w", path, err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	if err := checkFile(path, deadline); err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	db, err := openChecked(path, opts, time.Until(deadline))
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	return db, nil
}

// boltOptions are the bbolt options of every store. The freelist is
// rebuilt on open instead of written at every commit (as etcd does):
// commits of a large store write far less. The mmap starts large (address
// space only) so a growing store is not remapped, which would wait for
// every reader.
func boltOptions(opts Options, timeout time.Duration) *bolt.Options {
	return &bolt.Options{Timeout: timeout, NoSync: opts.NoSync,
		FreelistType: bolt.FreelistMapType, NoFreelistSync: true, InitialMmapSize: 1 << 30}
}

// openChecked opens a store file that checkFile passed, and refuses it
// when it lacks the schema record.
func openChecked(path string, opts Options, timeout time.Duration) (db *DB, err error) {
	// A page that faults in spite of checkFile becomes an error here
	// instead of killing the process.
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	var b *bolt.DB
	defer func() {
		if r := recover(); r != nil {
			if b != nil {
				b.Close()
			}
			db, err = nil, damaged("%v", r)
		}
	}()
	if timeout < 50*time.Millisecond {
		timeout = 50 * time.Millisecond
	}
	b, err = bolt.Open(path, 0o600, boltOptions(opts, timeout))
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return nil, ErrLocked
		}
		if errors.Is(err, berrors.ErrInvalid) || errors.Is(err, berrors.ErrVersionMismatch) || errors.Is(err, berrors.ErrChecksum) {
			return nil, damaged("%v", err)
		}
		return nil, err
	}
	b.MaxBatchDelay = DefaultMaxBatchDelay
	if opts.MaxBatchDelay > 0 {
		b.MaxBatchDelay = opts.MaxBatchDelay
	}
	if opts.MaxBatchSize > 0 {
		b.MaxBatchSize = opts.MaxBatchSize
	}
	if err := prepare(b); err != nil {
		b.Close()
		return nil, err
	}
	return &DB{bolt: b, path: path}, nil
}

// Keys of the schema record in the meta bucket.
var (
	kSchema      = []byte("schema")
	kCreated     = []byte("created")
	kAuthorities = []byte("authorities")
)

// prepare refuses a store without the schema record (or of another schema
// version or a later record format) and then adds what a store made by an
// earlier cpis of the same schema lacks: buckets declared since, the list
// of authorities, and the binary records (a store of record format 0 is
// migrated, migrate.go). It writes only when something is missing, all of
// it in one write transaction.
func prepare(b *bolt.DB) error {
	missing, migrate := false, false
	if err := b.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bMeta)
		if meta == nil {
			return damaged("no meta bucket")
		}
		v := meta.Get(kSchema)
		switch {
		case v == nil:
			return damaged("no schema record")
		case string(v) == jsonSchema:
			migrate = true
		case string(v) != SchemaVersion:
			return fmt.Errorf("%w: file has %q, this cpis reads %q (and migrates %q)", ErrSchema, v, SchemaVersion, jsonSchema)
		}
		if _, err := time.Parse(time.RFC3339Nano, string(meta.Get(kCreated))); err != nil {
			return damaged("no creation time in the schema record")
		}
		for _, name := range allBuckets {
			if tx.Bucket(name) != nil {
				continue
			}
			if !laterBuckets[string(name)] {
				return damaged("bucket %s is missing", name)
			}
			missing = true
		}
		if v := meta.Get(kAuthorities); v == nil {
			missing = true
		} else if la := tx.Bucket(bAuthorities); la != nil {
			codes, err := decodeCodes(v)
			if err != nil {
				return damaged("%v", err)
			}
			for _, c := range codes {
				if la.Get([]byte(c)) == nil {
					return damaged("authority %s named by the schema record is missing", c)
				}
			}
		}
		return nil
	}); err != nil || !missing && !migrate {
		return err
	}
	return b.Update(func(tx *bolt.Tx) error {
		for _, name := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		if tx.Bucket(bMeta).Get(kAuthorities) == nil {
			var codes []string
			if err := tx.Bucket(bAuthorities).ForEach(func(k, _ []byte) error {
				codes = append(codes, string(k))
				return nil
			}); err != nil {
				return err
			}
			if err := putCodes(tx.Bucket(bMeta), codes); err != nil {
				return err
			}
		}
		if recordFormat(tx) < RecordFormat {
			return migrateRecords(tx)
		}
		return nil
	})
}

// create makes a new store in dir: a bbolt file with every bucket, the
// schema record and what opts.Setup writes, built under a temporary name
// and linked into place whole, so that a store file never exists without
// its schema record. It fails with os.ErrExist when another process made
// the store first.
func create(dir string, opts Options) error {
	f, err := os.CreateTemp(dir, "."+FileName+".new-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	f.Close()
	defer os.Remove(tmp)
	b, err := bolt.Open(tmp, 0o600, boltOptions(opts, time.Second))
	if err != nil {
		return err
	}
	created := opts.Now
	if created.IsZero() {
		created = time.Now()
	}
	err = b.Update(func(tx *bolt.Tx) error {
		for _, name := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bMeta)
		if err := meta.Put(kCreated, []byte(created.UTC().Format(time.RFC3339Nano))); err != nil {
			return err
		}
		if err := meta.Put(kSchema, []byte(SchemaVersion)); err != nil {
			return err
		}
		if err := putCodes(meta, nil); err != nil {
			return err
		}
		if opts.Setup != nil {
			return opts.Setup(&Tx{tx: tx})
		}
		return nil
	})
	if cerr := b.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := placeNew(tmp, filepath.Join(dir, FileName)); err != nil {
		return err
	}
	if opts.NoSync {
		return nil
	}
	return syncDir(dir)
}

// placeNew gives the file tmp the name dst, failing with os.ErrExist when
// dst exists: a hard link where the file system has them (no window in
// which another file could be replaced), else a rename after a check.
func placeNew(tmp, dst string) error {
	err := os.Link(tmp, dst)
	switch {
	case err == nil:
		return os.Remove(tmp)
	case errors.Is(err, os.ErrExist):
		return err
	}
	if _, statErr := os.Lstat(dst); statErr == nil {
		return &os.LinkError{Op: "rename", Old: tmp, New: dst, Err: os.ErrExist}
	}
	return os.Rename(tmp, dst)
}

// syncDir makes the names in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
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
	tx   *bolt.Tx
	slab slab // keys and values put (records.go)
	// buckets are the top-level buckets looked up so far: a read
	// transaction searches the root bucket and allocates a handle at each
	// lookup, and ingest looks one up for every row.
	buckets [16]cachedBucket
}

type cachedBucket struct {
	name string
	b    *bolt.Bucket
}

func (t *Tx) b(name []byte) *bolt.Bucket {
	for i := range t.buckets {
		c := &t.buckets[i]
		if c.b == nil {
			c.name, c.b = string(name), t.tx.Bucket(name)
			return c.b
		}
		if c.name == string(name) {
			return c.b
		}
	}
	return t.tx.Bucket(name)
}

// deleteBucket deletes a top-level bucket (and forgets the handles looked
// up, which it may make stale).
func (t *Tx) deleteBucket(name []byte) error {
	t.buckets = [16]cachedBucket{}
	return t.tx.DeleteBucket(name)
}

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
	v, _ := time.Parse(time.RFC3339Nano, string(t.b(bMeta).Get(kCreated)))
	return v
}
