package store

import bolt "go.etcd.io/bbolt"

// Size returns the bytes of the store file in use: its pages up to the
// high-water mark, free pages among them included. The file itself is
// grown ahead of use (by up to 16 MiB at a time), so it may be larger.
func (db *DB) Size() (int64, error) {
	var n int64
	err := db.bolt.View(func(tx *bolt.Tx) error {
		n = tx.Size()
		return nil
	})
	return n, err
}
