// Package schedule runs the hub's jobs on cron schedules: it reads and
// validates a set of schedule files (Load), computes the next runs of each
// job (Set.Next, for `cpis schedules list` and the daemon's start-up log),
// and runs the jobs on github.com/robfig/cron/v3 in Europe/London time
// (Scheduler, used by `cpis serve`). The shipped set is embedded by package
// cpis/schedules; `cpis serve --schedules DIR` replaces it as a whole.
//
// # Schedule files
//
// A set is every file named *.schedule at the top of a directory, read in
// name order. Each line schedules one job:
//
//	<minute> <hour> <day of month> <month> <day of week>  <job>
//	@daily <job>            (also @hourly, @weekly, @monthly, @yearly)
//	@every <duration> <job> (a Go duration, e.g. 15m; counted from start-up)
//
// The five fields are those of crontab(5) as robfig/cron's ParseStandard
// reads them (names such as MON and JAN allowed). `#` starts a comment;
// blank lines are ignored. There is no time-zone prefix (CRON_TZ= or TZ=):
// every job runs in Europe/London time. There are no per-job flags.
//
// Load checks the whole set and reports every problem at once, each naming
// file, line and value: an unknown job, a spec that does not parse or never
// fires, a job scheduled twice, a known job not scheduled at all (so a typo
// cannot silently drop the nightly ingest), and a spec that runs in the
// 01:00-01:59 London hour without running every hour.
//
// # Clock changes
//
// London's clocks go forward at 01:00 GMT on the last Sunday in March (the
// 01:00-01:59 hour does not exist) and back at 02:00 BST on the last Sunday
// in October (01:00-01:59 happens twice). robfig/cron, as tested here, skips
// a 01:30 daily job on the spring day and runs it twice on the autumn day;
// every other hour runs exactly once on both days. Hence the rule above:
// a job may touch the 01 hour only if it runs at least hourly, where one run
// fewer or one more does no harm. A frequent job keeps its real-time rhythm:
// */15 runs at 00:45 GMT then 02:00 BST (15 minutes later) in spring, and at
// 01:45 BST then 01:00 GMT in autumn.
//
// # The Scheduler
//
// Each job gets its own cron.Cron, built as
//
//	cron.New(cron.WithLocation(London),
//		cron.WithChain(cron.SkipIfStillRunning(l), cron.Recover(l)))
//
// so that a run still going when the next is due is skipped (and recorded
// as skipped, with the job's name, which robfig's wrappers do not log), and
// a panic is recovered, logged with its stack and recorded, and the job runs
// again next time. Jobs run with the context given to Start; Stop stops
// new runs and returns a context done when running jobs have finished;
// Reload swaps schedules only when the whole new set is usable. Every run
// is passed to the OnRun hook (for the daemon to persist, `cpis jobs`) and
// kept in memory (Recent).
package schedule
