package meshstore_test

// BenchmarkMeshAPIInProcess: the hub's MESH API (meshapi.New over
// MeshConfig, the store and the LA mailbox folders, audit included) in
// this process over httptest, 16 LA mailboxes sending 1,000 returns of
// 1 KiB to CPISHUB01 and then listing, downloading and acknowledging
// 1,000 hub messages, for profiling:
//
//	go test ./batch/meshstore -run '^$' -bench MeshAPIInProcess -benchtime 1x -cpuprofile cpu.out
//
// cmd/cpis's BenchmarkMeshHub measures the daemon itself.

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"cpis/batch/hubtest"
	"cpis/batch/meshstore"
	"cpis/mesh"
	"cpis/mesh/local"
	"cpis/mesh/meshapi"
	"cpis/mesh/meshapi/meshload"
	"cpis/store"
)

func BenchmarkMeshAPIInProcess(b *testing.B) {
	codes := []string{"201", "202", "203", "204", "205", "206", "207", "208", "209", "210", "211", "212", "213", "301", "302", "303"}
	const total, size = 1000, 1024
	data := bytes.Repeat([]byte("9990000018,CPP\n"), size/15+1)[:size]
	for range b.N {
		h := hubtest.New(b, hubtest.Options{LAs: codes})
		var key string
		if err := h.DB.Update(func(tx *store.Tx) error {
			key, _ = tx.MeshKey()
			for _, c := range codes {
				if err := tx.SetMeshPassword(c, mesh.MailboxID(c), []byte("pw-"+c), time.Now()); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		for j := range total {
			mb := local.Open(h.Dir, mesh.MailboxID(codes[j%len(codes)]))
			id := mesh.NewMessageID(time.Now())
			name := fmt.Sprintf("RESP_%04d.csv", j)
			ctl := mesh.OutgoingControl(mb.ID(), mesh.WorkflowUploadAck, id, name, "Response", time.Now())
			if err := mb.Deliver(name, func(w io.Writer) error { _, err := w.Write(data); return err }, ctl); err != nil {
				b.Fatal(err)
			}
		}
		cfg, err := meshstore.MeshConfig(h.Dir, h.DB, nil, nil, 0)
		if err != nil {
			b.Fatal(err)
		}
		srv, err := meshapi.New(cfg)
		if err != nil {
			b.Fatal(err)
		}
		ts := httptest.NewServer(srv)
		var cs []*meshload.Client
		for _, c := range codes {
			cl := meshload.NewClient(b, ts.URL, mesh.MailboxID(c), "pw-"+c, key, time.Now)
			cl.HTTP = &http.Client{Transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 4}}
			cs = append(cs, cl)
		}
		sendTime := meshload.Parallel(cs, func(i int, c *meshload.Client) {
			for j := i; j < total; j += len(cs) {
				c.Send(mesh.HubMailbox, mesh.WorkflowUpload, fmt.Sprintf("m%04d.csv", j), data, size, false)
			}
		})
		recvTime := meshload.Parallel(cs, func(i int, c *meshload.Client) {
			for _, id := range c.IDs(500) {
				if got := c.Retrieve(id); !bytes.Equal(got, data) {
					b.Errorf("%s: %d bytes, not the message", id, len(got))
				}
				c.Ack(id)
			}
		})
		ts.Close()
		b.ReportMetric(float64(total)/sendTime.Seconds(), "sends/s")
		b.ReportMetric(float64(total)/recvTime.Seconds(), "recv+ack/s")
	}
}
