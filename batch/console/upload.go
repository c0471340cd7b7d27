package console

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"strings"
	"time"

	"cpis/mesh"
)

// uploadTime bounds the reading of one upload (and its check): the
// server's 30-second read and write timeouts fit lookups, not a return of
// hundreds of megabytes on a slow link.
const uploadTime = 30 * time.Minute

// errTooLarge is an upload over the size limit.
var errTooLarge = mesh.ErrTooLarge

// upload is the file part of a multipart form, streaming.
type upload struct {
	// Name is the file's base name as the browser gave it.
	Name string
	// Body reads the file as it streams in. The request body as a whole
	// is bounded a little above the size limit (the form around the file),
	// failing with an *http.MaxBytesError past that.
	Body io.Reader
}

// nextUpload returns the next file part named field of c's multipart form
// (parts before it are skipped), with its body limited to the size limit,
// and lifts the server's read and write deadlines for this request. A
// form without the part, or whose file has no name (none was chosen),
// returns ok false.
func (c *Ctx) nextUpload(field string) (u upload, ok bool, err error) {
	if c.Multipart == nil {
		return upload{}, false, &PageError{Status: http.StatusBadRequest, Message: "The form was not sent as a file upload."}
	}
	rc := http.NewResponseController(c.W)
	deadline := time.Now().Add(uploadTime)
	_ = rc.SetReadDeadline(deadline) // unsupported only on writers of tests
	_ = rc.SetWriteDeadline(deadline)
	for {
		p, err := c.Multipart.NextPart()
		if errors.Is(err, io.EOF) {
			return upload{}, false, nil
		}
		if err != nil {
			return upload{}, false, uploadError(err)
		}
		if p.FormName() != field {
			continue
		}
		name := path.Base(strings.ReplaceAll(p.FileName(), "\\", "/"))
		if p.FileName() == "" || name == "." || name == "/" {
			return upload{}, false, nil
		}
		return upload{Name: name, Body: p}, true, nil
	}
}

// uploadError turns a failure to read the form into a page error.
func uploadError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) || errors.Is(err, errTooLarge) {
		return errTooLarge
	}
	return &PageError{Status: http.StatusBadRequest, Message: "The upload was cut short. Try again."}
}

// checkUploadName refuses names the inbox would never read (those that
// SFTP and MESH refuse too).
func checkUploadName(name string) error {
	if err := mesh.CheckName(name); err != nil {
		return fmt.Errorf("the file name %q cannot be used: %w", mesh.Printable(name), err)
	}
	if !mesh.IsPlainName(name) || mesh.IsTempName(name) || mesh.IsControlName(name) || len(name) > 200 {
		return fmt.Errorf("the file name %q cannot be used: name it CPIS_<LA>_<FULL or DELTA>_<YYYYMMDD>.csv, .xml or .xlsx", mesh.Printable(name))
	}
	return nil
}

// receiveReturn reads the return uploaded in the form's "file" field for
// the page that would verb it ("send", "check"). When it is too large,
// missing or badly named, the page is shown again with the reason (again)
// and ok is false.
func (s *Server) receiveReturn(c *Ctx, verb string, again func(status int, msg string) error) (up upload, ok bool, err error) {
	up, ok, err = c.nextUpload("file")
	switch {
	case errors.Is(err, errTooLarge):
		return up, false, again(http.StatusRequestEntityTooLarge, tooLargeMessage(s.opts.SizeLimit))
	case err != nil:
		return up, false, err
	case !ok:
		return up, false, again(http.StatusBadRequest, "Select a return to "+verb)
	}
	if err := checkUploadName(up.Name); err != nil {
		return up, false, again(http.StatusBadRequest, capital(err.Error()))
	}
	return up, true, nil
}
