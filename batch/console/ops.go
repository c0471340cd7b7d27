package console

import (
	"cpis/batch/overview"
	"cpis/store"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// opsNav is the navigation of an operations user.
var opsNav = []navItem{
	{ID: "home", Text: "Last night", Href: "/ops/", Section: "home"},
	{ID: "held", Text: "Held returns", Href: "/ops/held", Section: "held"},
	{ID: "undelivered", Text: "Undelivered", Href: "/ops/undelivered", Section: "undelivered"},
	{ID: "quiet", Text: "Quiet LAs", Href: "/ops/quiet", Section: "quiet"},
	{ID: "reports", Text: "Reports", Href: "/ops/reports", Section: "reports"},
	{ID: "users", Text: "Users", Href: "/ops/users", Section: "users"},
}

// opsRoutes registers the operations pages (the package doc lists them).
// Each is for operations users only: an LA user gets 403.
func (s *Server) opsRoutes() {
	s.handle("GET /ops/{$}", RoleOps, s.opsHome)
	s.handle("GET /ops/held", RoleOps, s.opsHeld)
	s.handle("GET /ops/held/{id}", RoleOps, s.opsHeldReview)
	s.handle("POST /ops/held/{id}", RoleOps, s.opsHeldDecide)
	s.handle("GET /ops/undelivered", RoleOps, s.opsUndelivered)
	s.handle("GET /ops/quiet", RoleOps, s.opsQuiet)
	s.handle("GET /ops/reports", RoleOps, s.opsReports)
	s.handle("GET /ops/reports/{name}", RoleOps, s.opsReport)
	s.handle("GET /ops/users", RoleOps, s.opsUsers)
}

// opsHomeData is the overview's own data: what waits for operations, and
// the last night's jobs and returns.
type opsHomeData struct {
	Glance overview.Glance
	Night  *overview.Night
	Jobs   []jobRow
	// Sent are the LAs with a return taken last night; Silent counts the
	// others.
	Sent   []overview.LANight
	Silent int
}

func (s *Server) opsHome(c *Ctx) error {
	now := c.Now()
	g, err := overview.AtAGlance(s.opts.DataDir, s.opts.DB, now)
	if err != nil {
		return err
	}
	n, err := overview.LastNight(s.opts.DB, now)
	if err != nil {
		return err
	}
	d := opsHomeData{Glance: g, Night: n}
	for _, j := range n.Jobs {
		d.Jobs = append(d.Jobs, jobRowOf(j))
	}
	for _, l := range n.LAs {
		if len(l.Returns) > 0 {
			d.Sent = append(d.Sent, l)
		} else {
			d.Silent++
		}
	}
	return c.Render("ops_home", "Last night", "home", d)
}

// jobRow is a job of the night with its status tag.
type jobRow struct {
	overview.Job
	Status, StatusClass string
}

func jobRowOf(j overview.Job) jobRow {
	r := jobRow{Job: j}
	switch {
	case j.Runs == 0:
		r.Status, r.StatusClass = "Did not run", "nhsuk-tag--grey"
	case j.Failed > 0:
		r.Status, r.StatusClass = "Failed", "nhsuk-tag--red"
	case j.Skipped > 0:
		r.Status, r.StatusClass = "Skipped", "nhsuk-tag--yellow"
	default:
		r.Status, r.StatusClass = "OK", "nhsuk-tag--green"
	}
	return r
}

// tag is a status tag: its text and its colour class.
type tag struct{ Text, Class string }

func init() {
	// opsCounts writes a job's counts for people: "held 1, returns 1".
	funcs["opsCounts"] = func(counts map[string]int) string {
		parts := make([]string, 0, len(counts))
		for _, k := range slices.Sorted(maps.Keys(counts)) {
			parts = append(parts, fmt.Sprintf("%s %d", k, counts[k]))
		}
		return strings.Join(parts, ", ")
	}
	// opsStatus is the status tag of a return as the store holds it now
	// (templates: {{with opsStatus .}}).
	funcs["opsStatus"] = func(r overview.Return) tag {
		switch r.State {
		case store.Held:
			return tag{"Held", "nhsuk-tag--orange"}
		case store.Waiting:
			return tag{"Waiting for demographics", "nhsuk-tag--yellow"}
		case store.Responded, store.Decided:
			if r.Applied {
				return tag{"Applied", "nhsuk-tag--green"}
			}
			return tag{"Not applied", "nhsuk-tag--red"}
		}
		return tag{"Being processed", "nhsuk-tag--blue"}
	}
}
