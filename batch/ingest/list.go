package ingest

import (
	"time"

	"cpis/store"
)

// StateWaitingBehindHeld is the State of an Unfinished return that waits
// untaken in its LA's inbox behind a held FULL return.
const StateWaitingBehindHeld = "waiting behind held return"

// Unfinished is a return whose lifecycle is not finished, as `cpis returns
// list` and the operations pages show it: a message taken and held,
// waiting for demographics or interrupted (State is its store.State), or a
// DELTA return left untaken behind a held FULL return
// (StateWaitingBehindHeld, with no message ID yet).
type Unfinished struct {
	MessageID string `json:"message_id"`
	LA        string `json:"la"`
	State     string `json:"state"`
	File      string `json:"file"`
	Extract   string `json:"extract_date"`
	Code      string `json:"code,omitempty"`
	Detail    string `json:"detail_code,omitempty"`
	// Withdrawn is how many plans the return would withdraw (held) or
	// withdrew.
	Withdrawn int `json:"withdrawn"`
	// Behind is the held return a DELTA waits behind, untaken in the inbox.
	Behind string `json:"waits_behind,omitempty"`
	// Taken is when the message was taken; zero for a file not yet taken.
	Taken time.Time `json:"-"`
}

// Held reports whether u is a held FULL return, which operations release
// or discard.
func (u Unfinished) Held() bool { return u.State == string(store.Held) }

// ListUnfinished returns every unfinished return: the open messages (Open),
// by LA then order taken, then the DELTA returns waiting behind a held
// FULL return (WaitingBehindHeld).
func ListUnfinished(dataDir string, db *store.DB) ([]Unfinished, error) {
	open, err := Open(db)
	if err != nil {
		return nil, err
	}
	var out []Unfinished
	for _, m := range open {
		u := Unfinished{MessageID: m.MessageID, LA: m.LA, State: string(m.State), File: m.File, Extract: m.Extract.String(), Taken: m.TakenAt}
		if m.Outcome != nil {
			u.Code, u.Detail, u.Withdrawn = string(m.Outcome.Code), string(m.Outcome.Detail), m.Outcome.Counts.Withdrawn
		}
		out = append(out, u)
	}
	behind, err := WaitingBehindHeld(dataDir, open)
	if err != nil {
		return nil, err
	}
	for _, w := range behind {
		out = append(out, Unfinished{LA: w.LA, State: StateWaitingBehindHeld, File: w.File, Extract: w.Extract.String(), Behind: w.Held})
	}
	return out, nil
}
