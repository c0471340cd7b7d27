package bench

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"cpis/batch/generate"
	"cpis/batch/returns"
)

// The comparison with a bare database import (--vs-sqlite): the sqlite3
// command loads the same generated files into a database of two keyed
// tables, and its time is set beside the hub's.
//
//   - The demographics file is imported (.import) into a table keyed on
//     nhs_number, in one sqlite3 process: set beside "init + demographics
//     import".
//   - Every LA's FULL return is imported, in one sqlite3 process, into a
//     table keyed on (nhs_number, plan_type), a later row replacing an
//     earlier one with the same key: set beside "night 1: ingest FULL".
//     Each return is read by .import into a temporary table named by its
//     own header (LAs order their columns differently), then inserted into
//     the keyed table in one statement: one commit per return, as the
//     hub's ingest commits each return.
//
// sqlite3 reads no XML, so the rows of an XML return are written to a CSV
// file beforehand (not timed). The database's size is that of the store
// after the first night's ingest: the same plans and demographics.

// SQLiteDatabase is the name of the database the comparison makes in the
// bench directory.
const SQLiteDatabase = "sqlite.db"

// sqlitePlanColumns are the plans table's columns after la, named as in a
// CSV return's header.
var sqlitePlanColumns = []string{"nhs_number", "plan_type", "start_date", "end_date", "due_date",
	"local_id", "family_name", "given_name", "date_of_birth"}

// sqliteSchema makes the two keyed tables.
const sqliteSchema = `CREATE TABLE demographics (nhs_number TEXT PRIMARY KEY, family_name TEXT, given_name TEXT,
  date_of_birth TEXT, superseded_by TEXT, sensitive TEXT, date_of_death TEXT);
CREATE TABLE plans (la TEXT, nhs_number TEXT, plan_type TEXT, start_date TEXT, end_date TEXT, due_date TEXT,
  local_id TEXT, family_name TEXT, given_name TEXT, date_of_birth TEXT,
  PRIMARY KEY (nhs_number, plan_type) ON CONFLICT REPLACE);
`

// sqliteStages runs the two sqlite3 imports of the generated set res with
// the command sqlite3, making the database in dir, and returns their
// stages: rows, wall time and CPU time of the sqlite3 process, and the
// database's size. (Its peak memory is not measured: a child's peak as
// the system reports it may count the Go process it was started from.)
func sqliteStages(ctx context.Context, sqlite3 string, res *generate.Result, dir string) ([]Stage, error) {
	work := filepath.Join(dir, "sqlite")
	if err := os.MkdirAll(work, 0o755); err != nil {
		return nil, err
	}
	db := filepath.Join(dir, SQLiteDatabase)
	arg, err := shellArg(filepath.Join(res.Dir, generate.DemographicsFile))
	if err != nil {
		return nil, err
	}
	script := sqliteSchema + ".import --csv --skip 1 " + arg + " demographics\n"
	demog, err := runSQLite(ctx, sqlite3, db, script, StageSQLiteDemographics, res.People)
	if err != nil {
		return nil, err
	}

	var b strings.Builder
	for _, r := range res.Returns {
		if r.Full == "" {
			continue
		}
		src := filepath.Join(res.Dir, filepath.FromSlash(r.Full))
		if r.Format != returns.CSV {
			if src, err = csvOfReturn(src, work); err != nil {
				return nil, err
			}
		}
		header, err := csvHeader(src)
		if err != nil {
			return nil, err
		}
		named := map[string]string{} // column -> its name in the header
		for _, h := range header {
			named[strings.ToLower(strings.TrimSpace(h))] = h
		}
		cols := []string{sqliteQuote(r.LA)}
		for _, c := range sqlitePlanColumns {
			if h, ok := named[c]; ok {
				cols = append(cols, `"`+strings.ReplaceAll(h, `"`, `""`)+`"`)
			} else {
				cols = append(cols, "NULL")
			}
		}
		arg, err := shellArg(src)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(&b, ".import --csv --schema temp %s staging\n", arg)
		fmt.Fprintf(&b, "INSERT INTO plans SELECT %s FROM temp.staging;\nDROP TABLE temp.staging;\n", strings.Join(cols, ", "))
	}
	full, err := runSQLite(ctx, sqlite3, db, b.String(), StageSQLiteFull, res.Plans)
	if err != nil {
		return nil, err
	}
	return []Stage{demog, full}, nil
}

// runSQLite runs script in one sqlite3 process on the database db and
// measures it as the stage name of rows rows.
func runSQLite(ctx context.Context, sqlite3, db, script, name string, rows int) (Stage, error) {
	cmd := exec.CommandContext(ctx, sqlite3, "-bail", "-batch", db)
	cmd.Stdin = strings.NewReader(script)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	settle() // as before the hub's stages
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if err == nil && out.Len() > 0 {
		err = errors.New("unexpected output")
	}
	if err != nil {
		return Stage{}, fmt.Errorf("%s: %w: %s", name, err, strings.TrimSpace(out.String()))
	}
	st := Stage{Name: name, Rows: rows, Wall: wall}
	if ps := cmd.ProcessState; ps != nil {
		st.CPU = ps.UserTime() + ps.SystemTime()
	}
	if fi, err := os.Stat(db); err == nil {
		st.Bytes = fi.Size()
	}
	return st, nil
}

// csvOfReturn writes the rows of the return at src (any format the hub
// reads) as a CSV file in dir, with the columns of a CSV return, and
// returns its path.
func csvOfReturn(src, dir string) (string, error) {
	name, err := returns.ParseName(filepath.Base(src))
	if err != nil {
		return "", err
	}
	in, err := os.Open(src)
	if err != nil {
		return "", err
	}
	defer in.Close()
	rd, err := returns.NewReader(in, name)
	if err != nil {
		return "", fmt.Errorf("%s: %w", src, err)
	}
	dst := filepath.Join(dir, strings.TrimSuffix(filepath.Base(src), filepath.Ext(src))+".csv")
	out, err := os.Create(dst)
	if err != nil {
		return "", err
	}
	defer out.Close()
	bw := bufio.NewWriter(out)
	cw := csv.NewWriter(bw)
	if err := cw.Write(sqlitePlanColumns); err != nil {
		return "", err
	}
	for {
		r, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", fmt.Errorf("%s: %w", src, err)
		}
		if err := cw.Write([]string{r.NHSNumber, r.PlanType, r.StartDate, r.EndDate, r.DueDate,
			r.LocalID, r.FamilyName, r.GivenName, r.DateOfBirth}); err != nil {
			return "", err
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return "", err
	}
	if err := bw.Flush(); err != nil {
		return "", err
	}
	return dst, out.Close()
}

// csvHeader returns the header fields of the CSV file at path.
func csvHeader(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h, err := csv.NewReader(f).Read()
	if err != nil {
		return nil, fmt.Errorf("header of %s: %w", path, err)
	}
	return h, nil
}

// sqliteQuote quotes s as an SQL string literal.
func sqliteQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// shellArg quotes a file name as an argument of a sqlite3 dot-command,
// which takes everything up to the next single quote literally.
func shellArg(path string) (string, error) {
	if strings.ContainsAny(path, "'\n") {
		return "", fmt.Errorf("sqlite3 cannot be given the file name %q", path)
	}
	return "'" + path + "'", nil
}
