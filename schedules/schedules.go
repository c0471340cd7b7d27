// Package schedules holds the hub's shipped job schedules, embedded in the
// binary: the set `cpis serve` runs and `cpis schedules validate` checks
// when no directory is given. The format and the reasons for each time are
// in default.schedule and in package cpis/batch/schedule.
package schedules

import "embed"

// Default is the shipped set: every *.schedule file of this directory. Load
// it with schedule.Load(schedules.Default).
//
//go:embed *.schedule
var Default embed.FS
