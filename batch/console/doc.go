// Package console is the hub's web pages: LA data teams check, send and
// follow their returns and collect their files (/la/), and operations run
// the morning after a night (/ops/). `cpis serve --http` serves it on the
// lookup API's listener and TLS rules (Wrap: the console's paths here,
// everything else to batch/access/httpapi, unchanged). People, passwords,
// codes and sessions are batch/accounts'; the work is the jobs' own code
// (ingest.Check, meshstore.MeshAPI's Deliver and Collect), never a copy.
//
// # Routes
//
//	GET  /login                 sign-in form (email, password, TOTP code)
//	POST /login                 sign in; 303 to /la/ or /ops/ (or next=)
//	GET  /setup/{token}         one-time set-up: QR code and key as text
//	POST /setup/{token}         choose password, prove authenticator; signed in, 303 home
//	GET  /logout                sign-out confirmation (works without JS)
//	POST /logout                sign out; 303 /login
//	GET  /assets/...            embedded NHS.UK frontend, app.js, app.css, images
//	GET  /la/                   LA home: what waits, what to collect
//	GET  /la/check              Check a return: upload form
//	POST /la/check              the dry run's decision: outcome, counts, rows
//	GET  /la/send               Send a return: upload form
//	POST /la/send               into the LA's inbox; 303 /la/returns?sent=<message ID>
//	GET  /la/returns            this LA's returns: waiting in the inbox, then taken, newest first
//	GET  /la/returns/{id}       one return taken: outcome, what to fix, rejected and warned rows
//	GET  /la/collect            this LA's outbox: download, mark collected
//	POST /la/collect            mark one file (form field file) collected; 303 /la/collect?collected=
//	GET  /la/files/{name}       download one outbox file (does not collect it)
//	     /ops/...               the operations pages (ops*.go): "Operations pages" below
//
// # Adding a page
//
// A page is a handler func(*Ctx) error registered with Server.handle
// (pattern, the role allowed, the handler) in laRoutes (la*.go) or
// opsRoutes (ops*.go), and a template templates/<name>.html that defines
// "content"; LA pages are named la_*, operations pages ops_*. The handler
// calls c.Render(name, title, section, data) (the <title>, and the
// navigation item marked current: navItem.Section of laNav or opsNav), or
// c.RenderStatus with a view carrying Errors (the error summary; each
// FieldError links to the field's id) and a Notice (a success banner).
// A POST ends with c.Redirect (303) to a GET page. Return ErrNotFound for
// anything the user may not see (another LA's: the answer is the same as
// for what does not exist), ErrForbidden or a *PageError for other
// refusals (a 403 or 404 a handler returns, the other role's 403 and a
// CSRF refusal are audited by the dispatcher, bounded: page.forbidden,
// page.not_found, csrf.refused; batch/accounts' AuditBounded); any other
// error is logged and shown as a 500 page. Audit every
// action with c.Audit(action, detail): detail names files and message IDs,
// never a password, token, secret or a record's content.
//
// Templates get a view: .Title, .User, .CSRF, .Errors, .Notice, .Data
// (the page's own). Partials (templates/partials.html): "csrf" (the hidden
// token; the FIRST field of every form), "errorSummary", "textInput" and
// "fileUpload" given (field $ id label hint type autocomplete value),
// "fieldError", "rowTable" (rejected and warned rows). Functions: london
// (an instant, London time), date (a caldate.Date), bytes, pngData,
// sentence (an outcome's text without its counts), capital, field,
// navFor, homeOf.
//
// # Sessions and forms
//
// The session cookie (cpis_session: the accounts' session token) is
// HttpOnly, SameSite=Strict, Path=/, without a Domain, and over TLS
// Secure and named __Host-cpis_session (the prefix makes browsers refuse
// it from another host or without Secure). A request without a live
// session (none, logged out, idle longer than the accounts' idle timeout,
// or older than their absolute lifetime of 12 hours) is sent to /login (303; a GET keeps its
// page as next=, and an expired one is told why). A user of the other
// role gets 403.
//
// Every request but GET and HEAD behind the login must carry the
// session's CSRF token in the form field csrf, else 403 before the
// handler runs. Multipart forms stream: csrf must be their first field,
// checked before any file byte is read; the handler reads the file from
// c.Multipart (Ctx.nextUpload), never through ParseMultipartForm, so
// memory stays bounded whatever the upload. The login and set-up forms,
// before any session, carry a pre-session token: an HMAC, under a key of
// the process, of a random value in the cpis_pre cookie (HttpOnly,
// SameSite=Strict).
//
// Every response carries a Content-Security-Policy with no other origin
// (CSP), nosniff, DENY framing, no referrer, and HSTS under TLS. Pages are
// Cache-Control: no-store.
//
// # Look and feel
//
// The NHS.UK frontend (npm nhsuk-frontend, MIT; version in
// assets/nhsuk/VERSION, licence in assets/nhsuk/LICENSE) is vendored by
// assets/refresh.sh: its compiled CSS and JavaScript and the images its
// CSS uses, embedded in the binary. Its CSS loads the Frutiger font from
// assets.nhs.uk: the script removes those @font-face rules and uses a
// system font stack, so that no request leaves the hub. Pages follow the
// service manual's patterns (header, error summary, tables, file upload,
// summary list, notification banner) and work without JavaScript;
// assets/app.js only starts the frontend's enhancements.
//
// # Stable ids for browser tests
//
// Every page: h1#page-heading, #error-summary (when errors), #notice and
// #notice-text (success banner), header #account-user and button
// #sign-out, navigation links #nav-<id> (LA: home, check, send, returns,
// collect). Login: form#login-form, inputs #email #password #code, button
// #sign-in, #expired. Set-up: #setup-email, img#setup-qr, #setup-secret,
// form#setup-form, inputs #password #confirm #code, button #setup-submit.
// Sign out: #sign-out-confirm. Error pages: #error-message. LA home:
// #home-check, #home-send, #home-returns, #home-collect, #home-waiting,
// #home-to-collect. Check: form#check-form, input#file, button
// #check-submit; result: #result-heading, #result-code, #result-text,
// #result-fix, #result-waits, #result-read, #result-applied,
// #result-rejected, #result-warnings, #result-withdrawn, table
// #result-rows with one tr#row-<line> per row (cells: line, code and
// detail code, detail, what to fix), #result-no-rows, #result-truncated,
// link #result-send (or, for a file the ingest would refuse,
// #result-refused instead). Send: form#send-form, input#file, button
// #send-submit. Returns: table#returns-table, one tr#return-<message ID>
// per return (its file name links to its page once taken), #returns-more,
// #returns-none. A return's page: #return-id, #return-taken,
// #return-status, #return-code, #return-text, #return-counts,
// #return-fix, #return-response, link #return-download, #back-returns,
// and the rows as on Check (#result-rows, tr#row-<line>). Collect:
// table#collect-table, rows tr#file-<i> (oldest first) with link
// #download-<i> and button #collect-<i>, #collect-none.
//
// # Operations pages
//
// For operations users only (an LA user gets 403, as on every page of the
// other role). The data is batch/overview's, which reads what the
// commands read (`cpis jobs`, `cpis returns list`, the operations report).
//
//	GET  /ops/                  last night: what waits (held, undelivered, quiet, latest report), each job, each LA's returns taken
//	GET  /ops/held              held FULL returns, then the other unfinished returns (cpis returns list)
//	GET  /ops/held/{id}         one held return: what it would withdraw; the release or discard form
//	POST /ops/held/{id}         action=release|discard, reason (required); 303 /ops/held?done=released|discarded&id=
//	GET  /ops/undelivered       outbox messages not collected within 5 days
//	GET  /ops/quiet             LAs with no return taken for 7 days
//	GET  /ops/reports           the latest 14 nightly report workbooks
//	GET  /ops/reports/{name}    download one (report-YYYYMMDD.xlsx only; audited)
//	GET  /ops/users             web accounts (adding and removing them: cpis users)
//
// Releasing and discarding call ingest.Release and ingest.Discard, the
// functions of `cpis returns release|discard`, holding the daemon's job
// lock (Options.Jobs) as that command does inside the daemon, so neither
// runs beside a scheduled job. A page waits at most 10 seconds for the
// lock, then says which job runs and that nothing was done (409). The
// action and its reason are audited before anything is done
// (return.release, return.discard: la=, message=, file=, reason= quoted),
// and the outcome after (return.released, return.discarded: outcome=,
// the counts, response=), or return.release.busy / .failed. A return no
// longer held is 404 (its page, and the form posted again). An empty or
// blank reason, or no action chosen, shows the form again with its error
// summary (400, as the Check page's errors) and does nothing; a reason is
// at most 500 characters.
//
// Stable ids: navigation #nav-home (Last night), #nav-held, #nav-undelivered,
// #nav-quiet, #nav-reports, #nav-users. Last night: #glance-held,
// #glance-held-count, #glance-undelivered, #glance-undelivered-count,
// #glance-quiet, #glance-quiet-count, #glance-reports, #glance-latest;
// table#jobs-table with tr#job-<job> (pull, ingest, expire, notify,
// report, push) and its tag #job-<job>-status (OK, Failed, Skipped, Did
// not run); table#la-returns-table with tr#la-return-<message ID>,
// #returns-none, #returns-silent. Held returns: table#held-table with
// tr#held-<message ID> and its link #review-<message ID>, #held-none,
// table#others-table with tr#other-<file>, #others-none; after a release
// or discard, #notice-text. A held return: #back, #held-la, #held-file,
// #held-id, #held-extract, #held-taken, #held-withdrawn, #held-behind
// (the DELTA returns waiting behind it), form
// #decision-form with radios #action-release and #action-discard
// (name action), textarea #reason, button #confirm; its errors link to
// #action-release and #reason. Undelivered: table#undelivered-table,
// tr#undelivered-<file>, #undelivered-none. Quiet LAs: table#quiet-table,
// tr#quiet-<LA code>, #quiet-none. Reports: table#reports-table,
// tr#report-<YYYYMMDD>, link #download-<YYYYMMDD>, #reports-none. Users:
// table#users-table, tr#user-<email>, #users-none.
//
// So, operations release a held return: #nav-held, #review-<message ID>,
// #action-release, type in #reason, #confirm; then #notice-text names
// the message ID and tr#held-<message ID> is gone.
//
// Choices for the operations pages: "last night", "quiet" and
// "undelivered" are batch/overview's (its package doc). Accounts are
// listed, with whether each set-up link is still valid, not added, reset
// or removed on the page: a set-up link is a credential until used, and
// `cpis users add|reset` prints it once to whoever runs it on the hub's
// host. The reports page offers the nightly
// workbooks in <data>/reports; another period, or CSV files, come from
// `cpis report --since DATE --csv DIR`.
//
// # Choices the spec leaves open
//
//   - Send refuses a file whose name is not a return of the user's LA
//     (returns.ParseName, same LA): the officer learns it at once instead
//     of from a file rejection the next morning. The inbox name, control
//     file and message ID are a MESH upload's (MeshAPI.Deliver). A name
//     already waiting in the inbox is refused (409), as over SFTP, and so
//     is a name sharing the control file of one waiting (the same return
//     in another format: .csv and .xlsx pair with one .ctl); the page
//     names the file that waits, from the inbox's refusal.
//   - Check takes any name the inbox would take and shows the ingest's
//     decision, a bad name included. It lists at most 5,000 rows. Two
//     checks run at once; more wait their turn (the hub's few cores also
//     answer lookups). Its temporary copy of the upload (at most the size
//     limit per check running) is under the data dir, tmp/check, on the
//     data dir's disk; the console empties that folder when it starts.
//     A file the ingest would refuse as a whole (CPF01, or CPF04 but for
//     the safety hold F009) is said to be refused and is not offered for
//     sending; the Send page still takes it, as SFTP and
//     MESH would (its response then says the same).
//   - Returns lists what waits in the inbox, then the newest 200 returns
//     taken; each taken one has its page with its rows (kept 90 days).
//   - Marking a file collected is MeshAPI.Collect: the collection and a
//     MESH acknowledgement recorded (store.CollectedByWeb), then the files
//     leave the outbox, as over MESH. Downloading alone does not collect.
//   - A response is downloadable from Returns while it is in the outbox;
//     once collected the page says so (SFTP deletes it; the archive keeps
//     only what aged out uncollected).
//   - The upload size limit is the ingest's (--size-limit); over it, Send
//     refuses (413), and Check shows the ingest's own F006 up to 1 MiB
//     past the limit, a 413 beyond (the request is cut off). An upload lifts
//     the server's 30-second read and write timeouts for its own request
//     to 30 minutes.
//   - "/" is not the console's: it stays the lookup API's JSON 404.
package console
