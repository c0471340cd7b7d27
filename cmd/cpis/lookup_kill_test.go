package main

// The kill test of health lookups (issue 3). Five times: start `cpis
// serve` on the same data dir, drive HTTP lookups from 16 workers, SIGKILL
// the daemon after a random delay while lookups are in flight. Then start
// it once more, read every history with silent reads, stop it (SIGTERM)
// and run `cpis notify --day`: every unscheduled access that was answered
// must be in the access file of each LA with a plan of the person, and in
// the person's history unless it was a same-user repeat.
//
// The clock is fixed (--now), so every access happens in the same second:
//   - "U" users make one unscheduled lookup each, of a person whose whole
//     history they make (at most 25 accesses per person, so none is
//     trimmed): every answered one must be in the history;
//   - "R" users (one per worker) look up the same few people again and
//     again: notified every time, in the history once per (user, person);
//   - "C" accesses, one worker's sequential lookups of one person, check
//     that the cap of 25 survives the kills, newest first;
//   - "S" users make silent reads (GP) and "N" users look up people with
//     no plan: neither may be notified nor enter a history.
// An access committed but not answered (in flight at the kill) may be
// notified: a file may hold more rows than answered accesses, never fewer,
// and never more than were sent.
//
// Reproduce a run with CPIS_KILL_SEED=<seed logged>.

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"cpis/batch/notify"
)

const (
	killNow        = "2026-11-22T10:00:00Z"
	killAtFile     = "2026-11-22T10:00:00+00:00" // accessed_at in an access file (London, winter)
	killOrg        = "RKL01"
	killOrgName    = "Kill Test Hospital Emergency Department"
	killRole       = "Staff Nurse"
	killIterations = 5
	killWorkers    = 16
)

var (
	killLAs         = []string{"201", "202", "841", "850"}
	killUnscheduled = []string{"ED", "MAT", "111", "MIU", "AMB", "WIC", "OOH", "PAED", "EDENT"}
	killDay         = "20261122"
)

// killAccess is one unscheduled access as the notification file names it.
type killAccess struct{ nhs, user, setting string }

type killAnswer struct {
	NHSNumber string `json:"nhs_number"`
	Alert     bool   `json:"alert"`
	Plans     []struct {
		PlanType       string `json:"plan_type"`
		LocalAuthority struct {
			Code string `json:"code"`
		} `json:"local_authority"`
	} `json:"plans"`
	AccessHistory []struct {
		AccessedAt string `json:"accessed_at"`
		OrgCode    string `json:"org_code"`
		OrgName    string `json:"org_name"`
		Setting    string `json:"setting"`
		UserName   string `json:"user_name"`
		UserRole   string `json:"user_role"`
	} `json:"access_history"`
}

// killPlan is a plan held in the test's hub.
type killPlan struct{ la, typ, localID string }

// killRecord is what the workers saw, for the checks after the kills.
type killRecord struct {
	mu        sync.Mutex
	attempted map[killAccess]int // unscheduled lookups sent of people with plans
	answered  map[killAccess]int // ... answered 200 with alert true
	capSent   map[string]bool    // "C" users sent
	capAns    []string           // "C" users answered, in order
	n         atomic.Int64       // answered lookups of this iteration
	capN      atomic.Int64       // answered "C" lookups of this iteration
}

func (r *killRecord) sent(a killAccess) {
	r.mu.Lock()
	r.attempted[a]++
	r.mu.Unlock()
}

func (r *killRecord) got(a killAccess) {
	r.mu.Lock()
	r.answered[a]++
	r.mu.Unlock()
}

// killDaemon is one `cpis serve` process with its HTTP API.
type killDaemon struct {
	*proc
	url string
}

func killFreePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func killStart(t *testing.T, bin, data string) *killDaemon {
	t.Helper()
	for attempt := 0; ; attempt++ {
		d, err := killStartOnce(t, bin, data)
		if err == nil {
			return d
		}
		// The free port may have been taken before the daemon listened.
		if attempt == 2 || !strings.Contains(d.log.String(), "address already in use") {
			t.Fatalf("%v:\n%s", err, d.log)
		}
	}
}

func killStartOnce(t *testing.T, bin, data string) (*killDaemon, error) {
	t.Helper()
	port := killFreePort(t)
	d := &killDaemon{url: fmt.Sprintf("http://127.0.0.1:%d/v1/alerts/", port)}
	d.proc = startProc(t, binCommand(bin, data, killNow, nil, "serve", "--no-sftp", "--no-scheduler",
		"--http", fmt.Sprintf("127.0.0.1:%d", port)))
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(d.url + "9990000000")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusUnauthorized {
				return d, nil
			}
		}
		if done, err := d.exited(); done {
			return d, fmt.Errorf("the daemon exited at start (%v)", err)
		}
		if time.Now().After(deadline) {
			return d, fmt.Errorf("the daemon's HTTP API never answered")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// killLookup makes one lookup; an error is a lookup not answered.
func killLookup(client *http.Client, url, token, nhs, setting, user string) (int, *killAnswer, error) {
	req, err := http.NewRequest(http.MethodGet, url+nhs, nil)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("X-Setting", setting)
	req.Header.Set("X-User-Name", user)
	req.Header.Set("X-User-Role", killRole)
	req.Header.Set("X-RBAC", "B0264,B0107")
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, nil, fmt.Errorf("status %d: %s", resp.StatusCode, body)
	}
	var ans killAnswer
	if err := json.Unmarshal(body, &ans); err != nil {
		return resp.StatusCode, nil, fmt.Errorf("answer %q: %w", body, err)
	}
	return resp.StatusCode, &ans, nil
}

func TestLookupKill(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary, kills and restarts the daemon")
	}
	started := time.Now()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("CPIS_KILL_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("CPIS_KILL_SEED=%q: %v", s, err)
		}
		seed = v
	}
	t.Logf("seed %d (rerun with CPIS_KILL_SEED=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 1))

	bin := cpisBinary(t)
	tmp := t.TempDir()
	data := filepath.Join(tmp, "data")

	// The hub: four LAs; 400 people with a plan, one in five with a second
	// plan at another LA ("U" people), 10 "R" people, one "C" person; 100
	// people in the reference with no plan.
	people := testNHS(520)
	hist, repeat, capPerson, noPlan := people[:400], people[400:410], people[410], people[420:520]
	held := map[string][]killPlan{}
	returns := map[string][]string{}
	for i, n := range people[:411] {
		la := killLAs[i%len(killLAs)]
		p := killPlan{la: la, typ: []string{"CPP", "LAC"}[i%2], localID: fmt.Sprintf("K-%d", i)}
		held[n] = append(held[n], p)
		if i%5 == 0 {
			held[n] = append(held[n], killPlan{la: killLAs[(i+1)%len(killLAs)], typ: "CPP", localID: fmt.Sprintf("K2-%d", i)})
		}
	}
	for n, ps := range held {
		for _, p := range ps {
			returns[p.la] = append(returns[p.la], fmt.Sprintf("%s,%s,2026-01-02,,,%s", n, p.typ, p.localID))
		}
	}
	var las strings.Builder
	las.WriteString("la_code,gss_code,name,region,mailbox_id,emergency_phone,office_phone\n")
	for i, la := range killLAs {
		fmt.Fprintf(&las, "%s,E0900000%d,Authority %s,London,,020 7946 000%d,\n", la, i+1, la, i)
	}
	files := map[string]string{"authorities.csv": las.String(), "pds.csv": pdsCSV(people)}
	for la, rows := range returns {
		sort.Strings(rows)
		files[fmt.Sprintf("CPIS_%s_FULL_20261121.csv", la)] = "nhs_number,plan_type,start_date,end_date,due_date,local_id\r\n" + strings.Join(rows, "\r\n") + "\r\n"
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(tmp, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	setup := "2026-11-22T02:30:00Z"
	binOK(t, bin, data, setup, "init", "--authorities", filepath.Join(tmp, "authorities.csv"), "--pds", filepath.Join(tmp, "pds.csv"))
	for _, la := range killLAs {
		binOK(t, bin, data, setup, "mailbox", "send", "--la", la, filepath.Join(tmp, fmt.Sprintf("CPIS_%s_FULL_20261121.csv", la)))
	}
	if out := binOK(t, bin, data, setup, "ingest", "--json"); strings.Count(out, `"code":"CPF02"`) != len(killLAs) {
		t.Fatalf("ingest: %s", out)
	}
	token := strings.TrimSpace(binOK(t, bin, data, setup, "orgs", "add", killOrg, "--name", killOrgName))

	rec := &killRecord{attempted: map[killAccess]int{}, answered: map[killAccess]int{}, capSent: map[string]bool{}}
	budget := make([]atomic.Int32, len(hist)) // unscheduled lookups sent per "U" person
	wantPlans := func(nhs string) []string {
		var out []string
		for _, p := range held[nhs] {
			out = append(out, p.la+"/"+p.typ)
		}
		sort.Strings(out)
		return out
	}

	for it := range killIterations {
		d := killStart(t, bin, data)
		tr := &http.Transport{MaxIdleConnsPerHost: killWorkers}
		client := &http.Client{Transport: tr, Timeout: 15 * time.Second}
		var stop, killed atomic.Bool
		var wg sync.WaitGroup
		var errMu sync.Mutex
		var errs []string
		fail := func(format string, args ...any) {
			errMu.Lock()
			defer errMu.Unlock()
			if len(errs) < 20 {
				errs = append(errs, fmt.Sprintf(format, args...))
			}
		}
		rec.n.Store(0)
		rec.capN.Store(0)
		for w := range killWorkers {
			wrng := rand.New(rand.NewPCG(seed, uint64(1000*(it+1)+w)))
			wg.Add(1)
			go func() {
				defer wg.Done()
				for seq := 0; !stop.Load(); seq++ {
					var nhs, setting, user string
					notified := true // an answered alert owes notifications
					switch r := wrng.IntN(100); {
					case w == 0: // the "C" worker: one person, sequentially
						nhs, setting, user = capPerson, "ED", fmt.Sprintf("C%d-%d", it, seq)
						rec.mu.Lock()
						rec.capSent[user] = true
						rec.mu.Unlock()
					case r < 50:
						i := wrng.IntN(len(hist))
						nhs = hist[i]
						if budget[i].Add(1) <= 25 {
							setting, user = killUnscheduled[wrng.IntN(len(killUnscheduled))], fmt.Sprintf("U%d-%d-%d", it, w, seq)
						} else {
							setting, user, notified = "GP", fmt.Sprintf("S%d-%d-%d", it, w, seq), false
						}
					case r < 65:
						nhs, setting, user = repeat[wrng.IntN(len(repeat))], "MAT", fmt.Sprintf("R%d", w)
					case r < 85:
						nhs, setting, user, notified = hist[wrng.IntN(len(hist))], "GP", fmt.Sprintf("S%d-%d-%d", it, w, seq), false
					default:
						nhs, setting, user, notified = noPlan[wrng.IntN(len(noPlan))], "111", fmt.Sprintf("N%d-%d-%d", it, w, seq), false
					}
					a := killAccess{nhs, user, setting}
					if notified {
						rec.sent(a)
					}
					_, ans, err := killLookup(client, d.url, token, nhs, setting, user)
					if err != nil {
						if !killed.Load() {
							fail("lookup %v before the kill: %v", a, err)
						}
						continue
					}
					if slices.Contains(noPlan, nhs) {
						if ans.Alert || len(ans.Plans) != 0 || len(ans.AccessHistory) != 0 {
							fail("no-plan lookup %v answered %+v", a, ans)
						}
						rec.n.Add(1)
						continue
					}
					var got []string
					for _, p := range ans.Plans {
						got = append(got, p.LocalAuthority.Code+"/"+p.PlanType)
					}
					sort.Strings(got)
					if !ans.Alert || !slices.Equal(got, wantPlans(nhs)) {
						fail("lookup %v answered alert %v plans %v, want %v", a, ans.Alert, got, wantPlans(nhs))
						continue
					}
					if len(ans.AccessHistory) > 25 {
						fail("lookup %v answered %d history entries", a, len(ans.AccessHistory))
					}
					if notified {
						// The access being made is the newest entry, or the
						// user's own entry made earlier (same-user repeat).
						mine := 0
						for _, h := range ans.AccessHistory {
							if h.UserName == user {
								mine++
							}
						}
						if mine != 1 || (user[0] != 'R' && ans.AccessHistory[0].UserName != user) {
							fail("lookup %v answered a history with %d entries of its user: %+v", a, mine, ans.AccessHistory)
						}
						rec.got(a)
						if w == 0 {
							rec.mu.Lock()
							rec.capAns = append(rec.capAns, user)
							rec.mu.Unlock()
							rec.capN.Add(1)
						}
					}
					rec.n.Add(1)
				}
			}()
		}
		// Kill while lookups are in flight: once some are answered (and a
		// few of the "C" worker's), after a random delay.
		deadline := time.Now().Add(15 * time.Second)
		for rec.n.Load() < 40 || rec.capN.Load() < 6 {
			if time.Now().After(deadline) {
				stop.Store(true)
				t.Fatalf("iteration %d: only %d lookups answered in 15 s:\n%s", it, rec.n.Load(), d.log)
			}
			time.Sleep(2 * time.Millisecond)
		}
		delay := time.Duration(rng.IntN(300)) * time.Millisecond
		time.Sleep(delay)
		killed.Store(true)
		err := d.kill()
		stop.Store(true)
		wg.Wait()
		tr.CloseIdleConnections()
		t.Logf("iteration %d: SIGKILL %s after the 40th answer; %d lookups answered (%v)", it, delay, rec.n.Load(), err)
		for _, e := range errs {
			t.Error(e)
		}
		if t.Failed() {
			t.FailNow()
		}
	}

	// At most 40 failures are shown (a broken build fails thousands of checks).
	failures := 0
	errorf := func(format string, args ...any) {
		t.Helper()
		if failures++; failures <= 40 {
			t.Errorf(format, args...)
		}
	}
	defer func() {
		if failures > 40 {
			t.Errorf("... and %d more failures", failures-40)
		}
	}()

	// Restart; read every history with a silent read; stop cleanly.
	d := killStart(t, bin, data)
	client := &http.Client{Timeout: 15 * time.Second}
	histories := map[string]*killAnswer{}
	for _, nhs := range append(append(slices.Clone(hist), repeat...), capPerson) {
		_, ans, err := killLookup(client, d.url, token, nhs, "GP", "History Checker")
		if err != nil {
			t.Fatalf("silent read of %s after the restart: %v", nhs, err)
		}
		histories[nhs] = ans
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	if err, ok := d.wait(30 * time.Second); !ok {
		t.Fatalf("the daemon did not stop after SIGTERM:\n%s", d.log)
	} else if err != nil {
		t.Fatalf("the daemon did not stop cleanly: %v\n%s", err, d.log)
	}

	rec.mu.Lock()
	defer rec.mu.Unlock()
	answered, sent := 0, 0
	for _, n := range rec.answered {
		answered += n
	}
	for _, n := range rec.attempted {
		sent += n
	}
	if answered < 100 {
		errorf("only %d unscheduled accesses answered in all", answered)
	}

	// Histories: every answered access but same-user repeats, once; nothing
	// that was not sent; never more than 25.
	usersOf := map[string]map[string]string{} // nhs -> user -> setting sent
	for a := range rec.attempted {
		if usersOf[a.nhs] == nil {
			usersOf[a.nhs] = map[string]string{}
		}
		usersOf[a.nhs][a.user] = a.setting
	}
	for nhs, ans := range histories {
		seen := map[string]bool{}
		for _, h := range ans.AccessHistory {
			setting, ok := usersOf[nhs][h.UserName]
			if !ok || h.Setting != setting || h.AccessedAt != killNow || h.OrgCode != killOrg || h.OrgName != killOrgName || h.UserRole != killRole {
				errorf("history of %s has an entry not sent: %+v", nhs, h)
			}
			if seen[h.UserName] {
				errorf("history of %s has %s twice", nhs, h.UserName)
			}
			seen[h.UserName] = true
		}
		if len(ans.AccessHistory) > 25 {
			errorf("history of %s has %d entries", nhs, len(ans.AccessHistory))
		}
		if nhs == capPerson {
			continue
		}
		for a, n := range rec.answered {
			if a.nhs == nhs && n > 0 && !seen[a.user] {
				errorf("answered access %v is not in the history after the kills", a)
			}
		}
	}
	// The "C" person: the cap survives; newest first; the answered ones are
	// the last answered, in reverse order (a committed access not answered
	// may sit between them).
	capHist := histories[capPerson].AccessHistory
	if len(rec.capAns) < 26 || len(capHist) != 25 {
		errorf("capped history: %d answered, %d entries after the kills, want 25", len(rec.capAns), len(capHist))
	} else {
		var ansInHist []string
		for _, h := range capHist {
			if !rec.capSent[h.UserName] {
				errorf("capped history has %q, never sent", h.UserName)
			}
			if slices.Contains(rec.capAns, h.UserName) {
				ansInHist = append(ansInHist, h.UserName)
			}
		}
		want := slices.Clone(rec.capAns[len(rec.capAns)-len(ansInHist):])
		slices.Reverse(want)
		if !slices.Equal(ansInHist, want) || len(ansInHist) < 25-killIterations {
			errorf("capped history (newest first) %v, want the last answered %v", ansInHist, want)
		}
	}

	// The access files of the day: every answered access, once per plan of
	// the person, at least as often as answered, at most as often as sent.
	binOK(t, bin, data, "2026-11-23T03:10:00Z", "notify", "--day", "2026-11-22")
	type rowKey struct {
		killAccess
		la, typ, localID string
	}
	rows := map[rowKey]int{}
	total := 0
	for _, la := range killLAs {
		name := filepath.Join(data, "mailboxes", "LA"+la+"HC001", "outbox", "CPIS_"+la+"_ACCESS_"+killDay+".csv")
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		recs, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
		if err != nil || len(recs) == 0 || strings.Join(recs[0], ",") != notify.Header {
			t.Fatalf("%s: %v %q", name, err, b)
		}
		for _, r := range recs[1:] {
			// accessed_at,nhs_number,local_id,plan_type,org_code,org_name,setting,user_name,user_role
			if r[0] != killAtFile || r[4] != killOrg || r[5] != killOrgName || r[8] != killRole {
				errorf("%s: row %q", name, r)
			}
			rows[rowKey{killAccess{r[1], r[7], r[6]}, la, r[3], r[2]}]++
			total++
		}
	}
	for k, n := range rows {
		if !slices.Contains(held[k.nhs], killPlan{k.la, k.typ, k.localID}) {
			errorf("access file of %s has %d row(s) for a plan not held: %+v", k.la, n, k)
		}
		if sent := rec.attempted[k.killAccess]; n > sent {
			errorf("access file of %s has %d row(s) of %v, sent %d", k.la, n, k.killAccess, sent)
		}
	}
	for a, n := range rec.answered {
		for _, p := range held[a.nhs] {
			if got := rows[rowKey{a, p.la, p.typ, p.localID}]; got < n {
				errorf("answered access %v (%d times) is in %s's access file %d time(s)", a, n, p.la, got)
			}
		}
	}
	t.Logf("%d unscheduled accesses answered, %d sent; %d rows in the access files; %s in all",
		answered, sent, total, time.Since(started).Round(time.Millisecond))
}
