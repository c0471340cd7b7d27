// Package mesh owns the hub's MESH-style messages (mailboxes.md): mailbox
// and workflow identifiers, message IDs, the DTSControl control file, the
// rules that pair a data file with its control file and tell when it has
// settled (Pair), and the atomic write every mailbox backend uses. It holds no mailbox storage itself:
// sub-packages implement mailboxes (mesh/local for the folders on disk).
package mesh

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
)

// HubMailbox is the hub's own mailbox ID: every return is addressed to it
// and every message the hub writes comes from it.
const HubMailbox = "CPISHUB01"

// Workflow IDs (mailboxes.md, "Identifiers").
const (
	WorkflowUpload    = "CPIS_LA_UPLOAD"           // LA to hub: a return
	WorkflowUploadAck = "CPIS_LA_UPLOAD_ACK"       // hub to LA: the response to a return
	WorkflowAccess    = "CPIS_ACCESS_NOTIFICATION" // hub to LA: the daily access file
	WorkflowInactive  = "CPIS_INACTIVE_NHS_NUMBER" // hub to LA: inactive NHS numbers
)

// ControlExt is the extension of a control file.
const ControlExt = ".ctl"

var (
	// ErrTooLarge reports a message over the size limit, as stored or
	// while decompressing.
	ErrTooLarge = errors.New("size limit exceeded")
	// ErrNotGzip reports bytes that are not (or stop being) gzip in a
	// file that says it is compressed.
	ErrNotGzip = errors.New("not gzip")
	// ErrBadControl reports a control file that is not well-formed or does
	// not fit the message it travels with (the caller answers F002).
	ErrBadControl = errors.New("bad control file")
)

// MailboxID returns the mailbox ID of an LA from its DfE LA code:
// "LA" + code + "HC001", e.g. LA841HC001.
func MailboxID(laCode string) string {
	return "LA" + laCode + "HC001"
}

// LAError is an LA whose mailbox work failed (its host key, login,
// network, local disk or records) while the other LAs went on: the ingest
// and the remote pull and push report one per LA they could not serve.
type LAError struct {
	LA  string // the LA's code
	Err error
}

func (e *LAError) Error() string { return fmt.Sprintf("LA %s: %v", e.LA, e.Err) }

func (e *LAError) Unwrap() error { return e.Err }

// dataSuffixes are the whole suffixes a control-file name replaces; longer
// first so ".csv.gz" wins over ".gz".
var dataSuffixes = []string{".csv.gz", ".xml.gz", ".csv", ".xml"}

// ControlName returns the name of the control file that pairs with the data
// file dataName: its whole .csv/.xml[.gz] suffix (any case) replaced by
// ".ctl", so CPIS_841_FULL_20261121.csv.gz pairs with
// CPIS_841_FULL_20261121.ctl. Any other name has its last extension
// replaced (or ".ctl" appended when it has none).
func ControlName(dataName string) string {
	lower := strings.ToLower(dataName)
	for _, s := range dataSuffixes {
		if strings.HasSuffix(lower, s) && len(dataName) > len(s) {
			return dataName[:len(dataName)-len(s)] + ControlExt
		}
	}
	ext := filepath.Ext(dataName)
	return dataName[:len(dataName)-len(ext)] + ControlExt
}

// IsControlName reports whether name is a control file's name (".ctl" in
// any case).
func IsControlName(name string) bool {
	return strings.HasSuffix(strings.ToLower(name), ControlExt)
}

// IsTempName reports whether name is work in progress that is never read: a
// name starting with "." (the hub's own ".<name>.tmp" included) or ending
// ".filepart", ".part" or ".tmp" (any case).
func IsTempName(name string) bool {
	if strings.HasPrefix(name, ".") {
		return true
	}
	lower := strings.ToLower(name)
	for _, s := range []string{".filepart", ".part", ".tmp"} {
		if strings.HasSuffix(lower, s) {
			return true
		}
	}
	return false
}

// LimitReader returns a reader that reads from r and fails with an error
// wrapping ErrTooLarge as soon as r holds more than limit bytes. It asks r
// for at most limit+1 bytes, so a source of exactly limit bytes reads to
// io.EOF and the bytes past the limit are never handed on.
func LimitReader(r io.Reader, limit int64) io.Reader {
	if limit < 0 {
		limit = 0
	}
	return &limitReader{r: r, limit: limit}
}

type limitReader struct {
	r     io.Reader
	limit int64
	n     int64 // bytes read from r so far
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.n > l.limit {
		return 0, l.err()
	}
	if max := l.limit + 1 - l.n; int64(len(p)) > max {
		p = p[:max]
	}
	n, err := l.r.Read(p)
	l.n += int64(n)
	if l.n > l.limit {
		return n - int(l.n-l.limit), l.err()
	}
	return n, err
}

func (l *limitReader) err() error {
	return fmt.Errorf("%w: more than %d bytes", ErrTooLarge, l.limit)
}
