package jobs

import (
	"context"
	"fmt"

	"cpis/batch/meshstore"
	"cpis/mesh/remote"
)

// RemoteResult is what a pull or push did.
type RemoteResult struct {
	remote.Result
}

// Failure says how many remote mailboxes failed.
func (r RemoteResult) Failure() error {
	if len(r.Failed) == 0 {
		return nil
	}
	return partsFailed(fmt.Sprintf("%d remote mailbox(es) failed", len(r.Failed)), r.Failed)
}

// Pull fetches returns from every LA's remote mailbox into its inbox.
func Pull(ctx context.Context, e Env) (RemoteResult, error) {
	res, err := remote.Pull(ctx, meshstore.RemoteConfig(e.DataDir, e.DB, e.Now, e.log(), e.SizeLimit))
	return RemoteResult{res}, err
}

// Push delivers every LA's outbox messages to its remote mailbox.
func Push(ctx context.Context, e Env) (RemoteResult, error) {
	res, err := remote.Push(ctx, meshstore.RemoteConfig(e.DataDir, e.DB, e.Now, e.log(), 0))
	return RemoteResult{res}, err
}
