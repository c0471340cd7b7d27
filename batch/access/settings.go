// Package access answers health lookups (access.md): it checks who is
// asking, finds the plans visible today for a person, records unscheduled
// accesses in the person's history and owes each LA a notification, and
// audits every lookup and refusal.
//
// An unscheduled access is committed (history, notifications owed, audit)
// before its answer is returned; concurrent lookups share one disk sync
// through the store's group commit. Silent reads, "no alert" answers and
// refusals are audited in groups up to 100 ms late.
package access

// Kind says whether a care setting notifies the LA.
type Kind int

// Setting kinds (store/domain.md, "Care settings").
const (
	Unscheduled Kind = iota + 1 // history entry and notification
	Scheduled                   // silent read: audit only
)

// Settings maps each care setting code to its kind.
var Settings = map[string]Kind{
	"ED": Unscheduled, "MIU": Unscheduled, "WIC": Unscheduled, "AMB": Unscheduled,
	"OOH": Unscheduled, "PAED": Unscheduled, "MAT": Unscheduled, "111": Unscheduled,
	"EDENT": Unscheduled,
	"GP":    Scheduled, "CAMHS": Scheduled, "SARC": Scheduled, "TOP": Scheduled,
	"0-19": Scheduled, "CPAED": Scheduled, "DENT": Scheduled,
}

// Required RBAC codes: perform patient trace, view child protection plan.
const (
	RBACTrace    = "B0264"
	RBACViewPlan = "B0107"
)
