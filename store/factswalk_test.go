package store_test

import (
	"fmt"
	"testing"
	"time"

	"cpis/store"
	"cpis/store/demographics"
)

// testNumbers returns the first n numbers of the 999 test range with a
// valid check digit, ascending.
func testNumbers(n int) []string {
	var out []string
	for i := 0; len(out) < n; i++ {
		s := fmt.Sprintf("999%06d", i)
		sum := 0
		for j, c := range s {
			sum += int(c-'0') * (10 - j)
		}
		check := (11 - sum%11) % 11
		if check == 10 {
			continue
		}
		out = append(out, s+fmt.Sprint(check))
	}
	return out
}

// A FactsWalk answers as DemographicFacts does, whatever the order and
// however far apart the numbers asked are in the reference.
func TestFactsWalk(t *testing.T) {
	db := open(t, t.TempDir())
	nums := testNumbers(60)
	if err := db.Update(func(tx *store.Tx) error {
		return tx.ReplaceDemographics(time.Now(), func(put func(demographics.Record) error) error {
			for i, n := range nums {
				if i%3 == 2 {
					continue // numbers the reference does not know
				}
				r := demographics.Record{NHS: n, FamilyName: "Example", DOB: date("2015-03-01").AddDays(i), Sensitive: i%5 == 0}
				if i%7 == 0 {
					r.SupersededBy = nums[0]
				}
				if err := put(r); err != nil {
					return err
				}
			}
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	asks := map[string][]string{
		"each":       nums,
		"sparse":     {nums[0], nums[20], nums[21], nums[45], nums[59]},
		"repeated":   {nums[3], nums[3], nums[4], nums[4]},
		"descending": {nums[50], nums[40], nums[1], nums[59], nums[0]},
		"past end":   {nums[59], "9999999999", nums[10]},
		"before all": {"0000000000", nums[0]},
	}
	for name, ask := range asks {
		t.Run(name, func(t *testing.T) {
			if err := db.View(func(tx *store.Tx) error {
				w := tx.FactsWalk()
				for _, n := range ask {
					wf, wok, werr := tx.DemographicFacts(n)
					f, ok, err := w.Facts(n)
					if err != werr || ok != wok {
						t.Errorf("Facts(%s) = %v, %v; want %v, %v", n, ok, err, wok, werr)
					}
					if f != wf {
						t.Errorf("Facts(%s) = %+v, want %+v", n, f, wf)
					}
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		})
	}
}
