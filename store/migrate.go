package store

import (
	"bytes"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// RecordFormat is the form of the hot records (plans, demographics, row
// outcomes) this code writes (doc.go, "Records"): 0 for JSON values (every
// store of schema "1"), 1 for the binary records of records.go (schema
// "2"). The schema record alone says which, so a cpis that reads only
// schema "1" refuses a migrated store instead of misreading its records.
const RecordFormat = 1

// jsonSchema is the schema version of the stores whose records are JSON;
// they are migrated on open.
const jsonSchema = "1"

// recordFormat returns the record format of the store tx reads, from its
// schema record; a schema this code does not know reads as a later format.
func recordFormat(tx *bolt.Tx) uint64 {
	switch string(tx.Bucket(bMeta).Get(kSchema)) {
	case jsonSchema:
		return 0
	case SchemaVersion:
		return RecordFormat
	}
	return RecordFormat + 1
}

// migrateHook, when set (tests), is called after each group of records a
// migration rewrites, with the bucket and the records rewritten so far in
// it; an error it returns makes the migration fail.
var migrateHook func(bucket string, done int) error

// migrateGroup is how many records the migration rewrites between cursor
// seeks (bbolt's cursor must not walk a bucket while it is written).
const migrateGroup = 4096

// migrateRecords rewrites every JSON plan, demographics and row outcome
// record of tx in binary form and raises the schema version, in tx: a
// store is migrated whole or, when tx does not commit, not at all. A
// value that does not decode is left as it was, for Check to report (the
// previous version could not read it either).
func migrateRecords(tx *bolt.Tx) error {
	for _, m := range []struct {
		bucket  []byte
		convert func(dst, v []byte) ([]byte, error)
	}{
		{bPlans, func(dst, v []byte) ([]byte, error) {
			r, err := decodePlanRecord(v)
			return appendPlanRecord(dst, r), err
		}},
		{bDemographics, func(dst, v []byte) ([]byte, error) {
			r, err := decodeDemographic(v)
			return appendDemographic(dst, r), err
		}},
		{bOutcomes, func(dst, v []byte) ([]byte, error) {
			r, err := decodeRowOutcome(v)
			return appendRowOutcome(dst, r), err
		}},
	} {
		if err := migrateBucket(tx.Bucket(m.bucket), string(m.bucket), m.convert); err != nil {
			return fmt.Errorf("migrate %s to record format %d: %w", m.bucket, RecordFormat, err)
		}
	}
	return tx.Bucket(bMeta).Put(kSchema, []byte(SchemaVersion))
}

// migrateBucket rewrites the JSON values of b with convert, a group at a
// time: read a group with a cursor, put it, seek past it.
func migrateBucket(b *bolt.Bucket, name string, convert func(dst, v []byte) ([]byte, error)) error {
	type kv struct{ k, v []byte }
	var (
		s     slab
		group = make([]kv, 0, migrateGroup)
		after []byte // the last key read; nil before the first group
		done  int
	)
	for {
		c := b.Cursor()
		k, v := c.First()
		if after != nil {
			if k, v = c.Seek(after); bytes.Equal(k, after) {
				k, v = c.Next()
			}
		}
		group = group[:0]
		for ; k != nil && len(group) < migrateGroup; k, v = c.Next() {
			after = k
			if len(v) == 0 || v[0] != recordJSON {
				continue
			}
			nv, err := convert(s.next(len(v)), v)
			if err != nil {
				continue
			}
			nv = s.keep(nv)
			group = append(group, kv{k: s.keep(append(s.next(len(k)), k...)), v: nv})
		}
		if k != nil {
			after = s.keep(append(s.next(len(after)), after...))
		}
		for _, e := range group {
			if err := b.Put(e.k, e.v); err != nil {
				return err
			}
		}
		done += len(group)
		if migrateHook != nil && len(group) > 0 {
			if err := migrateHook(name, done); err != nil {
				return err
			}
		}
		if k == nil {
			return nil
		}
	}
}
