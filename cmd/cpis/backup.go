package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"cpis/store"
)

func newBackupCommand(g *globals) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "backup FILE",
		Short: "Write a consistent copy of the store to FILE",
		Long: `Write a copy of the store (cpis.db in --data) to FILE, as of one moment,
while the daemon goes on working (it runs inside it): the copy is written
to a temporary file beside FILE, synced to disk, checked to be a whole
store file, and only then named FILE. An existing FILE is refused unless
--force replaces it. The copy holds personal data: it is made readable by
its owner only; keep it as safe as the data directory.

To restore: stop the daemon; put the copy as cpis.db in a folder of its
own and run 'cpis --data FOLDER check' (exit 0); move the damaged cpis.db
aside and the checked copy into its place as cpis.db; start the daemon.

Exit codes: 0 written, 1 failure (FILE exists, or could not be written), 2 usage.
Example:
  cpis --data /srv/cpis backup /backup/cpis-2026-11-22.db`,
		Args:        cobra.ExactArgs(1),
		Annotations: map[string]string{annPathArgs: "true"},
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.withStore(func(db *store.DB) error {
				n, err := db.Backup(args[0], force)
				if errors.Is(err, os.ErrExist) {
					return fmt.Errorf("%s already exists: give --force to replace it", args[0])
				}
				if err != nil {
					return err
				}
				fmt.Fprintf(g.stdout, "Backed up %s in %s to %s (%d bytes).\n", store.FileName, g.data, args[0], n)
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "replace FILE when it exists")
	return cmd
}
