package jobs

import (
	"context"
	"fmt"
	"maps"

	"cpis/batch/meshjobs"
	"cpis/batch/meshstore"
	"cpis/mesh/remote"
)

// RemoteResult is what a pull or push did: over the LAs' SFTP remote
// mailboxes, and over the hub's own MESH mailbox when one is recorded.
type RemoteResult struct {
	remote.Result
	// MESH is the MESH part (Connected false when no connection is
	// recorded).
	MESH meshjobs.Result
}

// Counts summarises r: the remotes' counts, and the MESH part's (mesh_*)
// when a MESH connection is recorded.
func (r RemoteResult) Counts() map[string]int {
	out := r.Result.Counts()
	maps.Copy(out, r.MESH.Counts())
	return out
}

// Failure says how many remote mailboxes failed, and whether the MESH
// part did.
func (r RemoteResult) Failure() error {
	var failed []error
	for _, f := range r.Failed {
		failed = append(failed, f)
	}
	if r.MESH.Failed != nil {
		failed = append(failed, r.MESH.Failed)
	}
	switch {
	case len(failed) == 0:
		return nil
	case r.MESH.Failed == nil:
		return partsFailed(fmt.Sprintf("%d remote mailbox(es) failed", len(r.Failed)), failed)
	case len(r.Failed) == 0:
		return partsFailed("the MESH mailbox failed", failed)
	}
	return partsFailed(fmt.Sprintf("%d remote mailbox(es) and the MESH mailbox failed", len(r.Failed)), failed)
}

// Pull fetches returns from every LA's remote mailbox into its inbox, then
// from the hub's MESH mailbox (when one is recorded) into the inboxes of
// the LAs that sent them. A failure of one does not stop the other.
func Pull(ctx context.Context, e Env) (RemoteResult, error) {
	res, err := remote.Pull(ctx, meshstore.RemoteConfig(e.DataDir, e.DB, e.Now, e.log(), e.SizeLimit))
	if ctx.Err() != nil {
		return RemoteResult{Result: res}, err
	}
	m, merr := meshjobs.Pull(ctx, meshstore.MeshClientConfig(e.DataDir, e.DB, e.Now, e.log(), e.SizeLimit))
	if err == nil {
		err = merr
	}
	return RemoteResult{Result: res, MESH: m}, err
}

// Push delivers every LA's outbox messages to its remote mailbox, or over
// MESH (when a MESH connection is recorded, for the LAs it serves).
func Push(ctx context.Context, e Env) (RemoteResult, error) {
	res, err := remote.Push(ctx, meshstore.RemoteConfig(e.DataDir, e.DB, e.Now, e.log(), 0))
	if ctx.Err() != nil {
		return RemoteResult{Result: res}, err
	}
	m, merr := meshjobs.Push(ctx, meshstore.MeshClientConfig(e.DataDir, e.DB, e.Now, e.log(), 0))
	if err == nil {
		err = merr
	}
	return RemoteResult{Result: res, MESH: m}, err
}
