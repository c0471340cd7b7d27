// Package sample holds the hub's bundled sample data: the 153 English local
// authorities with synthetic contact numbers (cpis init --sample), a
// synthetic demographics (PDS) extract, and the returns the demo sends
// (cpis demo). Everything is embedded in the binary, so these commands work
// from any directory.
//
// Nothing here is real. Telephone numbers come only from Ofcom's ranges
// reserved for drama (020 7946 0xxx, 0113 496 0xxx, 0114 496 0xxx,
// 0115 496 0xxx, 0117 496 0xxx, 0118 496 0xxx, 0121 496 0xxx,
// 0151 496 0xxx, 0161 496 0xxx, 0191 498 0xxx, 01632 960xxx), chosen by
// region; NHS numbers are all in the 999 test range; names are invented.
package sample

import (
	_ "embed"
	"slices"
)

//go:embed authorities.csv
var authorities []byte

//go:embed demographics.csv
var demographics []byte

// Authorities returns the sample authorities file, in the format of
// cpis init --authorities: the header
// la_code,gss_code,name,region,mailbox_id,emergency_phone,office_phone and
// the 153 English authorities with children's social care duties from the
// Department for Education's LA list, in its order.
// mailbox_id is empty throughout (the hub derives LA<code>HC001); every
// authority has an emergency-duty phone and about two thirds an office-hours
// phone. Darlington (841) has 0191 498 0123 and no office phone, as in the
// examples in batch/access/access.md. The caller owns the returned slice.
func Authorities() []byte { return slices.Clone(authorities) }

// Demographics returns the sample demographics extract, in the format of
// cpis pds import: 120 people (see people.go for who is who), among them the
// published test patients TestPatient and TestPatient2, a merged record
// (superseded_by), a chain of two merges, one sensitive record, one with a
// date of death and one with no date of birth. The caller owns the returned
// slice.
func Demographics() []byte { return slices.Clone(demographics) }

// NHS numbers the demo and its tests refer to.
const (
	// TestPatient is a published test patient: a CPP with Darlington and a
	// LAC with Camden, so a lookup shows two plans with two LAs' contacts.
	TestPatient = "9990276579"
	// TestPatient2 is the other published test patient: a LAC with
	// Cambridgeshire, sent in the XML return.
	TestPatient2 = "9990275831"
	// UnknownNHS is a valid NHS number deliberately absent from
	// Demographics: Camden's return sends it to show CPR01.
	UnknownNHS = "9995724111"
)
