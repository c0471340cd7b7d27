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
//	POST /setup/{token}         choose password, prove authenticator; 303 /login?setup=done
//	GET  /logout                sign-out confirmation (works without JS)
//	POST /logout                sign out; 303 /login
//	GET  /assets/...            embedded NHS.UK frontend, app.js, app.css, images
//	GET  /la/                   LA home: what waits, what to collect
//	GET  /la/check              Check a return: upload form
//	POST /la/check              the dry run's decision: outcome, counts, rows
//	GET  /la/send               Send a return: upload form
//	POST /la/send               into the LA's inbox; 303 /la/returns?sent=<message ID>
//	GET  /la/returns            this LA's returns: waiting in the inbox, then taken, newest first
//	GET  /la/collect            this LA's outbox: download, mark collected
//	POST /la/collect            mark one file (form field file) collected; 303 /la/collect?collected=
//	GET  /la/files/{name}       download one outbox file (does not collect it)
//	     /ops/...               the operations pages (ops*.go)
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
// refusals; any other error is logged and shown as a 500 page. Audit every
// action with c.Audit(action, detail): detail names files and message IDs,
// never a password, token, secret or a record's content.
//
// Templates get a view: .Title, .User, .CSRF, .Errors, .Notice, .Data
// (the page's own). Partials (templates/partials.html): "csrf" (the hidden
// token; the FIRST field of every form), "errorSummary", "textInput" and
// "fileUpload" given (field $ id label hint type autocomplete value),
// "fieldError". Functions: london (an instant, London time), date (a
// caldate.Date), bytes, pngData, field, navFor, homeOf.
//
// # Sessions and forms
//
// The session cookie (cpis_session: the accounts' session token) is
// HttpOnly, SameSite=Strict, Path=/ and Secure when the request came over
// TLS. A request without a live session (none, logged out, idle longer
// than the accounts' idle timeout) is sent to /login (303; a GET keeps its
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
// link #result-send. Send: form#send-form, input#file, button
// #send-submit. Returns: table#returns-table, one tr#return-<message ID>
// per return, #returns-none. Collect: table#collect-table, rows
// tr#file-<i> (oldest first) with link #download-<i> and button
// #collect-<i>, #collect-none.
//
// # Choices the spec leaves open
//
//   - Send refuses a file whose name is not a return of the user's LA
//     (returns.ParseName, same LA): the officer learns it at once instead
//     of from a file rejection the next morning. The inbox name, control
//     file and message ID are a MESH upload's (MeshAPI.Deliver). A name
//     already waiting in the inbox is refused (409), as over SFTP.
//   - Check takes any name the inbox would take and shows the ingest's
//     decision, a bad name included. It lists at most 5,000 rows.
//   - Marking a file collected is MeshAPI.Collect: the collection and a
//     MESH acknowledgement recorded (store.CollectedByWeb), then the files
//     leave the outbox, as over MESH. Downloading alone does not collect.
//   - A response is downloadable from Returns while it is in the outbox;
//     once collected the page says so (SFTP deletes it; the archive keeps
//     only what aged out uncollected).
//   - The upload size limit is the ingest's (--size-limit); over it, Send
//     refuses (413) and Check shows the ingest's own F006. An upload lifts
//     the server's 30-second read and write timeouts for its own request
//     to 30 minutes.
//   - "/" is not the console's: it stays the lookup API's JSON 404.
package console
