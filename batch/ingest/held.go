package ingest

import (
	"context"
	"fmt"

	"cpis/batch/returns"
	"cpis/mesh/local"
	"cpis/store"
	"cpis/store/caldate"
	"cpis/store/codes"
)

// Open returns every message whose lifecycle is not finished (held, waiting
// for demographics, or interrupted), by LA then order taken.
func Open(db *store.DB) ([]*store.Message, error) {
	var out []*store.Message
	err := db.View(func(tx *store.Tx) error {
		var err error
		out, err = tx.OpenMessages("")
		return err
	})
	return out, err
}

// Waiting is a DELTA return left untaken in its LA's inbox behind the LA's
// held FULL return; ingest takes it once the held return is released or
// discarded.
type Waiting struct {
	LA      string
	File    string
	Extract caldate.Date
	// Held is the message ID of the held FULL return it waits behind.
	Held string
}

// waitsBehind is the rule of a held FULL return (returns.md): a DELTA
// return of its LA dated after it, or on its date (FULL before DELTA),
// waits untaken in the inbox, since applying it would build on plans the
// held return may still withdraw.
func waitsBehind(n returns.Name, held *store.Message) bool {
	return held != nil && n.Kind == returns.Delta && n.LA == held.LA && !n.Extract.Before(held.Extract)
}

// latestHeld returns the held FULL return with the latest extract date
// among one LA's open messages, or nil when none is held.
func latestHeld(open []*store.Message) *store.Message {
	var held *store.Message
	for _, m := range open {
		if m.State == store.Held && (held == nil || m.Extract.After(held.Extract)) {
			held = m
		}
	}
	return held
}

// WaitingBehindHeld lists the DELTA returns that wait untaken in an inbox
// behind a held FULL return of their LA, given the open messages (Open):
// by LA, then as the inbox lists them. It reads file names only, so a
// return listed may still be refused when it is finally taken.
func WaitingBehindHeld(dataDir string, open []*store.Message) ([]Waiting, error) {
	byLA := map[string][]*store.Message{}
	var order []string
	for _, m := range open {
		if _, ok := byLA[m.LA]; !ok {
			order = append(order, m.LA)
		}
		byLA[m.LA] = append(byLA[m.LA], m)
	}
	var out []Waiting
	for _, la := range order {
		held := latestHeld(byLA[la])
		if held == nil {
			continue
		}
		files, err := local.Open(dataDir, held.MailboxID).InboxFiles()
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			if n, err := returns.ParseName(f.Name); err == nil && waitsBehind(n, held) {
				out = append(out, Waiting{LA: la, File: f.Name, Extract: n.Extract, Held: held.MessageID})
			}
		}
	}
	return out, nil
}

// Release applies a held FULL return against the store as it is now, with
// no second safety hold, and answers the LA with a new response.
func Release(ctx context.Context, cfg Config, messageID string) (Result, error) {
	return operate(ctx, cfg, messageID, func(l *laRun, m *store.Message) error {
		return l.decide(ctx, m, false)
	})
}

// Discard drops a held FULL return for good (F012) and tells the LA.
func Discard(ctx context.Context, cfg Config, messageID string) (Result, error) {
	return operate(ctx, cfg, messageID, func(l *laRun, m *store.Message) error {
		out := fileOutcome(codes.Problem{Detail: codes.F012, Text: fmt.Sprintf(
			"the held return %s was discarded by the CP-IS operations team: it will never be applied.", m.File)})
		return l.cfg.DB.Update(func(tx *store.Tx) error {
			if err := tx.DeleteOutcomes(m.Key); err != nil {
				return err
			}
			return record(tx, m, out, store.Decided, l.cfg.Now())
		})
	})
}

// ErrNotHeld means the message named is not a held return.
var ErrNotHeld = fmt.Errorf("not a held return")

func operate(ctx context.Context, cfg Config, messageID string, act func(*laRun, *store.Message) error) (Result, error) {
	cfg.defaults()
	open, err := Open(cfg.DB)
	if err != nil {
		return Result{}, err
	}
	var m *store.Message
	for _, o := range open {
		if o.MessageID == messageID && o.State == store.Held {
			m = o
		}
	}
	if m == nil {
		return Result{}, fmt.Errorf("message %s: %w (see `cpis returns list`)", messageID, ErrNotHeld)
	}
	var a store.Authority
	if err := cfg.DB.View(func(tx *store.Tx) error {
		var ok bool
		a, ok, err = tx.Authority(m.LA)
		if !ok && err == nil {
			err = fmt.Errorf("LA %s is not known", m.LA)
		}
		return err
	}); err != nil {
		return Result{}, err
	}
	l := &laRun{cfg: &cfg, la: a, mb: local.Open(cfg.DataDir, a.MailboxID), today: caldate.InLondon(cfg.Now())}
	// Responses owed from before are written first, so each response shows
	// the row outcomes of its own decision.
	if err := l.respond(m); err != nil {
		return Result{}, err
	}
	if err := act(l, m); err != nil {
		return Result{}, err
	}
	if err := l.respond(m); err != nil {
		return Result{}, err
	}
	l.addResult(m)
	if err := l.respondOthers(m); err != nil {
		return Result{}, err
	}
	return l.results[0], nil
}
