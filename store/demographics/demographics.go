// Package demographics is the record the hub keeps for each person of the
// demographics (PDS) reference: the names, dates and flags that every
// return row is reconciled against. The store keeps these records; batch/pds
// reads import files into them and reconciles rows with them.
package demographics

import "cpis/store/caldate"

// Record is one person in the demographics reference.
type Record struct {
	NHS          string // normalised NHS number
	FamilyName   string // as in the file; empty when unknown
	GivenName    string // as in the file; empty when unknown
	DOB          caldate.Date
	SupersededBy string // normalised NHS number of the successor; empty when current
	Sensitive    bool   // S-flag: CP information cannot be attached
	DOD          caldate.Date
}
