package store

import (
	"time"

	"cpis/store/plans"
)

// Buckets of inactive-number findings (doc.go).
var (
	bInactiveSent    = bucket("inactive_sent")
	bInactivePending = bucket("inactive_pending")
)

// InactiveRow is one row of an inactive-number file.
type InactiveRow struct {
	NHSNumber string `json:"nhs_number"`
	LocalID   string `json:"local_id"`
	PlanType  string `json:"plan_type"`
	Reason    string `json:"reason"`
	Current   string `json:"current_nhs_number,omitempty"`
}

// InactiveFile is an inactive-number file decided and not yet written.
type InactiveFile struct {
	LA        string        `json:"la"`
	MessageID string        `json:"message_id"`
	File      string        `json:"file"`
	DecidedAt time.Time     `json:"decided_at"`
	Rows      []InactiveRow `json:"rows"`
}

func inactiveKey(k plans.Key, reason string) []byte {
	return concat(planKey(k), []byte{0}, []byte(reason))
}

// InactiveSent reports whether (number, plan, reason) was already reported.
func (t *Tx) InactiveSent(k plans.Key, reason string) (bool, error) {
	return t.b(bInactiveSent).Get(inactiveKey(k, reason)) != nil, nil
}

// MarkInactiveSent records that (number, plan, reason) was reported at at.
func (t *Tx) MarkInactiveSent(k plans.Key, reason string, at time.Time) error {
	return t.b(bInactiveSent).Put(inactiveKey(k, reason), []byte(at.UTC().Format(time.RFC3339Nano)))
}

// PutInactiveFile records a file to write.
func (t *Tx) PutInactiveFile(f InactiveFile) error {
	return putJSON(t.b(bInactivePending), concat([]byte(f.LA), []byte(f.MessageID)), f)
}

// PendingInactiveFiles returns the files decided and not yet written.
func (t *Tx) PendingInactiveFiles() ([]InactiveFile, error) {
	var out []InactiveFile
	err := t.b(bInactivePending).ForEach(func(k, v []byte) error {
		var f InactiveFile
		if err := jsonUnmarshal(v, &f); err != nil {
			return err
		}
		out = append(out, f)
		return nil
	})
	return out, err
}

// DeleteInactiveFile forgets a file once written.
func (t *Tx) DeleteInactiveFile(f InactiveFile) error {
	return t.b(bInactivePending).Delete(concat([]byte(f.LA), []byte(f.MessageID)))
}
