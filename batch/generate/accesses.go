package generate

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
)

// setting is a care setting of store/domain.md with its share of lookups, the
// kind of organisation it belongs to and the roles of its users.
type setting struct {
	code  string
	share int // per 1000 lookups
	kind  orgKind
	roles []string
}

type orgKind int

const (
	acute orgKind = iota
	community
	ambulance
	urgent
	practice
	dental
	numKinds
)

// settings: mostly unscheduled care (which notifies LAs), some scheduled.
var settings = []setting{
	{"ED", 400, acute, []string{"Staff Nurse", "Emergency Department Consultant", "Emergency Nurse Practitioner", "Foundation Doctor"}},
	{"MIU", 70, community, []string{"Nurse Practitioner", "Staff Nurse"}},
	{"WIC", 50, community, []string{"Nurse Practitioner", "Healthcare Assistant"}},
	{"AMB", 80, ambulance, []string{"Paramedic", "Emergency Care Assistant"}},
	{"OOH", 50, urgent, []string{"GP", "Advanced Nurse Practitioner"}},
	{"PAED", 60, acute, []string{"Paediatric Registrar", "Children's Nurse"}},
	{"MAT", 50, acute, []string{"Midwife", "Obstetric Registrar"}},
	{"111", 80, urgent, []string{"Health Advisor", "Clinical Advisor"}},
	{"EDENT", 10, acute, []string{"Dental Core Trainee"}},
	{"GP", 60, practice, []string{"GP", "Practice Nurse"}},
	{"CAMHS", 30, acute, []string{"Clinical Psychologist", "Mental Health Nurse"}},
	{"SARC", 10, acute, []string{"Forensic Nurse Examiner"}},
	{"TOP", 10, acute, []string{"Nurse Specialist"}},
	{"0-19", 20, community, []string{"Health Visitor", "School Nurse"}},
	{"CPAED", 10, acute, []string{"Community Paediatrician"}},
	{"DENT", 10, dental, []string{"Dentist", "Dental Nurse"}},
}

// orgCounts is how many organisations of each kind exist.
var orgCounts = [numKinds]int{acute: 40, community: 25, ambulance: 10, urgent: 8, practice: 120, dental: 30}

var orgSuffix = [numKinds]string{
	acute:     "General Hospital NHS Trust",
	community: "Community Health Services",
	ambulance: "Ambulance Service",
	urgent:    "Urgent Care Partnership",
	practice:  "Medical Practice",
	dental:    "Dental Practice",
}

type org struct {
	code, name string
	users      []string
}

// Invented place names: a stem and an ending.
var (
	placeStems = []string{"Ash", "Brack", "Cold", "Dun", "Elm", "Fern", "Glen", "Hollin", "Kings", "Lark",
		"Mill", "Norr", "Oak", "Pen", "Raven", "Stan", "Thorn", "Wick", "Yarrow", "Quill"}
	placeEnds = []string{"bury", "field", "ford", "hampton", "leigh", "mere", "stead", "wick", "worth", "dale", "brook", "combe"}
)

// makeOrgs invents the organisations and their users.
func makeOrgs(rng *rand.Rand) [numKinds][]org {
	var out [numKinds][]org
	n := 0
	for k := range numKinds {
		for range orgCounts[k] {
			n++
			place := placeStems[rng.IntN(len(placeStems))] + placeEnds[rng.IntN(len(placeEnds))]
			o := org{code: fmt.Sprintf("ZZ%03d", n), name: place + " " + orgSuffix[k]}
			users := 5 + rng.IntN(20)
			for range users {
				o.users = append(o.users, givenNames[rng.IntN(len(givenNames))]+" "+familyNames[rng.IntN(len(familyNames))])
			}
			out[k] = append(out[k], o)
		}
	}
	return out
}

// writeAccesses writes the lookups: 85% of people with a plan, 15% of
// people with none.
func (g *gen) writeAccesses() error {
	f, err := createCSV(filepath.Join(g.opts.Out, AccessesFile), false, false)
	if err != nil {
		return err
	}
	defer f.abort()
	if err := f.header(strings.Split(AccessesHeader, ",")); err != nil {
		return err
	}
	rng := g.rng
	orgs := makeOrgs(rng)
	total := 0
	for _, s := range settings {
		total += s.share
	}
	for range g.opts.Accesses {
		var mid uint32
		if len(g.planned) > 0 && (rng.IntN(100) < 85 || len(g.extras) == 0) {
			mid = g.planned[rng.IntN(len(g.planned))]
		} else if len(g.extras) > 0 {
			mid = g.extras[rng.IntN(len(g.extras))]
		} else {
			break
		}
		u := rng.IntN(total)
		s := settings[0]
		for _, c := range settings {
			if u < c.share {
				s = c
				break
			}
			u -= c.share
		}
		of := orgs[s.kind]
		o := of[rng.IntN(len(of))]
		ui := rng.IntN(len(o.users))
		if err := f.write(nhsMid(mid), o.code, o.name, s.code, o.users[ui], s.roles[ui%len(s.roles)]); err != nil {
			return err
		}
		g.res.Accesses++
	}
	return f.close()
}

// Invented-looking names drawn from common ones, a few with the
// apostrophes, hyphens and accents LA systems send.
var (
	femaleNames = []string{
		"Amelia", "Isla", "Ava", "Mia", "Ivy", "Lily", "Freya", "Florence", "Willow", "Sophia",
		"Grace", "Evie", "Poppy", "Ella", "Rosie", "Aisha", "Maya", "Zara", "Hallie", "Nia",
		"Zoë", "Chloé", "Siân", "Ffion", "Layla", "Hana", "Zofia", "Amara", "Ama", "Lucía", "Priya",
	}
	maleNames = []string{
		"Oliver", "George", "Noah", "Arthur", "Leo", "Oscar", "Harry", "Muhammad", "Jack", "Charlie",
		"Theo", "Archie", "Alfie", "Jacob", "Finley", "Ayaan", "Kai", "Reggie", "Tommy", "Ibrahim",
		"Rhys", "Dylan", "Mason", "Ezra", "Kacper", "Tobiasz", "Kofi", "Mateo", "Aryan",
	}
	givenNames = append(append([]string(nil), femaleNames...), maleNames...)
)

var familyNames = []string{
	"Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Patel", "Robinson",
	"Wright", "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall", "Thomas", "Clarke",
	"Jackson", "Wood", "Harris", "Edwards", "Turner", "Martin", "Cooper", "Hill", "Ward", "Hughes",
	"Moore", "Clark", "King", "Harrison", "Lewis", "Baker", "Lee", "Allen", "Morris", "Khan",
	"Scott", "Watson", "Davis", "Parker", "James", "Bennett", "Young", "Phillips", "Richardson", "Mitchell",
	"Ahmed", "Begum", "Hussain", "Ali", "Singh", "Kaur", "Nguyen", "Chen", "Okafor", "Mensah",
	"Nowak", "Kowalski", "Popescu", "Öztürk", "Da Silva", "O'Brien", "O’Neill", "McAllister", "Smith-Jones", "Ap Rhys",
	"Fitzgerald", "Lloyd", "Pritchard", "Gallagher", "Doherty", "Ferreira", "Rossi", "Kaya", "Abdi", "Osei",
}
