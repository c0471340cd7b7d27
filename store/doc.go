// Package store keeps everything the hub knows in one bbolt file
// (<data dir>/cpis.db): local authorities, the demographics reference, the
// plans, every message taken from a mailbox with its state and row outcomes,
// per-LA progress, and an audit of every change.
//
// # Transactions
//
// A return is applied in one write transaction: its plan changes, its row
// outcomes, its message state, the LA's last applied extract date and the
// audit entry commit together or not at all. bbolt allows one writer at a
// time and one process per file; Open uses a timeout so that a second
// process fails fast with ErrLocked instead of hanging.
//
// # Buckets and keys
//
// All keys are byte strings chosen so that bbolt's byte order is the order
// people want. Sequence numbers are 8-byte big-endian so they sort.
//
//	meta            the schema record: "schema" -> "2"; "created" -> RFC 3339
//	                UTC; "authorities" -> JSON array of the LA codes held, in
//	                order (kept by PutAuthority). Also
//	                "demographics_imported" -> RFC 3339 UTC
//	authorities     la code (3 ASCII digits) -> JSON Authority
//	demographics    NHS number (10 ASCII digits) -> demographics record (binary)
//	plans           NHS(10) + LA(3) + plan type ("CPP", "LAC", "UCPP") -> plan
//	                record (binary)
//	plans_by_la     LA(3) + NHS(10) + plan type -> empty (index of plans; pages
//	                split 90% full, as an LA's entries arrive in key order)
//	messages        LA(3) + seq(8, big-endian) -> JSON Message
//	message_ids     LA(3) + message ID -> messages key of the first message
//	                taken with that ID (repeat check)
//	message_files   LA(3) + SHA-256 hex(64) + file name -> messages key (repeat
//	                check on same name and same decompressed content)
//	open_messages   messages key -> empty: messages whose lifecycle is not
//	                finished (taken, archived, decided with a response still to
//	                write, held, waiting for demographics)
//	outcomes        messages key(11) + line seq(4, big-endian) -> row outcome
//	                record (binary); kept 90 days after the message was
//	                taken (Purge); pages split full (keys grow)
//	la_state        LA(3) -> JSON LAState (last applied extract date, ...)
//	audit           seq(8, big-endian) -> JSON AuditEvent: counts and message
//	                IDs, never personal data
//
// Buckets are declared by the file that owns them (bucket in store.go).
// The plans bucket is keyed by NHS number, so one LA's plans lie all over
// it: ingest groups returns into shared commits (batch/ingest's applier)
// and writes only changed plans. The demographics reference is written in
// key order (bbolt splits pages only when a transaction commits).
//
//	orgs            ODS code -> JSON Org (API token kept as its SHA-256 only)
//	org_tokens      token SHA-256 hex -> ODS code (live tokens only)
//	history         NHS(10) + access time(8, big-endian Unix ns) + seq(8) ->
//	                JSON HistoryEntry; at most 25 per person
//	owed_notifications  London day "YYYYMMDD" + LA(3) + access time(8) +
//	                seq(8) -> JSON Notification, until the day's file is written
//	notified_days   "YYYYMMDD" + LA(3) -> JSON DayFile (decided, then written)
//	lookup_audit    time(8, big-endian Unix ns) + seq(8) -> JSON LookupAudit;
//	                kept two years
//	demographics_prior  successor NHS(10) + superseded NHS(10) -> empty:
//	                the reverse of superseded_by, replaced with the reference
//	inactive_sent   plan key + 0x00 + reason -> 1: inactive findings sent
//	inactive_pending  LA(3) + message ID -> JSON InactiveFile not yet written
//	job_runs        seq(8, big-endian) -> JSON JobRun; the newest 1000
//	sftp_keys       SHA-256 key fingerprint ("SHA256:...", ssh.FingerprintSHA256)
//	                -> JSON Key: the LA and mailbox an SFTP public key opens
//	                (one LA per key)
//	sftp_audit      seq(8, big-endian) -> JSON SFTPEvent: SFTP logins,
//	                uploads, downloads, deletes, renames, refusals, logouts;
//	                paths as the client named them, never file content;
//	                kept SFTPAuditRetention (90 days, PurgeSFTPAudit)
//	remotes         LA(3) -> JSON Remote: the LA's mailbox on another SFTP server
//	remote_pulled   LA(3) + remote path + NUL + size(8) + mtime(8, Unix ns) + SHA-256(32) -> JSON PulledFile
//	remote_pushed   LA(3) + outbox file name -> JSON PushedFile (latest delivery of that name)
//	collections     LA(3) + time(8, Unix ns, big-endian) + file name -> JSON Collection
//	mesh_conn       "conn" -> JSON MeshConn: the hub's own mailbox at a real MESH
//	                (`cpis mesh connect`; the paths of the password, shared-key
//	                and TLS files, never the secrets); "handshake" -> RFC 3339
//	                UTC time of the last successful handshake
//	mesh_client_pulled  MESH message ID -> JSON MeshPulled: a message the pull
//	                job took from the hub's MESH inbox (putting, put, unrouted)
//	mesh_client_pushed  LA(3) + the hub's message ID -> JSON MeshPushed: an
//	                outbox message sent over MESH (started with MESH's message
//	                ID, then sent)
//	mesh_creds      "shared_key" -> the MESH API's shared key (64 hex characters)
//	mesh_passwords  mailbox ID -> the mailbox's MESH password, as set
//	mesh_mailboxes  mailbox ID -> JSON MeshMailbox: when the password was set,
//	                the last handshake and the client reported (no password)
//	mesh_acks       mailbox ID + NUL + message ID -> acknowledgement time (JSON)
//	mesh_audit      time(8, big-endian Unix ns) + seq(8) -> JSON MeshEvent:
//	                MESH API requests and refusals; kept 90 days
//	web_users       email (lower case) -> JSON WebUser: role, LA, argon2id
//	                password hash, TOTP secret and last step used, the
//	                SHA-256 of the set-up token until it is used
//	web_sessions    SHA-256 hex of the session token -> JSON WebSession
//	                (whose, last seen, expiry); expired ones purged on use
//	                and by expire
//	web_throttle    "account:" + email or "addr:" + host -> JSON WebThrottle:
//	                recent login failures and the lock they caused
//	web_audit       time(8, big-endian Unix ns) + seq(8) -> JSON WebEvent:
//	                logins, failures, throttles, set-ups, logouts, user
//	                changes and page actions; kept 90 days
//
// # MESH credentials
//
// The MESH API's token is an HMAC over the mailbox's password, so the hub
// needs each password itself, not a hash of it: passwords are kept as set,
// in their own bucket, in the store file, which is the owner's only (0600)
// like everything else in it. Encrypting them would need a key kept
// beside them, which protects nothing. They are read only to check tokens
// and never appear in logs, the audit or any command's output; `cpis mesh
// password` prints a new random one once. The shared key is made by `cpis
// init` (a store made before gets one from `cpis mesh key` or `cpis serve
// --mesh`). Every commit that changes the key or a password moves
// MeshCredentialsGeneration, so the daemon's in-memory copy reloads.
//
// The plan's visibility is not stored: it depends on the demographics date
// of birth (the 18th-birthday rule) and is computed where needed.
//
// # Records
//
// The records of which there is one or more per row of a return or of the
// demographics reference (plans, demographics records, row outcomes) are
// kept in a compact binary form, written and read by hand (records.go);
// the other records are JSON. Each binary value begins with its version
// byte, 0x01; a JSON value begins with '{'. Numbers are varints
// (encoding/binary), dates are day numbers (caldate.Date.DayNumber: 1 is
// 0001-01-01), strings are a uvarint length then the bytes as given.
//
//	plan            0x01, flags (1 start, 2 end, 4 due date present), start
//	                (uvarint day number), end and due (signed varint: days
//	                from the start), local ID
//	demographics    0x01, flags (1 date of birth, 2 date of death, 4
//	                sensitive, 8 superseded), date of birth (uvarint day
//	                number), date of death (signed varint: days from the date
//	                of birth), family name, given name, then the successor's
//	                NHS number when superseded
//	row outcome     0x01, line (signed varint), local ID, NHS number as sent,
//	                code, detail code, detail text
//
// A value that is cut short, holds a length or number beyond it, a date
// outside 0001-01-01 to 9999-12-31, a flag not listed or bytes after the
// record does not decode: readers return a RecordError naming the bucket
// and the key (never the record), and Check reports it. That holds for the
// demographics reference too (Tx.Demographic, Tx.DateOfBirth): a damaged
// reference record is refused, never read as an unknown number, so ingest
// fails that LA's run before deciding the return, and expire, report,
// inactive and lookups fail rather than answer from it.
//
// The record format of a store follows from its schema version: schema
// "1" for a store made before the binary records (JSON values, with short
// keys: plan {"s","e","d","l"}, demographics {"f","g","b","s","x","d"},
// row outcome as RowOutcome's JSON), schema "2" for the binary records.
// Readers accept a JSON value in either. Open migrates a store of schema
// "1" once: every JSON plan, demographics and row outcome value is
// rewritten in binary form and the schema raised to "2", all in one write
// transaction,
// so a crash leaves the store whole in one format or the other and the
// next Open starts again. A value that does not decode is left as it was
// for Check to report. The store file does not shrink (bbolt keeps the
// freed pages for later writes; a backup copy is no smaller either). A
// cpis made before the binary records reads only schema "1", so it
// refuses a migrated store (ErrSchema) rather than misread it: going back
// means restoring a backup made before the upgrade.
//
// # Schema version
//
// meta/schema is "2". A store of schema "1" is migrated on open (above);
// any other version is refused with ErrSchema. Migrations run in Open
// inside one write transaction, which raises the version last. Both
// schemas have the same buckets and keys.
//
// # A wrong store is refused, never served
//
// Only Open with Options.Create makes a store, and only where no file is:
// the bbolt file, every bucket, the schema record (schema, created, the
// authorities; Options.Setup writes the authorities themselves in the same
// transaction) are built under a temporary name in the data dir and
// linked into place whole, so a store file never exists without its
// schema record. `cpis init` (batch/datadir) is what calls it.
//
// Open refuses with ErrDamaged, and writes nothing to the file, a store
// file that is not a whole store of this hub:
//   - empty (bbolt would silently make it a new empty store, and every
//     lookup would then answer "no alert");
//   - not a regular file, not a bbolt file, or of another bbolt format;
//   - either meta page with a wrong magic, version or checksum, or the two
//     disagreeing on the page size;
//   - a size that is not a whole number of pages, or smaller than a meta
//     page's high-water mark (pgid x page size): truncated, where bbolt
//     would die of SIGBUS reading a mapped page beyond the end;
//   - without the schema record (no meta bucket, no schema or created
//     key), or missing an authority the record names (an authorities
//     bucket emptied).
//
// The file is checked (filecheck.go) before bbolt maps it, under a shared
// flock so that a writer committing in another process is never mistaken
// for damage. Requiring both meta pages to be valid is stricter than
// bbolt, which falls back to the other one: a meta page torn by a power
// cut is then refused too, and the operator restores a backup. A store of
// schema 1 made before the record named the authorities is given the list
// from the authorities held, the one write Open makes beyond new buckets;
// opening a whole store otherwise writes nothing.
//
// `cpis init --force` on a damaged store refuses too (the store is not
// replaced, nothing is imported): the operator restores a backup, or
// moves the file aside and runs init again to make a new hub.
//
// # Check and Backup
//
// Check verifies a store in one read transaction: bbolt's page check
// (confirmed in a write transaction when it finds anything, since a read
// transaction's view of the freelist moves with later commits) and these
// invariants: the schema record names exactly the authorities held, each
// stored under its own code; every plan key is NHS(10, valid) + LA(3) +
// type (CPP, LAC, UCPP), its LA among the authorities, its plans_by_la
// entry present, and every plans_by_la entry names a plan; every message
// is under LA(3) + seq(8) of its own LA, that LA an authority, in a
// lifecycle state (taken, archived, waiting, held, decided, responded),
// with message_ids and message_files entries naming it or an earlier
// message with the same ID / file and content, and in open_messages
// exactly while its lifecycle is unfinished; every message_ids,
// message_files and open_messages entry names a message that matches it;
// every outcomes key is a messages key + line(4) of an existing message
// (messages are never deleted, only their outcomes purged); every plan,
// row outcome and demographics record decodes ("Records"); every web user
// is kept under its own email, "la" with an LA held or "ops" with none,
// enrolled only with a password hash and an authenticator key; every web
// session is a user's.
//
// Backup writes the store as of one read transaction (bbolt's WriteTo)
// to a temporary file beside the target, syncs and checks it, then names
// it and syncs the folder; writers go on meanwhile.
package store
