package datadir_test

import (
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"cpis/batch/datadir"
	"cpis/store"
)

const authorities = datadir.AuthoritiesHeader + "\n" +
	"201,E09000001,City of London,London,,020 7946 0100,\n" +
	"202,E09000007,Camden,London,,020 7946 0101,\n"

func opts(force bool) datadir.InitOptions {
	return datadir.InitOptions{Authorities: datadir.Source{Name: "las.csv", R: strings.NewReader(authorities)},
		Force: force, Now: time.Date(2026, 11, 22, 2, 30, 0, 0, time.UTC)}
}

func names(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		out = append(out, rel)
		return nil
	})
	sort.Strings(out)
	return out
}

// A new store holds the authorities from its first moment, named in its
// schema record; a clean check follows.
func TestInitMakesWholeStore(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "d")
	if err := datadir.Init(dir, opts(false)); err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rep, err := db.Check()
	if err != nil || !rep.OK() || rep.Authorities != 2 {
		t.Errorf("check of a new hub: %v %+v", err, rep)
	}
}

// An empty or damaged store file is refused, with or without Force, before
// anything in the data dir is made or changed.
func TestInitRefusesDamagedStore(t *testing.T) {
	for _, force := range []bool{false, true} {
		dir := t.TempDir()
		path := filepath.Join(dir, store.FileName)
		if err := os.WriteFile(path, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		err := datadir.Init(dir, opts(force))
		if !errors.Is(err, store.ErrDamaged) {
			t.Errorf("force=%v: got %v, want ErrDamaged", force, err)
		}
		if diff := cmp.Diff([]string{".", store.FileName}, names(t, dir)); diff != "" {
			t.Errorf("force=%v: the data dir changed (-want +got):\n%s", force, diff)
		}
		if st, err := os.Stat(path); err != nil || st.Size() != 0 {
			t.Errorf("force=%v: the store file changed: %v %v", force, st, err)
		}
	}
}

// An init that fails after making the store leaves no store behind, so it
// can be run again.
func TestInitFailureLeavesNoStore(t *testing.T) {
	dir := t.TempDir()
	// A file where the mailboxes folder goes makes init fail after the
	// store is made.
	if err := os.WriteFile(filepath.Join(dir, "mailboxes"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := datadir.Init(dir, opts(false)); err == nil {
		t.Fatal("init succeeded")
	}
	if _, err := os.Stat(filepath.Join(dir, store.FileName)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a failed init left the store: %v", err)
	}
}

// TestInitLostStore: a data directory whose archive shows it held a hub
// but whose cpis.db is gone (or is a link to a missing file) is not
// quietly given a new, empty store: without --force init refuses, and it
// never removes what it did not make.
func TestInitLostStore(t *testing.T) {
	t.Run("archive without a store", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.MkdirAll(filepath.Join(dir, "archive", "LA841HC001", "in"), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := datadir.Init(dir, opts(false)); !errors.Is(err, datadir.ErrStoreLost) {
			t.Errorf("init: %v, want ErrStoreLost", err)
		}
		if _, err := os.Stat(filepath.Join(dir, store.FileName)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("a store was made: %v", err)
		}
		if err := datadir.Init(dir, opts(true)); err != nil {
			t.Errorf("init --force: %v", err)
		}
	})
	t.Run("a link to a missing store", func(t *testing.T) {
		dir := t.TempDir()
		link := filepath.Join(dir, store.FileName)
		if err := os.Symlink(filepath.Join(dir, "absent", store.FileName), link); err != nil {
			t.Fatal(err)
		}
		for _, force := range []bool{false, true} {
			if err := datadir.Init(dir, opts(force)); err == nil {
				t.Errorf("init (force %v) made a store through a link to a missing file", force)
			}
			if _, err := os.Lstat(link); err != nil {
				t.Errorf("init (force %v) removed the link: %v", force, err)
			}
		}
	})
}
