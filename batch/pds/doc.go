// Package pds reads the demographics reference (a PDS extract) that the hub
// checks every return row against, and reconciles one row with it
// (store/domain.md, "Reconciliation against demographics").
//
// Read validates a whole import file while streaming it, so the caller can
// write the records in one store transaction and roll it back on the first
// error: the previous reference stays until a file is wholly good.
// Reconcile then decides, for one row, the rejection (P004 superseded, P001
// unknown, P002 sensitive, P003 date of birth) or the warnings (P005 name,
// P006 date of death) of batch/returns/returns.md, in that order.
//
// Two kinds of number change reach the hub differently. A merge keeps a
// public link: the old record names its successor in superseded_by, Current
// follows the chain to its end, and the rejection tells the LA the current
// number so it can correct its row. An adoption re-issues a number without
// any link: the old number simply leaves the reference, so a row under it is
// unknown (P001). Nothing here may reveal a number, or any demographic
// value, that the LA did not send itself, apart from the successor of a
// merged number: texts name the row's values, never the reference's.
package pds
